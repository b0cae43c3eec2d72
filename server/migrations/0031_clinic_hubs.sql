-- The clinic hub upstream (issue 11, ARCHITECTURE.md "The clinic hub"): to the group server
-- a hub is a member of exactly one clinic with the role `hub`. It reads every record of that
-- clinic (the permission table's readers; `tests/server/policies.rs` compares) and writes
-- nothing as itself: what it relays is applied as each change's signed author, under that
-- author's own memberships.
--
-- A hub's account is a machine's, not a person's (`users.kind`): it has no password (none can
-- sign in as it), it is never found by email (so no admin can add it to another clinic or
-- give it a person's role), and the database itself keeps the two apart: the `hub` role only
-- for a hub account, a hub account only with that role and in one clinic.
--
-- Two people make a hub (an admin registers it, a doctor approves it: below), and its
-- clinic's directory gives it the members' device keys to check signatures on the LAN.

ALTER TABLE vaidya.users ADD COLUMN kind text NOT NULL DEFAULT 'person'
    CHECK (kind IN ('person', 'hub'));
GRANT SELECT (kind) ON vaidya.users TO vaidya_app;

ALTER TABLE vaidya.memberships DROP CONSTRAINT memberships_role_check;
ALTER TABLE vaidya.memberships ADD CONSTRAINT memberships_role_check
    CHECK (role IN ('admin', 'doctor', 'nurse', 'front_desk', 'hub'));

CREATE FUNCTION vaidya.memberships_hub_only_for_hubs() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_kind text;
BEGIN
    SELECT u.kind INTO v_kind FROM vaidya.users u WHERE u.id = NEW.user_id;
    IF (NEW.role = 'hub') <> (v_kind = 'hub') THEN
        RAISE EXCEPTION 'the hub role is for a clinic hub''s account only, and a hub holds no other role'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'memberships_hub_only_for_hubs';
    END IF;
    IF v_kind = 'hub' AND EXISTS (SELECT 1 FROM vaidya.memberships m
                                  WHERE m.user_id = NEW.user_id AND m.clinic_id <> NEW.clinic_id) THEN
        RAISE EXCEPTION 'a clinic hub belongs to one clinic'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'memberships_hub_only_for_hubs';
    END IF;
    RETURN NEW;
END
$$;
-- Fired as a trigger only (no one calls it; a trigger needs no EXECUTE right to fire).
REVOKE ALL ON FUNCTION vaidya.memberships_hub_only_for_hubs() FROM PUBLIC;
CREATE TRIGGER memberships_hub_only_for_hubs BEFORE INSERT OR UPDATE OF role, user_id, clinic_id
    ON vaidya.memberships FOR EACH ROW EXECUTE FUNCTION vaidya.memberships_hub_only_for_hubs();

-- A hub's account is never found by email: not at sign-in, not by an admin adding a colleague.
CREATE OR REPLACE FUNCTION vaidya.auth_user_by_email(p_email text)
RETURNS TABLE (user_id uuid, password_hash text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT u.id, u.password_hash FROM vaidya.users u
    WHERE u.email = lower(p_email) AND u.disabled_at IS NULL AND u.kind = 'person'
$$;

CREATE OR REPLACE FUNCTION vaidya.group_user_by_email(p_clinic uuid, p_email text) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT u.id FROM vaidya.users u
    WHERE u.email = lower(p_email) AND u.disabled_at IS NULL AND u.kind = 'person'
      AND p_clinic = ANY (vaidya.member_clinics('{admin}'))
      AND EXISTS (SELECT 1 FROM vaidya.memberships m
                  JOIN vaidya.clinics c ON c.id = m.clinic_id
                  JOIN vaidya.clinics t ON t.id = p_clinic
                  WHERE m.user_id = u.id AND c.group_id = t.group_id)
$$;

-- The identity's clinics per role, now with the hub's (see 0019).
CREATE OR REPLACE FUNCTION vaidya.set_identity(p_user uuid) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_admin uuid[];
    v_doctor uuid[];
    v_nurse uuid[];
    v_front_desk uuid[];
    v_hub uuid[];
BEGIN
    SELECT coalesce(array_agg(m.clinic_id) FILTER (WHERE m.role = 'admin'), '{}'),
           coalesce(array_agg(m.clinic_id) FILTER (WHERE m.role = 'doctor'), '{}'),
           coalesce(array_agg(m.clinic_id) FILTER (WHERE m.role = 'nurse'), '{}'),
           coalesce(array_agg(m.clinic_id) FILTER (WHERE m.role = 'front_desk'), '{}'),
           coalesce(array_agg(m.clinic_id) FILTER (WHERE m.role = 'hub'), '{}')
      INTO v_admin, v_doctor, v_nurse, v_front_desk, v_hub
      FROM vaidya.memberships m
     WHERE m.user_id = p_user AND m.revoked_at IS NULL;
    PERFORM set_config('app.user_id', coalesce(p_user::text, ''), true);
    PERFORM set_config('app.clinics_admin', v_admin::text, true);
    PERFORM set_config('app.clinics_doctor', v_doctor::text, true);
    PERFORM set_config('app.clinics_nurse', v_nurse::text, true);
    PERFORM set_config('app.clinics_front_desk', v_front_desk::text, true);
    PERFORM set_config('app.clinics_hub', v_hub::text, true);
    PERFORM set_config('app.identity', coalesce(p_user::text, ''), true);
    RETURN coalesce(p_user::text, '');
END
$$;

CREATE OR REPLACE FUNCTION vaidya.member_clinics_expr(p_roles text[]) RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_role text;
    v_lists text;
    v_list text;
BEGIN
    IF coalesce(cardinality(p_roles), 0) = 0 THEN
        RAISE EXCEPTION 'member_clinics_expr: no roles';
    END IF;
    FOREACH v_role IN ARRAY p_roles LOOP
        IF v_role NOT IN ('admin', 'doctor', 'nurse', 'front_desk', 'hub') THEN
            RAISE EXCEPTION 'member_clinics_expr: unknown role %', v_role;
        END IF;
        v_list := format('nullif(pg_catalog.current_setting(%L, true), '''')::uuid[]', 'app.clinics_' || v_role);
        v_lists := CASE WHEN v_lists IS NULL THEN v_list
                        ELSE format('pg_catalog.array_cat(%s, %s)', v_lists, v_list) END;
    END LOOP;
    RETURN format($e$(SELECT CASE WHEN pg_catalog.current_setting('app.identity', true)
                                      = pg_catalog.current_setting('app.user_id', true)
                                 THEN %s
                                 ELSE vaidya.member_clinics(%L::text[]) END)::uuid[]$e$,
                  v_lists, p_roles);
END
$$;

-- Every tenant table whose readers now include the hub; the writers are unchanged.
SELECT vaidya.register_tenant_table('patients',           '{admin,doctor,nurse,front_desk,hub}', '{admin,doctor,nurse,front_desk}', '{admin,doctor,nurse,front_desk}');
SELECT vaidya.register_tenant_table('appointments',       '{admin,doctor,nurse,front_desk,hub}', '{admin,doctor,nurse,front_desk}', '{admin,doctor,nurse,front_desk}');
SELECT vaidya.register_tenant_table('encounters',         '{doctor,nurse,hub}',                  '{doctor,nurse}',                  '{doctor,nurse}');
SELECT vaidya.register_tenant_table('encounter_addenda',  '{doctor,nurse,hub}',                  '{doctor,nurse}',                  '{doctor,nurse}');
SELECT vaidya.register_tenant_table('prescriptions',      '{doctor,nurse,hub}',                  '{doctor}',                        '{doctor}');
SELECT vaidya.register_tenant_table('prescription_items', '{doctor,nurse,hub}',                  '{doctor}',                        '{doctor}');
SELECT vaidya.register_tenant_table('invoices',           '{admin,doctor,front_desk,hub}',       '{admin,doctor,front_desk}',       '{admin,doctor,front_desk}');
SELECT vaidya.register_tenant_table('invoice_lines',      '{admin,doctor,front_desk,hub}',       '{admin,doctor,front_desk}',       '{admin,doctor,front_desk}');
SELECT vaidya.register_tenant_table('payments',           '{admin,doctor,front_desk,hub}',       '{admin,doctor,front_desk}',       '{admin,doctor,front_desk}');
SELECT vaidya.register_tenant_table('allergies',          '{admin,doctor,nurse,front_desk,hub}', '{doctor,nurse}',                  '{doctor,nurse}');
SELECT vaidya.register_tenant_table('cancelled_invoice_numbers', '{admin,doctor,front_desk,hub}', '{admin,doctor,front_desk}',     '{admin,doctor,front_desk}');
SELECT vaidya.register_tenant_table('credit_notes',       '{admin,doctor,front_desk,hub}',       '{admin,doctor,front_desk}',       '{admin,doctor,front_desk}');
SELECT vaidya.register_tenant_table('credit_note_lines',  '{admin,doctor,front_desk,hub}',       '{admin,doctor,front_desk}',       '{admin,doctor,front_desk}');
SELECT vaidya.register_tenant_table('catalogue_items',    '{admin,doctor,nurse,front_desk,hub}', '{admin}',                         '{admin}');

-- The other policies a hub reads through: its clinic, the clinic's directory, conflicts (all
-- of them: it serves every role's PC), and the idempotency records of what it relays (its
-- own, `user_id` = the hub, as every pusher's). Conflict writes, invitations, the audit
-- trail and the uploaded accesses stay the people's (their 0019 policies are unchanged).
DO $$
DECLARE
    readers constant text := vaidya.member_clinics_expr('{admin,doctor,nurse,front_desk,hub}');
    clinical_readers constant text := vaidya.member_clinics_expr('{doctor,nurse,hub}');
    conflicts_read constant text := format($v$clinic_id = ANY (%s)
        AND (entity NOT IN ('encounter', 'addendum', 'prescription') OR clinic_id = ANY (%s))$v$,
        readers, clinical_readers);
BEGIN
    EXECUTE format('ALTER POLICY member_select ON vaidya.sync_mutations USING (clinic_id = ANY (%s))', readers);
    EXECUTE format('ALTER POLICY member_insert ON vaidya.sync_mutations
                        WITH CHECK (clinic_id = ANY (%s) AND user_id = (SELECT vaidya.current_user_id()))', readers);
    EXECUTE format('ALTER POLICY member_select ON vaidya.sync_conflicts USING (%s)', conflicts_read);
    EXECUTE format('ALTER POLICY member_select ON vaidya.clinics USING (id = ANY (%s))', readers);
    EXECUTE format('ALTER POLICY member_select ON vaidya.memberships
                        USING (user_id = (SELECT vaidya.current_user_id()) OR clinic_id = ANY (%s))', readers);
END
$$;

-- Two people make a hub. It reads every clinical record of its clinic, which a clinic admin
-- may not (notes and prescriptions are the clinicians'). So an admin registering a hub must
-- not be a way for the admin to read them: registering (an admin) makes the hub's account
-- and credential but no membership; the membership, and with it every read, comes only when a
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

-- Registers a hub: its account (no password, never found by email) and its registration,
-- no membership. Only an active admin of the clinic. Returns the hub's user id.
CREATE FUNCTION vaidya.register_hub(p_clinic uuid, p_name text) RETURNS uuid
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
CREATE FUNCTION vaidya.revoke_hub(p_clinic uuid, p_hub uuid) RETURNS boolean
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

-- The clinic's hubs with their state, for a member with one of `p_roles` (the server passes
-- the permission table's: those who manage members, and the approvers).
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
      AND p_clinic = ANY (vaidya.member_clinics(p_roles))
    ORDER BY coalesce(m.revoked_at, h.disabled_at) NULLS FIRST, r.registered_at
$$;

REVOKE ALL ON FUNCTION vaidya.register_hub(uuid, text), vaidya.approve_hub(uuid, uuid, text[]),
    vaidya.revoke_hub(uuid, uuid), vaidya.clinic_hubs(uuid, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vaidya.register_hub(uuid, text), vaidya.approve_hub(uuid, uuid, text[]),
    vaidya.revoke_hub(uuid, uuid), vaidya.clinic_hubs(uuid, text[]) TO vaidya_app;

-- The clinic's directory for its hub: the public halves of its members' device
-- signing keys, so the hub can check on the clinic's network who signed a change or a
-- sign-in challenge. Keys are reached only through SECURITY DEFINER functions (0010, 0011);
-- this one answers only an active hub of the clinic, and lists the keys of the people who
-- are or were its members (never another hub's, never anyone else's).
CREATE FUNCTION vaidya.hub_directory_keys(p_clinic uuid)
RETURNS TABLE (id uuid, user_id uuid, public_key bytea, registered_at timestamptz,
               revoked_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT k.id, k.user_id, k.public_key, k.created_at, k.revoked_at
    FROM vaidya.device_keys k
    JOIN vaidya.memberships m ON m.clinic_id = p_clinic AND m.user_id = k.user_id AND m.role <> 'hub'
    WHERE p_clinic = ANY (vaidya.member_clinics('{hub}'))
    ORDER BY k.created_at, k.id
$$;
REVOKE ALL ON FUNCTION vaidya.hub_directory_keys(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vaidya.hub_directory_keys(uuid) TO vaidya_app;
