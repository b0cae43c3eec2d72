-- Device invoice numbers whose invoices never reached the books (the server refused the
-- invoice and a person discarded it on the device). Kept so a device series shows why a
-- number is missing: the accountant sees "cancelled", never a silent gap.

CREATE TABLE vaidya.cancelled_invoice_numbers (
    clinic_id    uuid NOT NULL REFERENCES vaidya.clinics (id),
    series       text NOT NULL CHECK (series ~ '^[A-Z0-9-]{1,16}$' AND series <> 'INV'),
    number       bigint NOT NULL CHECK (number > 0),
    invoice_id   uuid NOT NULL,
    reason       text CHECK (length(reason) <= 1000),
    -- On the device, never later than the server's clock.
    cancelled_at timestamptz NOT NULL,
    recorded_by  uuid NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (clinic_id, series, number),
    FOREIGN KEY (clinic_id, recorded_by) REFERENCES vaidya.memberships (clinic_id, user_id)
);

-- Roles from the permission table (Resource::Invoice): whoever may read and issue invoices.
SELECT vaidya.register_tenant_table('cancelled_invoice_numbers',
    '{admin,doctor,front_desk}', '{admin,doctor,front_desk}', '{admin,doctor,front_desk}');
