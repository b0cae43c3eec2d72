-- The audit trail belongs to real clinics and their members.
--
-- Before: `audit_append` (SECURITY DEFINER) appended to any clinic's hash chain for any
-- signed-in user, returning that chain's length, and a denial naming a made-up clinic id
-- opened a chain for a clinic that does not exist (unbounded growth).
-- Now: a clinic that does not exist gets nothing recorded; a non-member may only leave a
-- bare `denied` row (no ids, no device time: "this user was refused here") and learns
-- nothing back; every other row needs an active membership (or the deployment's
-- administrator, for the tenancy rows of the `admin` CLI). The chains reference clinics
-- (NOT VALID: rows written before this migration are not re-checked, and the log is
-- append-only, so they could not be removed anyway).

ALTER TABLE vaidya.audit_chain_heads
    ADD CONSTRAINT audit_chain_heads_clinic_fk FOREIGN KEY (clinic_id)
    REFERENCES vaidya.clinics (id) NOT VALID;
ALTER TABLE vaidya.audit_log
    ADD CONSTRAINT audit_log_clinic_fk FOREIGN KEY (clinic_id)
    REFERENCES vaidya.clinics (id) NOT VALID;

CREATE OR REPLACE FUNCTION vaidya.audit_append(
    p_clinic uuid, p_action text, p_entity_type text, p_entity_ids uuid[], p_patient_ids uuid[],
    p_occurred_at timestamptz DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_actor uuid := vaidya.current_user_id();
    v_device text := nullif(current_setting('app.device', true), '');
    v_request text := nullif(current_setting('app.request_id', true), '');
    v_at timestamptz := date_trunc('microseconds', clock_timestamp());
    v_member boolean;
    v_seq bigint;
    v_prev bytea;
    v_hash bytea;
BEGIN
    IF p_clinic IS NULL THEN
        RAISE EXCEPTION 'audit rows need a clinic' USING ERRCODE = 'VD003';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM vaidya.clinics c WHERE c.id = p_clinic) THEN
        -- A probe with a made-up clinic id: there is no trail to write to.
        RETURN NULL;
    END IF;
    -- A member of the clinic, or the deployment's administrator (the `admin` CLI: the
    -- owner role, no user identity), never the app role on its own.
    v_member := (v_actor IS NOT NULL AND EXISTS (
                    SELECT 1 FROM vaidya.memberships m
                    WHERE m.clinic_id = p_clinic AND m.user_id = v_actor AND m.revoked_at IS NULL))
             OR (v_actor IS NULL AND pg_has_role(session_user, 'vaidya_owner', 'USAGE'));
    IF NOT v_member THEN
        IF p_action <> 'denied' THEN
            RAISE EXCEPTION 'only a member of the clinic appends to its audit trail'
                USING ERRCODE = 'VD005';
        END IF;
        p_entity_ids := '{}';
        p_patient_ids := '{}';
        p_occurred_at := NULL;
    END IF;
    INSERT INTO vaidya.audit_chain_heads (clinic_id, seq, hash)
    VALUES (p_clinic, 0, '\x0000000000000000000000000000000000000000000000000000000000000000')
    ON CONFLICT (clinic_id) DO NOTHING;
    -- One writer per clinic at a time: the chain must be linear.
    SELECT h.seq, h.hash INTO v_seq, v_prev FROM vaidya.audit_chain_heads h
    WHERE h.clinic_id = p_clinic FOR UPDATE;
    v_seq := v_seq + 1;
    v_hash := sha256(v_prev || convert_to(vaidya.audit_canonical(
        p_clinic, v_seq, v_actor, p_action, p_entity_type, coalesce(p_entity_ids, '{}'),
        coalesce(p_patient_ids, '{}'), v_device, v_request, v_at, p_occurred_at), 'UTF8'));
    INSERT INTO vaidya.audit_log (clinic_id, seq, actor_id, action, entity_type, entity_ids,
                                  patient_ids, device, request_id, at, occurred_at, hash)
    VALUES (p_clinic, v_seq, v_actor, p_action, p_entity_type, coalesce(p_entity_ids, '{}'),
            coalesce(p_patient_ids, '{}'), v_device, v_request, v_at, p_occurred_at, v_hash);
    UPDATE vaidya.audit_chain_heads SET seq = v_seq, hash = v_hash WHERE clinic_id = p_clinic;
    -- The chain's length is the clinic's business: a non-member learns nothing.
    RETURN CASE WHEN v_member THEN v_seq END;
END
$$;
