-- The key of each clinic file's clinical store on a PC (issue 9, item 3).
--
-- A clinic file on a shared PC is opened by every role. Clinical notes, addenda and
-- prescriptions are kept apart in a second SQLCipher file whose key only clinicians get:
-- this table hands it out, one random key per clinic file (`partition_id`, the file's
-- random device id), to the roles that may read those records. The desktop keeps it only
-- wrapped under a key derived from each clinician's own password, so a front-desk session
-- holding everything in the OS account's keyring still cannot open the clinical store.
--
-- The key is never changed or removed through the app (no UPDATE, no DELETE): a new file
-- (after a wipe) has a new device id and so gets a new key.
CREATE TABLE vaidya.clinical_store_keys (
    clinic_id     uuid NOT NULL REFERENCES vaidya.clinics (id),
    partition_id  text NOT NULL CHECK (partition_id ~ '^[0-9a-f]{32}$'),
    store_key     bytea NOT NULL CHECK (length(store_key) = 32),
    created_by    uuid NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (clinic_id, partition_id),
    FOREIGN KEY (clinic_id, created_by) REFERENCES vaidya.memberships (clinic_id, user_id)
);
SELECT vaidya.register_tenant_table('clinical_store_keys',
    '{doctor,nurse}', '{doctor,nurse}', '{doctor,nurse}');
REVOKE UPDATE ON vaidya.clinical_store_keys FROM vaidya_app;
