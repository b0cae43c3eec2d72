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

-- Registers a hub for a clinic: its account (no password, never found by email) and its one
-- membership. Only an active admin of the clinic. Returns the hub's user id.
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
    INSERT INTO vaidya.memberships (id, clinic_id, user_id, role)
    VALUES (gen_random_uuid(), p_clinic, v_id, 'hub');
    RETURN v_id;
END
$$;

-- Revokes a hub: its membership ends and its account is disabled, which ends every session
-- of it at once (sign-in, refresh and each request check `disabled_at`). Only an active
-- admin of the hub's clinic; answers whether a hub of that clinic was revoked.
CREATE FUNCTION vaidya.revoke_hub(p_clinic uuid, p_hub uuid) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT p_clinic = ANY (vaidya.member_clinics('{admin}')) THEN
        RETURN false;
    END IF;
    UPDATE vaidya.memberships SET revoked_at = coalesce(revoked_at, now())
    WHERE clinic_id = p_clinic AND user_id = p_hub AND role = 'hub';
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    UPDATE vaidya.users SET disabled_at = coalesce(disabled_at, now()) WHERE id = p_hub AND kind = 'hub';
    UPDATE vaidya.sessions SET revoked_at = coalesce(revoked_at, now()) WHERE user_id = p_hub;
    RETURN true;
END
$$;
REVOKE ALL ON FUNCTION vaidya.register_hub(uuid, text), vaidya.revoke_hub(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vaidya.register_hub(uuid, text), vaidya.revoke_hub(uuid, uuid) TO vaidya_app;
