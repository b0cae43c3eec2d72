-- Invoice numbering per financial year (issue 14, item 3; CGST Rule 46(b)).
--
-- Each PC numbers its offline invoices in its own series of the year (`2526-D3`), so no
-- two PCs ever write into one series. The code (`D3`) is allocated here, once per file of
-- the clinic on a PC (`partition_id`, the file's random device id: a file made again after
-- a wipe gets a new code, since its counter starts again at 1), and bound to the device
-- that asked (the `x-vaidya-device` header, `app.device`). The server takes an invoice of a
-- device series only from the device its code was allocated to.
--
-- Any member may allocate: a doctor's or nurse's session may be the first to open the
-- clinic on a PC. An allocation is never changed or removed (no UPDATE, no DELETE).
CREATE TABLE vaidya.invoice_device_series (
    clinic_id     uuid NOT NULL REFERENCES vaidya.clinics (id),
    code          text NOT NULL CHECK (code ~ '^D[1-9][0-9]{0,2}$'),
    partition_id  text NOT NULL CHECK (partition_id ~ '^[0-9a-f]{32}$'),
    device        text NOT NULL CHECK (length(device) BETWEEN 1 AND 200),
    allocated_by  uuid NOT NULL,
    allocated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (clinic_id, code),
    UNIQUE (clinic_id, partition_id),
    FOREIGN KEY (clinic_id, allocated_by) REFERENCES vaidya.memberships (clinic_id, user_id)
);
SELECT vaidya.register_tenant_table('invoice_device_series',
    '{admin,doctor,nurse,front_desk}', '{admin,doctor,nurse,front_desk}', '{admin,doctor,nurse,front_desk}');
REVOKE UPDATE ON vaidya.invoice_device_series FROM vaidya_app;

-- Series of a year, and the main series of each year: same shape as before (the CHECK
-- already takes `2526-INV`); a device never cancels a number of a main series.
ALTER TABLE vaidya.cancelled_invoice_numbers
    ADD CONSTRAINT cancelled_invoice_numbers_not_main CHECK (series !~ '^[0-9]{4}-INV$');
