-- An invoice line's tax treatment and unit (issue 14, items 1 and 6): GSTR-1 reports exempt,
-- nil-rated and non-GST supplies apart (table 8), and goods by their unit quantity code
-- (table 12). Lines issued before keep NULL and are read by their rate and code
-- (`InvoiceLine::treatment`, `InvoiceLine::unit`).
ALTER TABLE vaidya.invoice_lines
    ADD COLUMN treatment text CHECK (treatment IN ('taxable', 'exempt', 'nil_rated', 'non_gst')),
    ADD COLUMN unit      text CHECK (unit ~ '^[A-Z]{2,3}$'),
    ADD CONSTRAINT invoice_lines_treatment_rate CHECK (
        treatment IS NULL OR (treatment = 'taxable') = (gst_rate_bp > 0));
