-- Credit notes (issue 14, item 4; CGST Act s. 34, Rule 53(1A)). A credit note gives back
-- part or all of an issued invoice's lines (taxable value and the tax on it at each line's
-- rate). It is a child of its invoice, like a payment: stored once, never changed, never
-- deleted, and it moves the invoice's change stamp so devices pull the invoice again.
-- Numbered per financial year: the server's main series (`2526-CN`) or a PC's own
-- (`2526-C3`, the PC whose invoice series code is `D3`; `numbering`).
CREATE TABLE vaidya.credit_notes (
    id             uuid NOT NULL,
    clinic_id      uuid NOT NULL REFERENCES vaidya.clinics (id),
    invoice_id     uuid NOT NULL,
    series         text NOT NULL CHECK (series ~ '^[0-9]{4}-C(N|[1-9][0-9]{0,2})$'),
    number         bigint NOT NULL CHECK (number > 0),
    issued_at      timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    issued_by      uuid NOT NULL,
    reason         text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
    taxable_paise  bigint NOT NULL CHECK (taxable_paise > 0),
    cgst_paise     bigint NOT NULL CHECK (cgst_paise >= 0),
    sgst_paise     bigint NOT NULL CHECK (sgst_paise >= 0),
    igst_paise     bigint NOT NULL CHECK (igst_paise >= 0),
    total_paise    bigint NOT NULL CHECK (total_paise = taxable_paise + cgst_paise + sgst_paise + igst_paise),
    version        bigint NOT NULL,
    change_xid     xid8 NOT NULL,
    change_seq     bigint NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    deleted_at     timestamptz,
    PRIMARY KEY (clinic_id, id),
    UNIQUE (clinic_id, series, number),
    FOREIGN KEY (clinic_id, invoice_id) REFERENCES vaidya.invoices (clinic_id, id),
    FOREIGN KEY (clinic_id, issued_by) REFERENCES vaidya.memberships (clinic_id, user_id)
);
CREATE INDEX credit_notes_invoice ON vaidya.credit_notes (clinic_id, invoice_id);

CREATE TABLE vaidya.credit_note_lines (
    id               uuid NOT NULL,
    clinic_id        uuid NOT NULL REFERENCES vaidya.clinics (id),
    credit_note_id   uuid NOT NULL,
    invoice_line_id  uuid NOT NULL,
    position         integer NOT NULL,
    gst_rate_bp      integer NOT NULL,
    taxable_paise    bigint NOT NULL CHECK (taxable_paise > 0),
    cgst_paise       bigint NOT NULL CHECK (cgst_paise >= 0),
    sgst_paise       bigint NOT NULL CHECK (sgst_paise >= 0),
    igst_paise       bigint NOT NULL CHECK (igst_paise >= 0),
    total_paise      bigint NOT NULL CHECK (total_paise = taxable_paise + cgst_paise + sgst_paise + igst_paise),
    version          bigint NOT NULL,
    change_xid       xid8 NOT NULL,
    change_seq       bigint NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    deleted_at       timestamptz,
    PRIMARY KEY (clinic_id, id),
    UNIQUE (clinic_id, credit_note_id, invoice_line_id),
    FOREIGN KEY (clinic_id, credit_note_id) REFERENCES vaidya.credit_notes (clinic_id, id),
    FOREIGN KEY (clinic_id, invoice_line_id) REFERENCES vaidya.invoice_lines (clinic_id, id)
);
CREATE INDEX credit_note_lines_note ON vaidya.credit_note_lines (clinic_id, credit_note_id);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['credit_notes', 'credit_note_lines'] LOOP
        EXECUTE format('CREATE TRIGGER stamp_change BEFORE INSERT OR UPDATE ON vaidya.%I
                        FOR EACH ROW EXECUTE FUNCTION vaidya.stamp_change()', t);
        EXECUTE format('CREATE TRIGGER immutable_after_signing BEFORE UPDATE ON vaidya.%I
                        FOR EACH ROW EXECUTE FUNCTION vaidya.refuse_change_after_signing()', t);
        EXECUTE format('CREATE TRIGGER touch_parent AFTER INSERT OR UPDATE ON vaidya.%I
                        FOR EACH ROW EXECUTE FUNCTION vaidya.touch_parent()', t);
    END LOOP;
END
$$;

-- A credit note's lines move the note; the note moves its invoice.
CREATE OR REPLACE FUNCTION vaidya.touch_parent() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    CASE TG_TABLE_NAME
        WHEN 'encounter_addenda' THEN
            UPDATE vaidya.encounters SET updated_at = now() WHERE clinic_id = NEW.clinic_id AND id = NEW.encounter_id;
        WHEN 'prescription_items' THEN
            UPDATE vaidya.prescriptions SET updated_at = now() WHERE clinic_id = NEW.clinic_id AND id = NEW.prescription_id;
        WHEN 'invoice_lines' THEN
            UPDATE vaidya.invoices SET updated_at = now() WHERE clinic_id = NEW.clinic_id AND id = NEW.invoice_id;
        WHEN 'payments' THEN
            UPDATE vaidya.invoices SET updated_at = now() WHERE clinic_id = NEW.clinic_id AND id = NEW.invoice_id;
        WHEN 'credit_notes' THEN
            UPDATE vaidya.invoices SET updated_at = now() WHERE clinic_id = NEW.clinic_id AND id = NEW.invoice_id;
        WHEN 'credit_note_lines' THEN
            NULL; -- written with its note, in the same statement's transaction
    END CASE;
    RETURN NULL;
END
$$;

SELECT vaidya.register_tenant_table('credit_notes',      '{admin,doctor,front_desk}', '{admin,doctor,front_desk}', '{admin,doctor,front_desk}');
SELECT vaidya.register_tenant_table('credit_note_lines', '{admin,doctor,front_desk}', '{admin,doctor,front_desk}', '{admin,doctor,front_desk}');
