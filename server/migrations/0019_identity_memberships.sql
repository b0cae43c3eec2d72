-- The caller's memberships are resolved once per transaction, when the identity is set,
-- instead of once per statement (issue 15: forced RLS cost 1.28× on a point query; every
-- statement ran the membership subquery, and memberships' own policy with it).
--
-- `vaidya.set_identity(user)` (SECURITY DEFINER) sets `app.user_id` and, read from
-- `memberships` in the same call, the user's active clinics per role as transaction-local
-- settings, stamped with the user they were computed for (`app.identity`). Each policy reads
-- them in an expression written into it (`vaidya.member_clinics_expr`), run once per
-- statement as an InitPlan: no function call, and nothing to parse when a query is planned.
-- When the stamp is not the current `app.user_id` (identity set some other way, e.g. a bare
-- `set_config`), it falls back to reading `memberships` as before, so a stale or missing
-- cache never widens access.
-- ARCHITECTURE.md ("Invariants") says why this is no weaker than the per-statement lookup.

-- Sets the transaction's identity: the user, and their active clinics per role from
-- memberships. Returns the user as text ('' for none), which the server reads back.
CREATE FUNCTION vaidya.set_identity(p_user uuid) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_admin uuid[];
    v_doctor uuid[];
    v_nurse uuid[];
    v_front_desk uuid[];
BEGIN
    SELECT coalesce(array_agg(m.clinic_id) FILTER (WHERE m.role = 'admin'), '{}'),
           coalesce(array_agg(m.clinic_id) FILTER (WHERE m.role = 'doctor'), '{}'),
           coalesce(array_agg(m.clinic_id) FILTER (WHERE m.role = 'nurse'), '{}'),
           coalesce(array_agg(m.clinic_id) FILTER (WHERE m.role = 'front_desk'), '{}')
      INTO v_admin, v_doctor, v_nurse, v_front_desk
      FROM vaidya.memberships m
     WHERE m.user_id = p_user AND m.revoked_at IS NULL;
    PERFORM set_config('app.user_id', coalesce(p_user::text, ''), true);
    PERFORM set_config('app.clinics_admin', v_admin::text, true);
    PERFORM set_config('app.clinics_doctor', v_doctor::text, true);
    PERFORM set_config('app.clinics_nurse', v_nurse::text, true);
    PERFORM set_config('app.clinics_front_desk', v_front_desk::text, true);
    PERFORM set_config('app.identity', coalesce(p_user::text, ''), true);
    RETURN coalesce(p_user::text, '');
END
$$;
REVOKE EXECUTE ON FUNCTION vaidya.set_identity(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vaidya.set_identity(uuid) TO vaidya_app;

-- The condition "clinics where the current user holds an active membership with one of
-- these roles" as SQL text for a policy: the lists `set_identity` stamped for this user,
-- else the lookup in memberships every policy ran before (`vaidya.member_clinics`, 0001,
-- which SQL and functions that ask by name keep using). Written into each policy rather than called, because a SQL
-- function is parsed again whenever a query using it is planned (tens of microseconds).
-- The cast makes `= ANY (…)` take the array rather than a subquery's rows.
CREATE FUNCTION vaidya.member_clinics_expr(p_roles text[]) RETURNS text
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
        IF v_role NOT IN ('admin', 'doctor', 'nurse', 'front_desk') THEN
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

-- A membership of the current user written in this transaction (a clinic's creator, an
-- accepted invitation) takes effect for the rest of it, as it did when every statement
-- looked memberships up afresh.
CREATE FUNCTION vaidya.refresh_identity() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.user_id = vaidya.current_user_id() THEN
        PERFORM vaidya.set_identity(NEW.user_id);
    END IF;
    RETURN NULL;
END
$$;
GRANT EXECUTE ON FUNCTION vaidya.refresh_identity() TO vaidya_app;
CREATE TRIGGER refresh_identity AFTER INSERT OR UPDATE ON vaidya.memberships
    FOR EACH ROW EXECUTE FUNCTION vaidya.refresh_identity();

-- Tenant tables: the member policies with the condition written in, a (SELECT …) that is
-- an InitPlan run once per statement whose result feeds the index condition on clinic_id.
CREATE OR REPLACE FUNCTION vaidya.register_tenant_table(
    tbl text, read_roles text[], insert_roles text[], update_roles text[]
) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    read_sql constant text := vaidya.member_clinics_expr(read_roles);
    insert_sql constant text := vaidya.member_clinics_expr(insert_roles);
    update_sql constant text := vaidya.member_clinics_expr(update_roles);
BEGIN
    EXECUTE format('ALTER TABLE vaidya.%I ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format('ALTER TABLE vaidya.%I FORCE ROW LEVEL SECURITY', tbl);
    EXECUTE format('DROP POLICY IF EXISTS member_select ON vaidya.%I', tbl);
    EXECUTE format('DROP POLICY IF EXISTS member_insert ON vaidya.%I', tbl);
    EXECUTE format('DROP POLICY IF EXISTS member_update ON vaidya.%I', tbl);
    EXECUTE format($p$CREATE POLICY member_select ON vaidya.%I FOR SELECT TO vaidya_app
                      USING (clinic_id = ANY (%s))$p$, tbl, read_sql);
    EXECUTE format($p$CREATE POLICY member_insert ON vaidya.%I FOR INSERT TO vaidya_app
                      WITH CHECK (clinic_id = ANY (%s))$p$, tbl, insert_sql);
    EXECUTE format($p$CREATE POLICY member_update ON vaidya.%I FOR UPDATE TO vaidya_app
                      USING (clinic_id = ANY (%s)) WITH CHECK (clinic_id = ANY (%s))$p$,
                   tbl, update_sql, update_sql);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE ON vaidya.%I TO vaidya_app', tbl);
END
$fn$;

-- Every tenant table again, with the roles it was registered with (0004-0006);
-- `tests/server/policies.rs` compares them with the Rust permission table.
SELECT vaidya.register_tenant_table('patients',           '{admin,doctor,nurse,front_desk}', '{admin,doctor,nurse,front_desk}', '{admin,doctor,nurse,front_desk}');
SELECT vaidya.register_tenant_table('appointments',       '{admin,doctor,nurse,front_desk}', '{admin,doctor,nurse,front_desk}', '{admin,doctor,nurse,front_desk}');
SELECT vaidya.register_tenant_table('encounters',         '{doctor,nurse}',                  '{doctor,nurse}',                  '{doctor,nurse}');
SELECT vaidya.register_tenant_table('encounter_addenda',  '{doctor,nurse}',                  '{doctor,nurse}',                  '{doctor,nurse}');
SELECT vaidya.register_tenant_table('prescriptions',      '{doctor,nurse}',                  '{doctor}',                        '{doctor}');
SELECT vaidya.register_tenant_table('prescription_items', '{doctor,nurse}',                  '{doctor}',                        '{doctor}');
SELECT vaidya.register_tenant_table('invoices',           '{admin,doctor,front_desk}',       '{admin,doctor,front_desk}',       '{admin,doctor,front_desk}');
SELECT vaidya.register_tenant_table('invoice_lines',      '{admin,doctor,front_desk}',       '{admin,doctor,front_desk}',       '{admin,doctor,front_desk}');
SELECT vaidya.register_tenant_table('payments',           '{admin,doctor,front_desk}',       '{admin,doctor,front_desk}',       '{admin,doctor,front_desk}');
SELECT vaidya.register_tenant_table('clinic_counters',    '{admin,doctor,nurse,front_desk}', '{admin,doctor,nurse,front_desk}', '{admin,doctor,nurse,front_desk}');
SELECT vaidya.register_tenant_table('allergies',          '{admin,doctor,nurse,front_desk}', '{doctor,nurse}',                  '{doctor,nurse}');
SELECT vaidya.register_tenant_table('cancelled_invoice_numbers', '{admin,doctor,front_desk}', '{admin,doctor,front_desk}',     '{admin,doctor,front_desk}');

-- The other policies that check a membership (0001, 0002, 0011, 0016): the same conditions
-- with the expression written in.
DO $$
DECLARE
    everyone constant text := vaidya.member_clinics_expr('{admin,doctor,nurse,front_desk}');
    clinicians constant text := vaidya.member_clinics_expr('{doctor,nurse}');
    admins constant text := vaidya.member_clinics_expr('{admin}');
    -- Conflicts about clinical records carry clinical values: clinicians only.
    conflicts constant text := format($v$clinic_id = ANY (%s)
        AND (entity NOT IN ('encounter', 'addendum', 'prescription') OR clinic_id = ANY (%s))$v$,
        everyone, clinicians);
BEGIN
    EXECUTE format('ALTER POLICY member_select ON vaidya.sync_mutations USING (clinic_id = ANY (%s))', everyone);
    EXECUTE format('ALTER POLICY member_insert ON vaidya.sync_mutations
                        WITH CHECK (clinic_id = ANY (%s) AND user_id = (SELECT vaidya.current_user_id()))', everyone);
    EXECUTE format('ALTER POLICY member_select ON vaidya.sync_conflicts USING (%s)', conflicts);
    EXECUTE format('ALTER POLICY member_insert ON vaidya.sync_conflicts WITH CHECK (%s)', conflicts);
    EXECUTE format('ALTER POLICY member_update ON vaidya.sync_conflicts USING (%s) WITH CHECK (%s)', conflicts, conflicts);
    EXECUTE format('ALTER POLICY member_select ON vaidya.uploaded_accesses USING (clinic_id = ANY (%s))', everyone);
    EXECUTE format('ALTER POLICY member_insert ON vaidya.uploaded_accesses WITH CHECK (clinic_id = ANY (%s))', everyone);
    EXECUTE format('ALTER POLICY member_select ON vaidya.clinics USING (id = ANY (%s))', everyone);
    -- Colleagues of the same clinic see each other (staff directory, doctor pickers).
    EXECUTE format('ALTER POLICY member_select ON vaidya.memberships
                        USING (user_id = (SELECT vaidya.current_user_id()) OR clinic_id = ANY (%s))', everyone);
    EXECUTE format('ALTER POLICY admin_insert ON vaidya.memberships WITH CHECK (clinic_id = ANY (%s))', admins);
    EXECUTE format('ALTER POLICY admin_update ON vaidya.memberships
                        USING (clinic_id = ANY (%s)) WITH CHECK (clinic_id = ANY (%s))', admins, admins);
    EXECUTE format('ALTER POLICY admin_select ON vaidya.audit_log USING (clinic_id = ANY (%s))', admins);
    EXECUTE format('ALTER POLICY invitation_admin ON vaidya.invitations
                        USING (clinic_id = ANY (%s))
                        WITH CHECK (clinic_id = ANY (%s) AND invited_by = vaidya.current_user_id())', admins, admins);
END
$$;
