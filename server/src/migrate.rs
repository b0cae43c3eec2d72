//! `vaidya-server migrate`: creates or updates the roles, the schema and its policies.
//!
//! Runs with an administrator connection (a superuser, or a role that may create roles).
//! Everything in the schema is created as `vaidya_owner`; the server itself later connects
//! as `vaidya_app`, which owns nothing. Idempotent: running it twice changes nothing.

use anyhow::{Context, Result};
use tokio_postgres::Client;

/// Role that owns the schema; NOLOGIN, used only by migrations and the admin CLI.
pub const OWNER_ROLE: &str = "vaidya_owner";
/// Role the server runs as.
pub const APP_ROLE: &str = "vaidya_app";
/// Role that owns `vaidya.merge_patients` (migration 0029) and nothing else: NOLOGIN, it
/// may read the ids and move the `patient_id` of a clinic's records, for callers who are
/// admins of that clinic, and read nothing of what the records say.
pub const MERGER_ROLE: &str = "vaidya_merger";

/// Migrations in order. A shipped file is never edited; changes go in a new one.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_initial",
        include_str!("../migrations/0001_initial.sql"),
    ),
    ("0002_sync", include_str!("../migrations/0002_sync.sql")),
    (
        "0003_discard_audit",
        include_str!("../migrations/0003_discard_audit.sql"),
    ),
    (
        "0004_tenant_policies",
        include_str!("../migrations/0004_tenant_policies.sql"),
    ),
    (
        "0005_allergies",
        include_str!("../migrations/0005_allergies.sql"),
    ),
    (
        "0006_cancelled_invoice_numbers",
        include_str!("../migrations/0006_cancelled_invoice_numbers.sql"),
    ),
    (
        "0007_audit_guards",
        include_str!("../migrations/0007_audit_guards.sql"),
    ),
    (
        "0008_refresh_grace_pair",
        include_str!("../migrations/0008_refresh_grace_pair.sql"),
    ),
    (
        "0009_login_throttle",
        include_str!("../migrations/0009_login_throttle.sql"),
    ),
    (
        "0010_device_keys",
        include_str!("../migrations/0010_device_keys.sql"),
    ),
    (
        "0011_act_times",
        include_str!("../migrations/0011_act_times.sql"),
    ),
    (
        "0012_device_wipes",
        include_str!("../migrations/0012_device_wipes.sql"),
    ),
    (
        "0013_cursor_key",
        include_str!("../migrations/0013_cursor_key.sql"),
    ),
    (
        "0014_gst_2025_rates",
        include_str!("../migrations/0014_gst_2025_rates.sql"),
    ),
    (
        "0015_invoice_supplier",
        include_str!("../migrations/0015_invoice_supplier.sql"),
    ),
    (
        "0016_invitations",
        include_str!("../migrations/0016_invitations.sql"),
    ),
    (
        "0017_invoice_recipient",
        include_str!("../migrations/0017_invoice_recipient.sql"),
    ),
    (
        "0018_invoice_cancellation",
        include_str!("../migrations/0018_invoice_cancellation.sql"),
    ),
    (
        "0019_identity_memberships",
        include_str!("../migrations/0019_identity_memberships.sql"),
    ),
    (
        "0020_patient_search",
        include_str!("../migrations/0020_patient_search.sql"),
    ),
    (
        "0021_invoice_series",
        include_str!("../migrations/0021_invoice_series.sql"),
    ),
    (
        "0022_credit_notes",
        include_str!("../migrations/0022_credit_notes.sql"),
    ),
    (
        "0023_line_treatment",
        include_str!("../migrations/0023_line_treatment.sql"),
    ),
    (
        "0024_catalogue",
        include_str!("../migrations/0024_catalogue.sql"),
    ),
    (
        "0025_medical_registration",
        include_str!("../migrations/0025_medical_registration.sql"),
    ),
    (
        "0026_invoice_doctor",
        include_str!("../migrations/0026_invoice_doctor.sql"),
    ),
    (
        "0027_clinical_store_keys",
        include_str!("../migrations/0027_clinical_store_keys.sql"),
    ),
    (
        "0028_duplicate_patients",
        include_str!("../migrations/0028_duplicate_patients.sql"),
    ),
    (
        "0029_patient_merge",
        include_str!("../migrations/0029_patient_merge.sql"),
    ),
    (
        "0030_conflicts_of_every_entity",
        include_str!("../migrations/0030_conflicts_of_every_entity.sql"),
    ),
    (
        "0031_clinic_hubs",
        include_str!("../migrations/0031_clinic_hubs.sql"),
    ),
    (
        "0032_hub_replica",
        include_str!("../migrations/0032_hub_replica.sql"),
    ),
    (
        "0033_device_challenge_cap",
        include_str!("../migrations/0033_device_challenge_cap.sql"),
    ),
    (
        "0034_hub_relay_answers",
        include_str!("../migrations/0034_hub_relay_answers.sql"),
    ),
    (
        "0035_hub_certificate_listed",
        include_str!("../migrations/0035_hub_certificate_listed.sql"),
    ),
    (
        "0036_identity_role_sets",
        include_str!("../migrations/0036_identity_role_sets.sql"),
    ),
    (
        "0037_patient_list_collation",
        include_str!("../migrations/0037_patient_list_collation.sql"),
    ),
];

/// The schema this binary migrates to: its last migration's name. A clinic hub applies the
/// group server's stored rows only under the same (`sync::hub_feed`).
pub fn schema_version() -> &'static str {
    MIGRATIONS.last().expect("at least one migration").0
}

/// Connect with tokio-postgres, driving the connection on a background task.
pub async fn connect(url: &str) -> Result<Client> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .with_context(|| format!("connecting to {}", redact(url)))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("postgres connection closed: {e}");
        }
    });
    Ok(client)
}

/// Hide the password of a connection URL for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..scheme], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// Create or update roles and apply pending migrations. `app_password` sets the app role's
/// password (required the first time; when `None` an existing password is kept).
pub async fn migrate(admin_url: &str, app_password: Option<&str>) -> Result<Vec<String>> {
    let client = connect(admin_url).await?;
    ensure_roles(&client, app_password).await?;

    let database: String = client
        .query_one("SELECT current_database()", &[])
        .await?
        .get(0);
    // Only the roles that need it may connect; nobody gets TEMP (the app role must not be
    // able to create anything, temporary tables included).
    for sql in [
        format!(
            "REVOKE ALL ON DATABASE {} FROM PUBLIC",
            quote_ident(&database)
        ),
        format!(
            "GRANT CONNECT ON DATABASE {} TO {APP_ROLE}, {OWNER_ROLE}",
            quote_ident(&database)
        ),
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC".to_string(),
        // GIN operator classes for plain columns, so a search index can lead with the clinic
        // (0020). A trusted extension shipped with PostgreSQL: the database's owner may add it.
        "CREATE EXTENSION IF NOT EXISTS btree_gin".to_string(),
        format!("CREATE SCHEMA IF NOT EXISTS vaidya AUTHORIZATION {OWNER_ROLE}"),
    ] {
        client
            .batch_execute(&sql)
            .await
            .with_context(|| sql.clone())?;
    }

    client
        .batch_execute(&format!(
            "SET ROLE {OWNER_ROLE};
             CREATE TABLE IF NOT EXISTS vaidya.schema_migrations (
                 version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());"
        ))
        .await?;

    let mut applied = Vec::new();
    for (version, sql) in MIGRATIONS {
        client.batch_execute("BEGIN").await?;
        // Two migrators at once wait for each other instead of racing.
        client
            .batch_execute("SELECT pg_advisory_xact_lock(7283946501)")
            .await?;
        let done = client
            .query_opt(
                "SELECT 1 FROM vaidya.schema_migrations WHERE version = $1",
                &[version],
            )
            .await?
            .is_some();
        if done {
            client.batch_execute("COMMIT").await?;
            continue;
        }
        if let Err(e) = client.batch_execute(sql).await {
            client.batch_execute("ROLLBACK").await.ok();
            return Err(anyhow::Error::new(e).context(format!("applying migration {version}")));
        }
        client
            .execute(
                "INSERT INTO vaidya.schema_migrations (version) VALUES ($1)",
                &[version],
            )
            .await?;
        client.batch_execute("COMMIT").await?;
        applied.push(version.to_string());
    }
    client.batch_execute("RESET ROLE").await?;
    Ok(applied)
}

async fn ensure_roles(client: &Client, app_password: Option<&str>) -> Result<()> {
    let exists = |name: &'static str| async move {
        client
            .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&name])
            .await
            .map(|r| r.is_some())
    };
    if !exists(OWNER_ROLE).await? {
        client
            .batch_execute(&format!(
                "CREATE ROLE {OWNER_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"
            ))
            .await?;
    }
    if !exists(MERGER_ROLE).await? {
        client
            .batch_execute(&format!(
                "CREATE ROLE {MERGER_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"
            ))
            .await?;
    }
    // The owner hands the merge function to it (ALTER FUNCTION … OWNER needs membership).
    let owner_may: bool = client
        .query_one(
            "SELECT pg_has_role($1, $2, 'MEMBER')",
            &[&OWNER_ROLE, &MERGER_ROLE],
        )
        .await?
        .get(0);
    if !owner_may {
        client
            .batch_execute(&format!("GRANT {MERGER_ROLE} TO {OWNER_ROLE}"))
            .await?;
    }
    if !exists(APP_ROLE).await? {
        client
            .batch_execute(&format!(
                "CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION"
            ))
            .await?;
    }
    // Re-assert the attributes when someone loosened them. Only then: roles are shared by
    // the cluster, and altering them from two databases at once conflicts.
    let loosened: bool = client
        .query_one(
            "SELECT bool_or(CASE WHEN rolname = $1
                           THEN rolsuper OR rolbypassrls OR NOT rolcanlogin OR rolcreatedb OR rolcreaterole OR rolinherit OR rolreplication
                           ELSE rolsuper OR rolbypassrls OR rolcanlogin END)
             FROM pg_roles WHERE rolname IN ($1, $2, $3)",
            &[&APP_ROLE, &OWNER_ROLE, &MERGER_ROLE],
        )
        .await?
        .get(0);
    if loosened {
        client
            .batch_execute(&format!(
                "ALTER ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION;
                 ALTER ROLE {OWNER_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS;
                 ALTER ROLE {MERGER_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS;"
            ))
            .await?;
    }
    if let Some(password) = app_password {
        // Passwords cannot be bind parameters in ALTER ROLE; let the server quote the literal.
        let sql: String = client
            .query_one(
                &format!("SELECT format('ALTER ROLE {APP_ROLE} PASSWORD %L', $1::text)"),
                &[&password],
            )
            .await?
            .get(0);
        client.batch_execute(&sql).await?;
    }
    Ok(())
}

/// Quote an SQL identifier (for the database name in GRANT statements).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    /// A migration file that is not in `MIGRATIONS` would never run; this catches it.
    #[test]
    fn every_migration_file_is_listed_in_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".sql"))
            .map(|name| name.trim_end_matches(".sql").to_owned())
            .collect();
        files.sort();
        let listed: Vec<String> = super::MIGRATIONS
            .iter()
            .map(|(name, _)| name.to_string())
            .collect();
        assert_eq!(listed, files);
    }

    use super::*;

    #[test]
    fn redacts_password() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("host=/tmp dbname=x"), "host=/tmp dbname=x");
    }

    #[test]
    fn quotes_identifiers() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
