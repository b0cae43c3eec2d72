-- Two records of one person merged (issue 11, item 4): a clinic admin merges a duplicate
-- into the record that stays (the survivor). Every appointment, note, prescription, bill
-- and allergy of the duplicate moves to the survivor, signed and issued ones included (only
-- their patient); the duplicate becomes a tombstone that names the survivor; the open
-- `duplicate_patient` conflicts about either are settled. Every PC follows on its next
-- pull (the moved rows, then the tombstone, in change order). The audit trail says who
-- merged what, and when (`patient_merge`).

ALTER TABLE vaidya.patients
    ADD COLUMN merged_into uuid,
    ADD CONSTRAINT patients_merged_into FOREIGN KEY (clinic_id, merged_into)
        REFERENCES vaidya.patients (clinic_id, id),
    ADD CONSTRAINT patients_merged_is_a_tombstone
        CHECK (merged_into IS NULL OR (deleted_at IS NOT NULL AND merged_into <> id));

-- Signed and issued rows stay immutable (a "touch" of the change stamp aside); an issued
-- invoice changes once more, when it is cancelled, and only in its cancellation columns;
-- any of them moves to the survivor of a merge, and changes nothing else in moving.
CREATE OR REPLACE FUNCTION vaidya.refuse_change_after_signing() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    stamp constant text[] := '{version,change_xid,change_seq,updated_at}';
    cancellation constant text[] := '{cancelled_at,cancelled_by,cancel_reason,cancel_recorded_at}';
BEGIN
    -- Nested, not AND: OLD.signed_at does not exist on the other tables.
    IF TG_TABLE_NAME = 'encounters' THEN
        IF OLD.signed_at IS NULL THEN
            RETURN NEW;
        END IF;
    END IF;
    IF (to_jsonb(NEW) - stamp) = (to_jsonb(OLD) - stamp) THEN
        RETURN NEW;
    END IF;
    IF TG_TABLE_NAME = 'invoices' THEN
        IF to_jsonb(OLD) ->> 'cancelled_at' IS NULL
           AND to_jsonb(NEW) ->> 'cancelled_at' IS NOT NULL
           AND (to_jsonb(NEW) - stamp - cancellation) = (to_jsonb(OLD) - stamp - cancellation) THEN
            RETURN NEW;
        END IF;
    END IF;
    IF to_jsonb(OLD) ? 'patient_id'
       AND (to_jsonb(NEW) - stamp - 'patient_id') = (to_jsonb(OLD) - stamp - 'patient_id')
       AND EXISTS (SELECT 1 FROM vaidya.patients p
                   WHERE p.clinic_id = OLD.clinic_id
                     AND p.id = (to_jsonb(OLD) ->> 'patient_id')::uuid
                     AND p.merged_into = (to_jsonb(NEW) ->> 'patient_id')::uuid) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% rows are immutable once signed; add an addendum instead', TG_TABLE_NAME
        USING ERRCODE = 'VD001';
END
$$;

-- A record written later for a merged patient (a PC that was offline during the merge
-- pushes the visit it booked for the duplicate) goes to the survivor: nothing lands on a
-- tombstone, whichever path it takes.
CREATE FUNCTION vaidya.follow_patient_merge() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_next uuid;
    v_hops integer := 0;
BEGIN
    LOOP
        SELECT p.merged_into INTO v_next FROM vaidya.patients p
         WHERE p.clinic_id = NEW.clinic_id AND p.id = NEW.patient_id;
        EXIT WHEN v_next IS NULL OR v_hops >= 16;
        NEW.patient_id := v_next;
        v_hops := v_hops + 1;
    END LOOP;
    RETURN NEW;
END
$$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['appointments', 'encounters', 'prescriptions', 'invoices', 'allergies']
    LOOP
        EXECUTE format('CREATE TRIGGER follow_patient_merge BEFORE INSERT ON vaidya.%I
                        FOR EACH ROW EXECUTE FUNCTION vaidya.follow_patient_merge()', t);
    END LOOP;
END
$$;

-- The merge, in one call, owned by `vaidya_merger` (created by `vaidya-server migrate`):
-- a NOLOGIN role that may read only the ids and `patient_id` of the records it moves and
-- change only `patient_id`, and whose policies, like every other, require an explicit
-- admin membership of the clinic. So even the merge cannot read a note, and nobody but an
-- admin of the clinic can move anything with it; clinical rows that an admin may not
-- otherwise write move all the same, which is the point.
DO $$
DECLARE
    t text;
    admins constant text := '(SELECT vaidya.member_clinics(''{admin}''))::uuid[]';
BEGIN
    GRANT USAGE ON SCHEMA vaidya TO vaidya_merger;
    GRANT USAGE ON SEQUENCE vaidya.change_seq TO vaidya_merger;
    GRANT EXECUTE ON FUNCTION vaidya.member_clinics(text[]) TO vaidya_merger;
    FOREACH t IN ARRAY ARRAY['appointments', 'encounters', 'prescriptions', 'invoices', 'allergies']
    LOOP
        EXECUTE format('GRANT SELECT (clinic_id, id, patient_id), UPDATE (patient_id) ON vaidya.%I TO vaidya_merger', t);
        EXECUTE format('CREATE POLICY merge_select ON vaidya.%I FOR SELECT TO vaidya_merger
                        USING (clinic_id = ANY (%s))', t, admins);
        EXECUTE format('CREATE POLICY merge_update ON vaidya.%I FOR UPDATE TO vaidya_merger
                        USING (clinic_id = ANY (%s)) WITH CHECK (clinic_id = ANY (%s))', t, admins, admins);
    END LOOP;
    GRANT SELECT (clinic_id, id, deleted_at, merged_into), UPDATE (deleted_at, merged_into)
        ON vaidya.patients TO vaidya_merger;
    GRANT SELECT (clinic_id, entity_id, kind, resolved_at), UPDATE (resolved_at)
        ON vaidya.sync_conflicts TO vaidya_merger;
    FOREACH t IN ARRAY ARRAY['patients', 'sync_conflicts']
    LOOP
        EXECUTE format('CREATE POLICY merge_select ON vaidya.%I FOR SELECT TO vaidya_merger
                        USING (clinic_id = ANY (%s))', t, admins);
        EXECUTE format('CREATE POLICY merge_update ON vaidya.%I FOR UPDATE TO vaidya_merger
                        USING (clinic_id = ANY (%s)) WITH CHECK (clinic_id = ANY (%s))', t, admins, admins);
    END LOOP;
END
$$;

CREATE FUNCTION vaidya.merge_patients(p_clinic uuid, p_survivor uuid, p_duplicate uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t text;
BEGIN
    IF NOT (p_clinic = ANY (vaidya.member_clinics('{admin}'))) THEN
        RAISE EXCEPTION 'only an admin of the clinic merges its patients' USING ERRCODE = '42501';
    END IF;
    IF p_survivor = p_duplicate THEN
        RAISE EXCEPTION 'a patient is not merged into itself' USING ERRCODE = 'VD002';
    END IF;
    IF (SELECT count(*) FROM vaidya.patients
        WHERE clinic_id = p_clinic AND id IN (p_survivor, p_duplicate) AND deleted_at IS NULL) <> 2 THEN
        RAISE EXCEPTION 'both patients must be live records of the clinic' USING ERRCODE = 'VD002';
    END IF;
    UPDATE vaidya.patients SET merged_into = p_survivor, deleted_at = now()
     WHERE clinic_id = p_clinic AND id = p_duplicate;
    FOREACH t IN ARRAY ARRAY['appointments', 'encounters', 'prescriptions', 'invoices', 'allergies']
    LOOP
        EXECUTE format('UPDATE vaidya.%I SET patient_id = $1 WHERE clinic_id = $2 AND patient_id = $3', t)
            USING p_survivor, p_clinic, p_duplicate;
    END LOOP;
    UPDATE vaidya.sync_conflicts SET resolved_at = now()
     WHERE clinic_id = p_clinic AND kind = 'duplicate_patient' AND resolved_at IS NULL
       AND entity_id IN (p_survivor, p_duplicate);
    -- The tombstone comes after the rows that moved in the change feed.
    UPDATE vaidya.patients SET deleted_at = deleted_at WHERE clinic_id = p_clinic AND id = p_duplicate;
END
$$;
-- Handing a function over needs CREATE on its schema for the new owner; only for that.
GRANT CREATE ON SCHEMA vaidya TO vaidya_merger;
ALTER FUNCTION vaidya.merge_patients(uuid, uuid, uuid) OWNER TO vaidya_merger;
REVOKE CREATE ON SCHEMA vaidya FROM vaidya_merger;
REVOKE ALL ON FUNCTION vaidya.merge_patients(uuid, uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vaidya.merge_patients(uuid, uuid, uuid) TO vaidya_app;
