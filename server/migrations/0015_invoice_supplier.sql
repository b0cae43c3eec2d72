-- The supplier's details as at the issue, kept with each invoice (CGST Rule 46(a)): a
-- reprint shows the name, address, GSTIN and state the invoice was issued under, even after
-- the clinic changes them. Invoices issued before this migration keep NULLs and print with
-- the clinic's current details (the migration, run as the owner, cannot read invoices under
-- forced RLS to fill them, by design).
ALTER TABLE vaidya.invoices
    -- As long as the clinic's own (unbounded there): a copy never refuses an invoice.
    ADD COLUMN supplier_name    text,
    ADD COLUMN supplier_address text,
    ADD COLUMN supplier_gstin   text CHECK (supplier_gstin ~ '^[0-9]{2}[A-Z0-9]{13}$'),
    ADD COLUMN supplier_state   text CHECK (supplier_state ~ '^[0-9]{2}$');
