-- Patient allergies: noted by clinicians, seen by every member (the front desk's card shows
-- a badge), synced like every clinical entity. Prescriptions keep the allergy warnings the
-- doctor acknowledged.

CREATE TABLE vaidya.allergies (
    id          uuid NOT NULL,
    clinic_id   uuid NOT NULL REFERENCES vaidya.clinics (id),
    patient_id  uuid NOT NULL,
    substance   text NOT NULL CHECK (length(substance) BETWEEN 1 AND 200),
    reaction    text NOT NULL DEFAULT '' CHECK (length(reaction) <= 1000),
    severity    text NOT NULL CHECK (severity IN ('mild', 'moderate', 'severe', 'life_threatening')),
    status      text NOT NULL CHECK (status IN ('active', 'inactive')),
    noted_by    uuid NOT NULL,
    version     bigint NOT NULL,
    change_xid  xid8 NOT NULL,
    change_seq  bigint NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    deleted_at  timestamptz,
    PRIMARY KEY (clinic_id, id),
    FOREIGN KEY (clinic_id, patient_id) REFERENCES vaidya.patients (clinic_id, id),
    FOREIGN KEY (clinic_id, noted_by) REFERENCES vaidya.memberships (clinic_id, user_id)
);
CREATE INDEX allergies_patient ON vaidya.allergies (clinic_id, patient_id);
CREATE INDEX allergies_changes ON vaidya.allergies (clinic_id, change_xid, change_seq);

CREATE TRIGGER stamp_change BEFORE INSERT OR UPDATE ON vaidya.allergies
    FOR EACH ROW EXECUTE FUNCTION vaidya.stamp_change();
CREATE TRIGGER notify_change AFTER INSERT OR UPDATE ON vaidya.allergies
    FOR EACH ROW EXECUTE FUNCTION vaidya.notify_change();

-- Roles from the permission table (Resource::Allergy): read everyone, write clinicians.
SELECT vaidya.register_tenant_table('allergies', '{admin,doctor,nurse,front_desk}', '{doctor,nurse}', '{doctor,nurse}');

ALTER TABLE vaidya.prescriptions ADD COLUMN acknowledged_allergies uuid[] NOT NULL DEFAULT '{}';
