-- One list per role set instead of one per role (issue 15 item 4: forced RLS at ≤ 10 %).
--
-- Since 0019 `set_identity` stamps the caller's clinics per role (`app.clinics_admin`, …) and
-- a policy for several roles joins their lists (`array_cat` of up to five settings, each
-- read and cast to `uuid[]`) in an InitPlan run once per statement. Timed inside one backend
-- on a point lookup of a patient (20,000 per clinic, plan cached, five rounds), that
-- condition cost +10.5 µs over the same lookup without RLS; reading one list of the role set
-- cost +6.1 µs, the same InitPlan, stamp check and fallback kept.
--
-- So `set_identity` now writes one setting per role set that a policy asks about: the
-- clinics where the user holds any of those roles, named after the set
-- (`app.clinics_doctor_nurse_hub`). The role sets are the ones `member_clinics_expr` was
-- asked for, kept in `vaidya.identity_role_sets` when a policy is written, so a later
-- migration's new set is resolved without another change here. The stamp (`app.identity`)
-- and the fallback to `vaidya.member_clinics` for an identity set any other way are
-- unchanged; ARCHITECTURE.md ("Memberships are read once per transaction") says why this is
-- no weaker than a lookup per statement.

-- The stored policy text read below names functions by their schema only when `vaidya` is
-- not on the search path; pin it, whatever the migrating role's default.
SET LOCAL search_path = pg_catalog, pg_temp;

-- A role set in its one spelling: known roles only, each once, in the order below.
CREATE FUNCTION vaidya.role_set(p_roles text[]) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    known constant text[] := '{admin,doctor,nurse,front_desk,hub}';
    v_role text;
BEGIN
    IF coalesce(cardinality(p_roles), 0) = 0 THEN
        RAISE EXCEPTION 'role_set: no roles';
    END IF;
    FOREACH v_role IN ARRAY p_roles LOOP
        IF NOT v_role = ANY (known) THEN
            RAISE EXCEPTION 'role_set: unknown role %', v_role;
        END IF;
    END LOOP;
    RETURN ARRAY(SELECT k FROM unnest(known) WITH ORDINALITY AS u(k, i)
                 WHERE k = ANY (p_roles) ORDER BY i);
END
$$;

-- The role sets policies ask about, each with the setting that holds its clinics: a set in
-- its one spelling, and its setting's name made from it, so no row can give a list's name
-- to other roles.
CREATE TABLE vaidya.identity_role_sets (
    setting text PRIMARY KEY,
    roles   text[] NOT NULL UNIQUE,
    CHECK (roles = vaidya.role_set(roles)),
    CHECK (setting = 'app.clinics_' || array_to_string(roles, '_'))
);

-- Writes `vaidya.set_identity` for the registered role sets: one statement that reads the
-- user's memberships once and sets the identity, each set's list and the stamp. Written
-- out rather than looping over the registry at each call: a loop of `set_config`s cost
-- twice the old function (33 → 67–95 µs per call), and identity is set on every request.
CREATE FUNCTION vaidya.write_set_identity() RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_lists text;
BEGIN
    SELECT string_agg(format('set_config(%L, coalesce(array_agg(m.clinic_id) FILTER (WHERE m.role = ANY (%L::text[])), ''{}'')::text, true)',
                             s.setting, s.roles),
                      E',\n               ' ORDER BY s.setting)
      INTO v_lists
      FROM vaidya.identity_role_sets s;
    -- The stamp is the last column; the statement is one, so no caller sees it half done.
    EXECUTE format($f$
        CREATE OR REPLACE FUNCTION vaidya.set_identity(p_user uuid) RETURNS text
        LANGUAGE plpgsql SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp
        AS $b$
        BEGIN
            PERFORM set_config('app.user_id', coalesce(p_user::text, ''), true),
               %s,
               set_config('app.identity', coalesce(p_user::text, ''), true)
              FROM vaidya.memberships m
             WHERE m.user_id = p_user AND m.revoked_at IS NULL;
            RETURN coalesce(p_user::text, '');
        END
        $b$$f$, coalesce(v_lists, 'NULL'));
END
$fn$;

-- The condition "clinics where the current user holds an active membership with one of
-- these roles" as SQL text for a policy (see 0019): the role set's stamped list while the
-- stamp is the current user, else the lookup in memberships. A role set asked for the
-- first time is registered and `set_identity` written again to resolve it; no longer
-- IMMUTABLE for that reason (it is only called while policies are written).
CREATE OR REPLACE FUNCTION vaidya.member_clinics_expr(p_roles text[]) RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_roles constant text[] := vaidya.role_set(p_roles);
    v_setting constant text := 'app.clinics_' || array_to_string(v_roles, '_');
BEGIN
    INSERT INTO vaidya.identity_role_sets (setting, roles) VALUES (v_setting, v_roles)
        ON CONFLICT (setting) DO NOTHING;
    IF FOUND THEN
        PERFORM vaidya.write_set_identity();
    END IF;
    RETURN format($e$(SELECT CASE WHEN pg_catalog.current_setting('app.identity', true)
                                      = pg_catalog.current_setting('app.user_id', true)
                                 THEN nullif(pg_catalog.current_setting(%L, true), '')::uuid[]
                                 ELSE vaidya.member_clinics(%L::text[]) END)::uuid[]$e$,
                  v_setting, v_roles);
END
$$;

-- Every policy that reads the per-role lists, rewritten with its role set's list. The old
-- condition is found in the stored policy text as written by the 0019/0031
-- `member_clinics_expr` (its role list in the fallback call); each is replaced by the new
-- expression for the same roles, so no policy's roles change (`tests/server/policies.rs`
-- compares them with the permission table).
DO $$
DECLARE
    old_expr constant text := $re$\(\s*SELECT\s+CASE\s+WHEN \(current_setting\('app\.identity'::text, true\) = current_setting\('app\.user_id'::text, true\)\) THEN [^E]*ELSE vaidya\.member_clinics\('(\{[a-z_,]+\})'::text\[\]\)\s+END AS member_clinics\)::uuid\[\]$re$;
    p record;
    v_qual text;
    v_check text;
    v_found text[];
    v_sql text;
BEGIN
    FOR p IN SELECT tablename, policyname, qual, with_check FROM pg_policies
              WHERE schemaname = 'vaidya'
                AND (qual LIKE '%app.identity%' OR with_check LIKE '%app.identity%')
    LOOP
        v_qual := p.qual;
        v_check := p.with_check;
        LOOP
            v_found := regexp_match(v_qual, old_expr);
            EXIT WHEN v_found IS NULL;
            v_qual := regexp_replace(v_qual, old_expr, vaidya.member_clinics_expr(v_found[1]::text[]));
        END LOOP;
        LOOP
            v_found := regexp_match(v_check, old_expr);
            EXIT WHEN v_found IS NULL;
            v_check := regexp_replace(v_check, old_expr, vaidya.member_clinics_expr(v_found[1]::text[]));
        END LOOP;
        -- The old conditions' spelling as stored (`'app.identity'::text`); the new text
        -- spells it without the cast.
        IF v_qual LIKE '%''app.identity''::text%' OR v_check LIKE '%''app.identity''::text%' THEN
            RAISE EXCEPTION 'policy % on % keeps a condition of per-role lists', p.policyname, p.tablename;
        END IF;
        v_sql := format('ALTER POLICY %I ON vaidya.%I', p.policyname, p.tablename);
        IF v_qual IS NOT NULL THEN
            v_sql := v_sql || format(' USING (%s)', v_qual);
        END IF;
        IF v_check IS NOT NULL THEN
            v_sql := v_sql || format(' WITH CHECK (%s)', v_check);
        END IF;
        EXECUTE v_sql;
    END LOOP;
END
$$;
