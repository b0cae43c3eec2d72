//! The database's row-level security policies agree with the Rust permission table
//! (`shared/src/rules/permissions.rs`): for every tenant table, SQL command and role, the
//! roles a policy names are exactly the roles the table's resource allows. A policy edited
//! by hand, or a table registered with other roles, fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use anyhow::{Context, Result};
use vaidya_shared::api::Role;
use vaidya_shared::rules::permissions::{opens_clinical_store, storage_roles, SqlCommand, TABLES};
use vaidya_shared::rules::Resource;
use vaidya_tests::Harness;

use crate::check;

/// The role names of the membership condition in a policy expression (the fallback call
/// `vaidya.member_clinics('{…}'::text[])` that `member_clinics_expr` writes in).
fn roles_in(expr: &str) -> Result<BTreeSet<String>> {
    const CALL: &str = "member_clinics('{";
    let start = expr
        .find(CALL)
        .context("the policy does not check a membership role list")?
        + CALL.len();
    let end = start + expr[start..].find('}').context("unterminated role list")?;
    Ok(expr[start..end].split(',').map(str::to_owned).collect())
}

fn names(roles: &[Role]) -> BTreeSet<String> {
    roles.iter().map(|r| r.as_str().to_owned()).collect()
}

async fn policies(h: &Harness) -> Result<BTreeMap<(String, String), (String, String)>> {
    let db = h.database().await?;
    let su = db.superuser().await?;
    let rows = su
        .query(
            "SELECT tablename::text, cmd, coalesce(qual, ''), coalesce(with_check, '')
             FROM pg_policies WHERE schemaname = 'vaidya' AND 'vaidya_app' = ANY (roles)",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| ((r.get(0), r.get(1)), (r.get(2), r.get(3))))
        .collect())
}

pub async fn policies_match_the_permission_table(h: Arc<Harness>) -> Result<()> {
    let found = policies(&h).await?;
    let mut compared = 0;
    for (table, resource) in TABLES {
        for (command, cmd) in [
            (SqlCommand::Select, "SELECT"),
            (SqlCommand::Insert, "INSERT"),
            (SqlCommand::Update, "UPDATE"),
        ] {
            let want = names(&storage_roles(*resource, command));
            let (qual, check_expr) = found
                .get(&(table.to_string(), cmd.to_owned()))
                .with_context(|| format!("{table} has no {cmd} policy for the app role"))?;
            // Each expression the policy has (USING, WITH CHECK) names exactly these roles.
            for expr in [qual, check_expr].into_iter().filter(|e| !e.is_empty()) {
                let got = roles_in(expr)?;
                check!(
                    got == want,
                    "{table} {cmd}: the policy allows {got:?}, the permission table {want:?}"
                );
                compared += 1;
            }
        }
        // No DELETE for anyone: clinical deletes are tombstones.
        check!(
            !found.contains_key(&(table.to_string(), "DELETE".to_owned()))
                && !found.contains_key(&(table.to_string(), "ALL".to_owned())),
            "{table} has a DELETE/ALL policy for the app role"
        );
    }
    // Every table with member policies is in the Rust table, so none escapes this
    // comparison, but for the tables of membership itself and of the sync machinery, whose
    // policies are written out in 0001/0002 and attacked in `isolation.rs`.
    // The clinical store keys are checked against `opens_clinical_store` below.
    const NOT_CLINICAL: [&str; 10] = [
        "clinical_store_keys",
        "clinics",
        "clinic_groups",
        "memberships",
        "users",
        "sync_mutations",
        "sync_conflicts",
        "clinic_counters",
        "invoice_device_series",
        "uploaded_accesses",
    ];
    let clinicians: Vec<Role> = Role::ALL
        .into_iter()
        .filter(|r| opens_clinical_store(*r))
        .collect();
    for cmd in ["SELECT", "INSERT"] {
        let (qual, check_expr) = found
            .get(&("clinical_store_keys".to_owned(), cmd.to_owned()))
            .with_context(|| format!("clinical_store_keys has no {cmd} policy"))?;
        for expr in [qual, check_expr].into_iter().filter(|e| !e.is_empty()) {
            let got = roles_in(expr)?;
            check!(
                got == names(&clinicians),
                "clinical_store_keys {cmd}: the policy allows {got:?}, opens_clinical_store {clinicians:?}"
            );
        }
    }
    let registered = h
        .database()
        .await?
        .superuser()
        .await?
        .query(
            "SELECT DISTINCT tablename::text FROM pg_policies
             WHERE schemaname = 'vaidya' AND policyname = 'member_select'",
            &[],
        )
        .await?;
    for row in registered {
        let table: String = row.get(0);
        check!(
            NOT_CLINICAL.contains(&table.as_str()) || TABLES.iter().any(|(t, _)| *t == table),
            "{table} is a tenant table but not in permissions::TABLES"
        );
    }
    // Conflicts show a clinical record's values only to those who may read the record.
    let (qual, _) = found
        .get(&("sync_conflicts".to_owned(), "SELECT".to_owned()))
        .context("sync_conflicts has no SELECT policy")?;
    check!(
        qual.contains(&format!(
            "{{{}}}",
            storage_roles(Resource::Encounter, SqlCommand::Select)
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(",")
        )),
        "sync_conflicts hides clinical conflicts from other roles than the permission table's readers of notes"
    );
    check!(
        compared >= 40,
        "only {compared} policy expressions compared"
    );
    Ok(())
}

/// The comparison itself would catch a hand edit: widen one policy and it must fail.
pub async fn a_hand_edited_policy_is_caught(h: Arc<Harness>) -> Result<()> {
    let db = h.database().await?;
    let su = db.superuser().await?;
    su.batch_execute(
        "DO $$ BEGIN
           EXECUTE format('ALTER POLICY member_insert ON vaidya.prescriptions WITH CHECK (clinic_id = ANY (%s))',
                          vaidya.member_clinics_expr('{doctor,nurse}'));
         END $$",
    )
    .await?;
    let rows = su
        .query_one(
            "SELECT with_check FROM pg_policies WHERE schemaname = 'vaidya'
               AND tablename = 'prescriptions' AND policyname = 'member_insert'",
            &[],
        )
        .await?;
    let got = roles_in(rows.get(0))?;
    let want = names(&storage_roles(Resource::Prescription, SqlCommand::Insert));
    check!(
        got != want,
        "the edited policy still reads as the table's roles"
    );
    Ok(())
}

/// Every entity of the registry may have a conflict recorded about it: the inbox's entity
/// check lists each `EntityKind` (a kind missing there made its conflicts fail as invalid
/// input, and the device's change was rejected instead of applied).
pub async fn conflicts_may_name_every_entity_of_the_registry(h: Arc<Harness>) -> Result<()> {
    let db = h.database().await?;
    let client = db.superuser().await?;
    let check = client
        .query_one(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint
             WHERE conrelid = 'vaidya.sync_conflicts'::regclass AND conname = 'sync_conflicts_entity_check'",
            &[],
        )
        .await?
        .get::<_, String>(0);
    for kind in vaidya_shared::sync::EntityKind::ALL {
        check!(
            check.contains(&format!("'{}'", kind.as_str())),
            "sync_conflicts may not name {:?}: {check}",
            kind
        );
    }
    Ok(())
}

/// The roles the database accepts are the Rust enum's: every `Role` for a membership, and a
/// person's roles (`Role::STAFF`) for an invitation; nothing else in either (a role named in
/// SQL but not in Rust, or the reverse, fails here).
pub async fn the_databases_roles_are_the_role_enum(h: Arc<Harness>) -> Result<()> {
    let db = h.database().await?;
    let client = db.superuser().await?;
    for (table, constraint, want) in [
        ("memberships", "memberships_role_check", names(&Role::ALL)),
        ("invitations", "invitations_role_check", names(&Role::STAFF)),
    ] {
        let def: String = client
            .query_one(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint
                 WHERE conrelid = ('vaidya.' || $1)::regclass AND conname = $2",
                &[&table, &constraint],
            )
            .await?
            .get(0);
        // Every quoted name in the CHECK: `'admin'::text`, …
        let got: BTreeSet<String> = def
            .split('\'')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect();
        check!(
            got == want,
            "{table}: the database's roles {got:?}, the enum's {want:?}"
        );
    }
    Ok(())
}

/// Every membership condition reads the list of the same role set as its fallback names:
/// `app.clinics_doctor_nurse` goes with `member_clinics('{doctor,nurse}')` (migration 0036).
/// A policy whose list and fallback disagree would allow one set of roles through
/// `set_identity` and another through a bare identity; `roles_in` reads only the fallback.
pub async fn each_condition_reads_its_own_role_sets_list(h: Arc<Harness>) -> Result<()> {
    const LIST: &str = "current_setting('app.clinics_";
    const CALL: &str = "member_clinics('{";
    let found = policies(&h).await?;
    let mut conditions = 0;
    for ((table, cmd), (qual, check_expr)) in &found {
        for expr in [qual, check_expr] {
            let mut rest = expr.as_str();
            while let Some(at) = rest.find(LIST) {
                let name_start = at + LIST.len();
                let name_end = name_start
                    + rest[name_start..]
                        .find('\'')
                        .context("unterminated setting name")?;
                let setting = &rest[name_start..name_end];
                let call = name_end
                    + rest[name_end..]
                        .find(CALL)
                        .with_context(|| format!("{table} {cmd}: a list without its fallback"))?
                    + CALL.len();
                let call_end = call + rest[call..].find('}').context("unterminated role list")?;
                let roles = rest[call..call_end].replace(',', "_");
                check!(
                    setting == roles,
                    "{table} {cmd}: reads app.clinics_{setting} but falls back to the roles {roles}"
                );
                conditions += 1;
                rest = &rest[call_end..];
            }
        }
    }
    check!(
        conditions >= 60,
        "only {conditions} membership conditions compared"
    );
    Ok(())
}
