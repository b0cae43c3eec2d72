-- A doctor's medical registration as the clinic displays it (issue 14, item 7; NMC
-- Registered Medical Practitioner regulations: the registration number with the name on
-- prescriptions and receipts). Kept per membership: the clinic's admin records it for its
-- doctors, and it travels with the member list every PC keeps for offline use.
ALTER TABLE vaidya.memberships
    ADD COLUMN registration_number text CHECK (length(registration_number) BETWEEN 1 AND 100),
    ADD COLUMN qualifications      text CHECK (length(qualifications) <= 200);
