-- Corrections without deletion (issue 14, item 4). An issued invoice may be cancelled once:
-- it is kept with its number, marked with when (the act's own time, bounded like a note's
-- signing), by whom and why, and the server's receipt time beside it. It is never undone.
-- A refund is a new, negative payment; the shared rules (`payment_fits`,
-- `invoice_cancellable`) keep refunds within what was paid, take no payment on a cancelled
-- invoice, and cancel only an invoice with nothing paid on it.
ALTER TABLE vaidya.invoices
    ADD COLUMN cancelled_at       timestamptz,
    ADD COLUMN cancelled_by       uuid,
    ADD COLUMN cancel_reason      text CHECK (length(cancel_reason) BETWEEN 1 AND 1000),
    ADD COLUMN cancel_recorded_at timestamptz,
    ADD CONSTRAINT invoices_cancellation_whole CHECK (
        (cancelled_at IS NULL) = (cancelled_by IS NULL)
        AND (cancelled_at IS NULL) = (cancel_reason IS NULL)
        AND (cancelled_at IS NULL) = (cancel_recorded_at IS NULL)),
    ADD CONSTRAINT invoices_cancelled_by_member
        FOREIGN KEY (clinic_id, cancelled_by) REFERENCES vaidya.memberships (clinic_id, user_id);

ALTER TABLE vaidya.payments DROP CONSTRAINT payments_amount_paise_check;
ALTER TABLE vaidya.payments ADD CONSTRAINT payments_amount_paise_check CHECK (amount_paise <> 0);

-- Signed and issued rows stay immutable (a "touch" of the change stamp aside); an issued
-- invoice changes once more, when it is cancelled, and only in its cancellation columns.
CREATE OR REPLACE FUNCTION vaidya.refuse_change_after_signing() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    stamp constant text[] := '{version,change_xid,change_seq,updated_at}';
    cancellation constant text[] := '{cancelled_at,cancelled_by,cancel_reason,cancel_recorded_at}';
BEGIN
    -- Nested, not AND: OLD.signed_at does not exist on the other tables.
    IF TG_TABLE_NAME = 'encounters' THEN
        IF OLD.signed_at IS NULL THEN
            RETURN NEW;
        END IF;
    END IF;
    IF (to_jsonb(NEW) - stamp) = (to_jsonb(OLD) - stamp) THEN
        RETURN NEW;
    END IF;
    IF TG_TABLE_NAME = 'invoices' THEN
        IF to_jsonb(OLD) ->> 'cancelled_at' IS NULL
           AND to_jsonb(NEW) ->> 'cancelled_at' IS NOT NULL
           AND (to_jsonb(NEW) - stamp - cancellation) = (to_jsonb(OLD) - stamp - cancellation) THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION '% rows are immutable once signed; add an addendum instead', TG_TABLE_NAME
        USING ERRCODE = 'VD001';
END
$$;
