-- A hub reads every clinical record of its clinic, which a clinic admin may not (notes and
-- prescriptions are the clinicians'). So an admin registering a hub must not be a way for
-- the admin to read them: registering (an admin, 0031) makes the hub's account and
-- credential but no membership; the membership, and with it every read, comes only when a
-- member who may read everything the hub reads (a doctor: the server passes the roles from
-- the permission table) approves it. Two people, each audited.

CREATE TABLE vaidya.hub_registrations (
    clinic_id      uuid NOT NULL REFERENCES vaidya.clinics (id),
    hub_id         uuid NOT NULL REFERENCES vaidya.users (id),
    registered_by  uuid NOT NULL REFERENCES vaidya.users (id),
    registered_at  timestamptz NOT NULL DEFAULT now(),
    approved_by    uuid REFERENCES vaidya.users (id),
    approved_at    timestamptz,
    PRIMARY KEY (clinic_id, hub_id),
    CHECK ((approved_by IS NULL) = (approved_at IS NULL))
);
ALTER TABLE vaidya.hub_registrations ENABLE ROW LEVEL SECURITY;
ALTER TABLE vaidya.hub_registrations FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON vaidya.hub_registrations TO vaidya_owner USING (true) WITH CHECK (true);
-- The clinic's admins and the approvers list them (through `vaidya.clinic_hubs`).

-- Hubs registered before this migration were approved by their registration.
INSERT INTO vaidya.hub_registrations (clinic_id, hub_id, registered_by, registered_at, approved_by, approved_at)
SELECT m.clinic_id, m.user_id, m.user_id, m.created_at, m.user_id, m.created_at
FROM vaidya.memberships m WHERE m.role = 'hub';

-- Registers a hub: its account (no password, never found by email) and its registration,
-- no membership. Only an active admin of the clinic. Returns the hub's user id.
CREATE OR REPLACE FUNCTION vaidya.register_hub(p_clinic uuid, p_name text) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id uuid := gen_random_uuid();
BEGIN
    IF NOT p_clinic = ANY (vaidya.member_clinics('{admin}')) THEN
        RETURN NULL;
    END IF;
    INSERT INTO vaidya.users (id, email, display_name, password_hash, kind)
    VALUES (v_id, 'hub-' || v_id::text || '@hub.invalid', p_name, '!', 'hub');
    INSERT INTO vaidya.hub_registrations (clinic_id, hub_id, registered_by)
    VALUES (p_clinic, v_id, vaidya.current_user_id());
    RETURN v_id;
END
$$;

-- Approves a registered hub: its membership begins. Only an active member of the clinic
-- with one of `p_roles` (never the hub role), and not the admin who registered it.
-- Answers 'approved', 'already', or NULL (no such pending hub for this caller).
CREATE FUNCTION vaidya.approve_hub(p_clinic uuid, p_hub uuid, p_roles text[]) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_me uuid := vaidya.current_user_id();
    v_reg vaidya.hub_registrations;
BEGIN
    IF 'hub' = ANY (p_roles) OR NOT p_clinic = ANY (vaidya.member_clinics(p_roles)) THEN
        RETURN NULL;
    END IF;
    SELECT * INTO v_reg FROM vaidya.hub_registrations
    WHERE clinic_id = p_clinic AND hub_id = p_hub FOR UPDATE;
    IF NOT FOUND OR v_reg.registered_by = v_me
       OR EXISTS (SELECT 1 FROM vaidya.users u WHERE u.id = p_hub AND u.disabled_at IS NOT NULL) THEN
        RETURN NULL;
    END IF;
    IF v_reg.approved_at IS NOT NULL THEN
        RETURN 'already';
    END IF;
    UPDATE vaidya.hub_registrations SET approved_by = v_me, approved_at = now()
    WHERE clinic_id = p_clinic AND hub_id = p_hub;
    INSERT INTO vaidya.memberships (id, clinic_id, user_id, role)
    VALUES (gen_random_uuid(), p_clinic, p_hub, 'hub');
    RETURN 'approved';
END
$$;

-- Revokes a hub, pending or approved: its membership (if any) ends, its account is
-- disabled and every session of it revoked.
CREATE OR REPLACE FUNCTION vaidya.revoke_hub(p_clinic uuid, p_hub uuid) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT p_clinic = ANY (vaidya.member_clinics('{admin}'))
       OR NOT EXISTS (SELECT 1 FROM vaidya.hub_registrations
                      WHERE clinic_id = p_clinic AND hub_id = p_hub) THEN
        RETURN false;
    END IF;
    UPDATE vaidya.memberships SET revoked_at = coalesce(revoked_at, now())
    WHERE clinic_id = p_clinic AND user_id = p_hub AND role = 'hub';
    UPDATE vaidya.users SET disabled_at = coalesce(disabled_at, now()) WHERE id = p_hub AND kind = 'hub';
    UPDATE vaidya.sessions SET revoked_at = coalesce(revoked_at, now()) WHERE user_id = p_hub;
    RETURN true;
END
$$;

-- The clinic's hubs with their state, for its admins and its approvers (`p_roles`, as
-- for approval).
CREATE FUNCTION vaidya.clinic_hubs(p_clinic uuid, p_roles text[])
RETURNS TABLE (id uuid, name text, registered_at timestamptz, registered_by text,
               approved_at timestamptz, approved_by text, revoked_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT r.hub_id, h.display_name, r.registered_at, rb.display_name,
           r.approved_at, ab.display_name, coalesce(m.revoked_at, h.disabled_at)
    FROM vaidya.hub_registrations r
    JOIN vaidya.users h ON h.id = r.hub_id
    JOIN vaidya.users rb ON rb.id = r.registered_by
    LEFT JOIN vaidya.users ab ON ab.id = r.approved_by
    LEFT JOIN vaidya.memberships m ON m.clinic_id = r.clinic_id AND m.user_id = r.hub_id
    WHERE r.clinic_id = p_clinic
      AND NOT 'hub' = ANY (p_roles)
      AND p_clinic = ANY (vaidya.member_clinics(p_roles || '{admin}'::text[]))
    ORDER BY coalesce(m.revoked_at, h.disabled_at) NULLS FIRST, r.registered_at
$$;

REVOKE ALL ON FUNCTION vaidya.approve_hub(uuid, uuid, text[]), vaidya.clinic_hubs(uuid, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vaidya.approve_hub(uuid, uuid, text[]), vaidya.clinic_hubs(uuid, text[]) TO vaidya_app;
