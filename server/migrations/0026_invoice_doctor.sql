-- The doctor whose care an invoice bills (issue 14, items 6 and 7): named with their
-- registration on the receipt, and the key of the collections per doctor. A doctor of the
-- clinic (checked by the server when it takes the invoice); NULL when none was named.
ALTER TABLE vaidya.invoices
    ADD COLUMN doctor_id uuid,
    ADD CONSTRAINT invoices_doctor_member
        FOREIGN KEY (clinic_id, doctor_id) REFERENCES vaidya.memberships (clinic_id, user_id);
