-- A business customer billed with its GSTIN (B2B, e.g. a company's health check-ups): its
-- GSTIN and legal name are printed on the invoice (CGST Rule 46(e)) and reported in
-- GSTR-1's B2B table. Both or neither; the GSTIN's check character is checked by the shared
-- rules before it gets here (`gst::check_gstin`).
ALTER TABLE vaidya.invoices
    ADD COLUMN recipient_gstin text
        CHECK (recipient_gstin ~ '^[0-9]{2}[A-Z]{5}[0-9]{4}[A-Z][1-9A-Z]Z[0-9A-Z]$'),
    ADD COLUMN recipient_name  text CHECK (length(recipient_name) BETWEEN 1 AND 200),
    ADD CONSTRAINT invoices_recipient_whole
        CHECK ((recipient_gstin IS NULL) = (recipient_name IS NULL));
