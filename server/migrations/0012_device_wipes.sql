-- Wipes on shared PCs are audited (issue 9, item 4).
--
-- When a member loses their place in a clinic, the device forgets them at their next online
-- sign-in: it removes what only they could read there (the whole file and its key when
-- nobody else uses it). The device reports each wipe once; the clinic's audit trail gets a
-- `wipe` row naming the former member, dated by the device (bounded: not before the
-- revocation less the clock tolerance, not after the server received it).
--
-- A former member is no longer a member, so `audit_append` (active members only) would
-- refuse their report. The chain write moves into `audit_chain_write`, which only other
-- functions of the owner call; `audit_append` keeps its checks and calls it, and
-- `record_device_wipe` calls it with checks of its own.

ALTER TABLE vaidya.audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE vaidya.audit_log ADD CONSTRAINT audit_log_action_check
    CHECK (action IN ('read', 'list', 'create', 'update', 'delete', 'export', 'print', 'login',
                      'denied', 'discard', 'wipe')) NOT VALID;
ALTER TABLE vaidya.audit_log VALIDATE CONSTRAINT audit_log_action_check;

-- Appends one row to the clinic's hash chain. No checks: not executable by the app role,
-- called only by the SECURITY DEFINER functions below, which decide who may write what.
CREATE FUNCTION vaidya.audit_chain_write(
    p_clinic uuid, p_actor uuid, p_action text, p_entity_type text, p_entity_ids uuid[],
    p_patient_ids uuid[], p_occurred_at timestamptz
) RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_device text := nullif(current_setting('app.device', true), '');
    v_request text := nullif(current_setting('app.request_id', true), '');
    v_at timestamptz := date_trunc('microseconds', clock_timestamp());
    v_seq bigint;
    v_prev bytea;
    v_hash bytea;
BEGIN
    INSERT INTO vaidya.audit_chain_heads (clinic_id, seq, hash)
    VALUES (p_clinic, 0, '\x0000000000000000000000000000000000000000000000000000000000000000')
    ON CONFLICT (clinic_id) DO NOTHING;
    -- One writer per clinic at a time: the chain must be linear.
    SELECT h.seq, h.hash INTO v_seq, v_prev FROM vaidya.audit_chain_heads h
    WHERE h.clinic_id = p_clinic FOR UPDATE;
    v_seq := v_seq + 1;
    v_hash := sha256(v_prev || convert_to(vaidya.audit_canonical(
        p_clinic, v_seq, p_actor, p_action, p_entity_type, coalesce(p_entity_ids, '{}'),
        coalesce(p_patient_ids, '{}'), v_device, v_request, v_at, p_occurred_at), 'UTF8'));
    INSERT INTO vaidya.audit_log (clinic_id, seq, actor_id, action, entity_type, entity_ids,
                                  patient_ids, device, request_id, at, occurred_at, hash)
    VALUES (p_clinic, v_seq, p_actor, p_action, p_entity_type, coalesce(p_entity_ids, '{}'),
            coalesce(p_patient_ids, '{}'), v_device, v_request, v_at, p_occurred_at, v_hash);
    UPDATE vaidya.audit_chain_heads SET seq = v_seq, hash = v_hash WHERE clinic_id = p_clinic;
    RETURN v_seq;
END
$$;
REVOKE ALL ON FUNCTION vaidya.audit_chain_write(uuid, uuid, text, text, uuid[], uuid[], timestamptz)
    FROM PUBLIC;

-- The same checks as 0007, the chain write now shared.
CREATE OR REPLACE FUNCTION vaidya.audit_append(
    p_clinic uuid, p_action text, p_entity_type text, p_entity_ids uuid[], p_patient_ids uuid[],
    p_occurred_at timestamptz DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_actor uuid := vaidya.current_user_id();
    v_member boolean;
    v_seq bigint;
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
    -- A wipe is recorded only through record_device_wipe, which checks who reports it.
    IF p_action = 'wipe' THEN
        RAISE EXCEPTION 'wipes are recorded by record_device_wipe' USING ERRCODE = 'VD005';
    END IF;
    v_seq := vaidya.audit_chain_write(p_clinic, v_actor, p_action, p_entity_type, p_entity_ids,
                                      p_patient_ids, p_occurred_at);
    -- The chain's length is the clinic's business: a non-member learns nothing.
    RETURN CASE WHEN v_member THEN v_seq END;
END
$$;

-- Each reported wipe once, by the id the device gave it.
CREATE TABLE vaidya.device_wipes (
    clinic_id   uuid NOT NULL REFERENCES vaidya.clinics (id),
    id          uuid NOT NULL,
    -- The former member whose data left the device.
    user_id     uuid NOT NULL REFERENCES vaidya.users (id),
    -- 'file': the clinic's whole file and its key; 'member': what only they could read.
    scope       text NOT NULL CHECK (scope IN ('file', 'member')),
    reported_by uuid NOT NULL REFERENCES vaidya.users (id),
    device      text CHECK (length(device) <= 200),
    wiped_at    timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (clinic_id, id)
);
ALTER TABLE vaidya.device_wipes ENABLE ROW LEVEL SECURITY;
ALTER TABLE vaidya.device_wipes FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON vaidya.device_wipes TO vaidya_owner USING (true) WITH CHECK (true);

-- When `p_user` left `p_clinic` (the earliest a wipe of their data can have happened), if
-- the caller may report that wipe: the former member themselves, or an active member of
-- the clinic (a colleague's PC uploads a report the former member's sign-in left there).
-- NULL otherwise, also for a member who was never revoked.
CREATE FUNCTION vaidya.device_wipe_not_before(p_clinic uuid, p_user uuid) RETURNS timestamptz
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT m.revoked_at FROM vaidya.memberships m
    WHERE m.clinic_id = p_clinic AND m.user_id = p_user AND m.revoked_at IS NOT NULL
      AND (p_user = vaidya.current_user_id()
           OR EXISTS (SELECT 1 FROM vaidya.memberships c
                      WHERE c.clinic_id = p_clinic AND c.user_id = vaidya.current_user_id()
                        AND c.revoked_at IS NULL))
$$;
REVOKE ALL ON FUNCTION vaidya.device_wipe_not_before(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vaidya.device_wipe_not_before(uuid, uuid) TO vaidya_app;

-- Records a reported wipe and audits it, once per id and once per reporter, device, scope
-- and revocation: 'recorded', 'known' (reported before), or 'refused' (the caller may not
-- report it; nothing written). `p_wiped_at` is
-- the device's time, already bounded by the server (`rules::clock::act_time`).
CREATE FUNCTION vaidya.record_device_wipe(
    p_id uuid, p_clinic uuid, p_user uuid, p_scope text, p_wiped_at timestamptz
) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_caller uuid := vaidya.current_user_id();
BEGIN
    IF v_caller IS NULL OR NOT EXISTS (
        SELECT 1 FROM vaidya.memberships m
        WHERE m.clinic_id = p_clinic AND m.user_id = p_user AND m.revoked_at IS NOT NULL
          AND (p_user = v_caller
               OR EXISTS (SELECT 1 FROM vaidya.memberships c
                          WHERE c.clinic_id = p_clinic AND c.user_id = v_caller
                            AND c.revoked_at IS NULL))) THEN
        RETURN 'refused';
    END IF;
    -- One report per reporter, device, scope and revocation: fresh ids cannot flood the trail.
    IF EXISTS (
        SELECT 1 FROM vaidya.device_wipes w
        JOIN vaidya.memberships m ON m.clinic_id = w.clinic_id AND m.user_id = w.user_id
        WHERE w.clinic_id = p_clinic AND w.user_id = p_user AND w.scope = p_scope
          AND w.reported_by = v_caller
          AND w.device IS NOT DISTINCT FROM left(nullif(current_setting('app.device', true), ''), 200)
          AND w.recorded_at >= m.revoked_at) THEN
        RETURN 'known';
    END IF;
    INSERT INTO vaidya.device_wipes (clinic_id, id, user_id, scope, reported_by, device, wiped_at)
    VALUES (p_clinic, p_id, p_user, p_scope, v_caller,
            left(nullif(current_setting('app.device', true), ''), 200), p_wiped_at)
    ON CONFLICT (clinic_id, id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN 'known';
    END IF;
    PERFORM vaidya.audit_chain_write(p_clinic, v_caller, 'wipe',
                                     CASE p_scope WHEN 'file' THEN 'device_file'
                                                  ELSE 'device_member_data' END,
                                     ARRAY[p_user], '{}', p_wiped_at);
    RETURN 'recorded';
END
$$;
REVOKE ALL ON FUNCTION vaidya.record_device_wipe(uuid, uuid, uuid, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vaidya.record_device_wipe(uuid, uuid, uuid, text, timestamptz)
    TO vaidya_app;
