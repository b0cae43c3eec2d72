-- One registration function for every tenant table (instead of DO-block arrays restated per
-- migration): RLS enabled and forced, and the member policies with the role lists of the
-- Rust permission table (`shared/src/rules/permissions.rs`, `storage_roles`). SELECT is the
-- roles that may read; INSERT the roles that may create; UPDATE any write (tombstones,
-- signatures and the parent "touch" are UPDATEs). `tests/server/policies.rs` compares
-- pg_policies with the Rust table for every role × command × table, so a policy edited by
-- hand, or a table registered with other roles, fails the suite.

CREATE FUNCTION vaidya.register_tenant_table(
    tbl text, read_roles text[], insert_roles text[], update_roles text[]
) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    -- "Clinics where the current user is an active member with one of these roles": plain
    -- SQL inside ARRAY(...), run once per statement as an InitPlan feeding the index
    -- condition on clinic_id (see 0001).
    member_sql constant text := 'SELECT m.clinic_id FROM vaidya.memberships m
                   WHERE m.user_id = (SELECT vaidya.current_user_id()) AND m.revoked_at IS NULL
                     AND m.role = ANY (%L::text[])';
BEGIN
    EXECUTE format('ALTER TABLE vaidya.%I ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format('ALTER TABLE vaidya.%I FORCE ROW LEVEL SECURITY', tbl);
    EXECUTE format('DROP POLICY IF EXISTS member_select ON vaidya.%I', tbl);
    EXECUTE format('DROP POLICY IF EXISTS member_insert ON vaidya.%I', tbl);
    EXECUTE format('DROP POLICY IF EXISTS member_update ON vaidya.%I', tbl);
    EXECUTE format($p$CREATE POLICY member_select ON vaidya.%I FOR SELECT TO vaidya_app
                      USING (clinic_id = ANY (ARRAY(%s)))$p$, tbl, format(member_sql, read_roles));
    EXECUTE format($p$CREATE POLICY member_insert ON vaidya.%I FOR INSERT TO vaidya_app
                      WITH CHECK (clinic_id = ANY (ARRAY(%s)))$p$, tbl, format(member_sql, insert_roles));
    EXECUTE format($p$CREATE POLICY member_update ON vaidya.%I FOR UPDATE TO vaidya_app
                      USING (clinic_id = ANY (ARRAY(%s))) WITH CHECK (clinic_id = ANY (ARRAY(%s)))$p$,
                   tbl, format(member_sql, update_roles), format(member_sql, update_roles));
    EXECUTE format('GRANT SELECT, INSERT, UPDATE ON vaidya.%I TO vaidya_app', tbl);
END
$fn$;
REVOKE ALL ON FUNCTION vaidya.register_tenant_table(text, text[], text[], text[]) FROM PUBLIC;

-- Every clinical table, re-registered through the one function (same roles as 0001).
SELECT vaidya.register_tenant_table('patients',           '{admin,doctor,nurse,front_desk}', '{admin,doctor,nurse,front_desk}', '{admin,doctor,nurse,front_desk}');
SELECT vaidya.register_tenant_table('appointments',       '{admin,doctor,nurse,front_desk}', '{admin,doctor,nurse,front_desk}', '{admin,doctor,nurse,front_desk}');
SELECT vaidya.register_tenant_table('encounters',         '{doctor,nurse}',                  '{doctor,nurse}',                  '{doctor,nurse}');
SELECT vaidya.register_tenant_table('encounter_addenda',  '{doctor,nurse}',                  '{doctor,nurse}',                  '{doctor,nurse}');
SELECT vaidya.register_tenant_table('prescriptions',      '{doctor,nurse}',                  '{doctor}',                        '{doctor}');
SELECT vaidya.register_tenant_table('prescription_items', '{doctor,nurse}',                  '{doctor}',                        '{doctor}');
SELECT vaidya.register_tenant_table('invoices',           '{admin,doctor,front_desk}',       '{admin,doctor,front_desk}',       '{admin,doctor,front_desk}');
SELECT vaidya.register_tenant_table('invoice_lines',      '{admin,doctor,front_desk}',       '{admin,doctor,front_desk}',       '{admin,doctor,front_desk}');
SELECT vaidya.register_tenant_table('payments',           '{admin,doctor,front_desk}',       '{admin,doctor,front_desk}',       '{admin,doctor,front_desk}');
-- Counters serve every role that may create a numbered record (patients: everyone).
SELECT vaidya.register_tenant_table('clinic_counters',    '{admin,doctor,nurse,front_desk}', '{admin,doctor,nurse,front_desk}', '{admin,doctor,nurse,front_desk}');
