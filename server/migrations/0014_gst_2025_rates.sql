-- GST 2.0 (56th GST Council, in force from 22 September 2025): the 40 % rate joins the
-- rates an invoice line may hold. Which rates are allowed on a given issue date is the
-- shared rule's (`gst::rates_in_force`); the database keeps every rate any schedule had, so
-- an invoice issued before the change keeps its 12 % or 28 % line.
ALTER TABLE vaidya.invoice_lines
    DROP CONSTRAINT invoice_lines_gst_rate_bp_check,
    ADD CONSTRAINT invoice_lines_gst_rate_bp_check
        CHECK (gst_rate_bp IN (0, 10, 25, 300, 500, 1200, 1800, 2800, 4000));
