//! `vaidya-server verify-isolation`: checks a live database against the isolation
//! invariants and names every violation. Isolation is "a default you can verify": this is
//! the verification, runnable by an operator at any time.

use anyhow::Result;
use tokio_postgres::Client;

use crate::migrate::{APP_ROLE, OWNER_ROLE};

/// Tables where the owner may see every row (identity, sign-in and audit plumbing used by
/// the SECURITY DEFINER functions and the admin CLI). Clinical tables are never here.
const OWNER_READABLE: &[&str] = &[
    "clinic_groups",
    "clinics",
    "users",
    "memberships",
    "sessions",
    "login_failures",
    "audit_log",
    "audit_chain_heads",
    "retired_refresh_tokens",
    "known_devices",
    "device_keys",
    // Ids and times of device wipes (audit plumbing), and the pull-cursor key.
    "device_wipes",
    "server_secrets",
    // Open invitations are membership plumbing (answered through a definer function).
    "invitations",
    // Hubs registered and approved: membership plumbing too (migration 0031).
    "hub_registrations",
    // One-time sign-in challenges of a clinic hub (migration 0032): sign-in plumbing.
    "device_challenges",
    // A hub's own bookkeeping: where its copy stands and what it forwards (migration 0032).
    "hub_replica",
    "hub_relay",
];

/// Run every check; an empty list means the database holds all invariants.
pub async fn verify(client: &Client) -> Result<Vec<String>> {
    let mut v = Vec::new();

    // 1. Every table with clinic_id (and every table the app role can touch) has RLS
    //    enabled and forced.
    for r in client
        .query(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                    EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'clinic_id' AND NOT a.attisdropped) AS tenant,
                    has_table_privilege($1, c.oid, 'SELECT,INSERT,UPDATE,DELETE') AS app_access
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'vaidya' AND c.relkind IN ('r', 'p') ORDER BY c.relname",
            &[&APP_ROLE],
        )
        .await?
    {
        let (name, enabled, forced, tenant, app_access): (String, bool, bool, bool, bool) =
            (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
        if tenant || app_access {
            if !enabled {
                v.push(format!("table vaidya.{name}: row level security is not enabled"));
            }
            if !forced {
                v.push(format!("table vaidya.{name}: row level security is not forced"));
            }
        }
    }

    // 2. The app role's attributes.
    match client
        .query_opt(
            "SELECT rolsuper, rolbypassrls, rolcanlogin, rolcreaterole, rolcreatedb, rolreplication FROM pg_roles WHERE rolname = $1",
            &[&APP_ROLE],
        )
        .await?
    {
        None => v.push(format!("role {APP_ROLE} does not exist")),
        Some(r) => {
            let flags = [("SUPERUSER", 0, true), ("BYPASSRLS", 1, true), ("LOGIN", 2, false), ("CREATEROLE", 3, true), ("CREATEDB", 4, true), ("REPLICATION", 5, true)];
            for (name, idx, must_be_false) in flags {
                let value: bool = r.get(idx);
                if value == must_be_false {
                    v.push(format!("role {APP_ROLE}: {}{name}", if must_be_false { "has " } else { "lacks " }));
                }
            }
        }
    }
    // Membership in a privileged role would hand over its rights.
    for r in client
        .query(
            "SELECT b.rolname FROM pg_roles b WHERE pg_has_role($1, b.oid, 'MEMBER') AND b.rolname <> $1
               AND (b.rolsuper OR b.rolbypassrls OR b.rolname = $2 OR b.rolname IN ('pg_write_server_files', 'pg_execute_server_program', 'pg_read_all_data', 'pg_write_all_data'))",
            &[&APP_ROLE, &OWNER_ROLE],
        )
        .await?
    {
        v.push(format!("role {APP_ROLE} is a member of privileged role {}", r.get::<_, String>(0)));
    }

    // 3. The app role owns nothing.
    let owned: i64 = client
        .query_one(
            "SELECT (SELECT count(*) FROM pg_class WHERE relowner = r.oid) + (SELECT count(*) FROM pg_proc WHERE proowner = r.oid)
                  + (SELECT count(*) FROM pg_namespace WHERE nspowner = r.oid) + (SELECT count(*) FROM pg_type WHERE typowner = r.oid)
             FROM pg_roles r WHERE r.rolname = $1",
            &[&APP_ROLE],
        )
        .await
        .map(|r| r.get(0))
        .unwrap_or(0);
    if owned > 0 {
        v.push(format!("role {APP_ROLE} owns {owned} database objects"));
    }

    // 4. No CREATE in any schema, no TEMP on the database.
    for r in client
        .query(
            "SELECT nspname FROM pg_namespace WHERE has_schema_privilege($1, oid, 'CREATE')",
            &[&APP_ROLE],
        )
        .await?
    {
        v.push(format!(
            "role {APP_ROLE} can CREATE in schema {}",
            r.get::<_, String>(0)
        ));
    }
    let temp: bool = client
        .query_one(
            "SELECT has_database_privilege($1, current_database(), 'TEMP')",
            &[&APP_ROLE],
        )
        .await?
        .get(0);
    if temp {
        v.push(format!("role {APP_ROLE} can create TEMP tables"));
    }

    // 5. No TRUNCATE or DELETE anywhere; nothing but SELECT on the audit log.
    for r in client
        .query(
            "SELECT c.relname, has_table_privilege($1, c.oid, 'TRUNCATE'), has_table_privilege($1, c.oid, 'DELETE'),
                    has_table_privilege($1, c.oid, 'INSERT,UPDATE,REFERENCES,TRIGGER')
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'vaidya' AND c.relkind IN ('r', 'p', 'v', 'm')",
            &[&APP_ROLE],
        )
        .await?
    {
        let name: String = r.get(0);
        if r.get::<_, bool>(1) {
            v.push(format!("role {APP_ROLE} may TRUNCATE vaidya.{name}"));
        }
        if r.get::<_, bool>(2) {
            v.push(format!("role {APP_ROLE} may DELETE from vaidya.{name} (deletes are tombstones)"));
        }
        if name == "audit_log" && r.get::<_, bool>(3) {
            v.push(format!("role {APP_ROLE} may write vaidya.audit_log directly"));
        }
    }

    // 6. The audit log's guard triggers exist and are enabled.
    let guards: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'vaidya' AND c.relname = 'audit_log' AND t.tgname IN ('audit_append_only', 'audit_no_truncate') AND t.tgenabled <> 'D'",
            &[],
        )
        .await?
        .get(0);
    if guards != 2 {
        v.push(
            "table vaidya.audit_log: append-only guard triggers are missing or disabled"
                .to_string(),
        );
    }

    // 7. Policies: every command policy for the app role has USING and WITH CHECK where the
    //    command needs them; only the allow-listed tables give the owner a policy.
    for r in client
        .query(
            "SELECT tablename, policyname, cmd, roles::text[], qual IS NOT NULL, with_check IS NOT NULL
             FROM pg_policies WHERE schemaname = 'vaidya'",
            &[],
        )
        .await?
    {
        let (table, policy, cmd, roles, has_using, has_check): (String, String, String, Vec<String>, bool, bool) =
            (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5));
        if roles.iter().any(|r| r == "public") {
            v.push(format!("policy {policy} on vaidya.{table} applies to PUBLIC; name the role"));
        }
        if roles.iter().any(|r| r == OWNER_ROLE) && !OWNER_READABLE.contains(&table.as_str()) {
            v.push(format!("policy {policy} on vaidya.{table} lets the owner role through"));
        }
        let needs_using = matches!(cmd.as_str(), "SELECT" | "UPDATE" | "DELETE" | "ALL");
        let needs_check = matches!(cmd.as_str(), "INSERT" | "UPDATE" | "ALL");
        if needs_using && !has_using {
            v.push(format!("policy {policy} on vaidya.{table} has no USING clause"));
        }
        if needs_check && !has_check && cmd != "ALL" {
            v.push(format!("policy {policy} on vaidya.{table} has no WITH CHECK clause"));
        }
    }

    // 8. SECURITY DEFINER functions: fixed search_path, no PUBLIC execute.
    for r in client
        .query(
            "SELECT p.oid::regprocedure::text, p.proconfig,
                    EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema')",
            &[],
        )
        .await?
    {
        let (name, config, public): (String, Option<Vec<String>>, bool) = (r.get(0), r.get(1), r.get(2));
        if !config.unwrap_or_default().iter().any(|c| c.starts_with("search_path=")) {
            v.push(format!("SECURITY DEFINER function {name} has no fixed search_path"));
        }
        if public {
            v.push(format!("SECURITY DEFINER function {name} is executable by PUBLIC"));
        }
    }

    // 8b. A SECURITY DEFINER function that takes a clinic re-checks the caller's membership
    //     (it runs with the owner's rights: without the check any signed-in user could act
    //     on any clinic through it), reading `memberships` or the caller's clinics from
    //     `vaidya.member_clinics`.
    for r in client
        .query(
            "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE p.prosecdef AND n.nspname = 'vaidya'
               AND EXISTS (
                   -- Input arguments only: the columns a function returns may name a clinic.
                   SELECT 1 FROM unnest(
                       coalesce(p.proargnames, '{}'),
                       coalesce(p.proargmodes,
                                array_fill('i'::\"char\", ARRAY[cardinality(coalesce(p.proargnames, '{}'))]))
                   ) AS a(name, mode)
                   WHERE a.name LIKE '%clinic%' AND a.mode IN ('i', 'b', 'v'))
               AND p.prosrc NOT LIKE '%vaidya.memberships%'
               AND p.prosrc NOT LIKE '%vaidya.member_clinics(%'",
            &[],
        )
        .await?
    {
        let name: String = r.get(0);
        v.push(format!(
            "SECURITY DEFINER function {name} takes a clinic but never checks the caller's membership"
        ));
    }

    // 9. Views must run with the caller's rights, or they bypass RLS.
    for r in client
        .query(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'vaidya' AND c.relkind = 'v'
               AND NOT coalesce('security_invoker=true' = ANY (c.reloptions) OR 'security_invoker=on' = ANY (c.reloptions), false)",
            &[],
        )
        .await?
    {
        v.push(format!("view vaidya.{} is not security_invoker", r.get::<_, String>(0)));
    }

    // 10. Unique constraints on tenant tables must be scoped by clinic, or a duplicate check
    //     reveals another clinic's values.
    for r in client
        .query(
            "SELECT c.relname, i.relname FROM pg_index x
             JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'vaidya' AND x.indisunique
               AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'clinic_id')
               AND (SELECT attnum FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'clinic_id') <> x.indkey[0]",
            &[],
        )
        .await?
    {
        v.push(format!("unique index {} on vaidya.{} does not start with clinic_id", r.get::<_, String>(1), r.get::<_, String>(0)));
    }

    // 11. A foreign key between two tenant tables pairs their clinic_id columns: a row can
    //     then only point into its own clinic, and the schema stays distributable by clinic
    //     (Citus co-locates tenant tables on the distribution column, which every key must
    //     carry; keys to tables without clinic_id, such as clinics and users, go to
    //     reference tables and are fine).
    for r in client
        .query(
            "SELECT c.relname, con.conname, f.relname
             FROM pg_constraint con
             JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_class f ON f.oid = con.confrelid
             JOIN pg_attribute ca ON ca.attrelid = c.oid AND ca.attname = 'clinic_id' AND NOT ca.attisdropped
             JOIN pg_attribute fa ON fa.attrelid = f.oid AND fa.attname = 'clinic_id' AND NOT fa.attisdropped
             WHERE con.contype = 'f' AND n.nspname = 'vaidya'
               AND NOT EXISTS (SELECT 1 FROM unnest(con.conkey, con.confkey) AS k(l, r)
                               WHERE k.l = ca.attnum AND k.r = fa.attnum)
             ORDER BY 1, 2",
            &[],
        )
        .await?
    {
        v.push(format!(
            "foreign key {} on vaidya.{} points into vaidya.{} without pairing clinic_id",
            r.get::<_, String>(1),
            r.get::<_, String>(0),
            r.get::<_, String>(2)
        ));
    }

    Ok(v)
}
