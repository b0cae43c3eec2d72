//! Schemathesis over `/v1/openapi.json` against a real server and database: every
//! operation, seeded, with a clinic's real ids so success paths are reached. It must end
//! with no server error (5xx), no status the document does not list, and only the content
//! types it names. Installed (pinned) by scripts/test.sh into `target/tools/schemathesis`;
//! skipped when absent unless `VAIDYA_REQUIRE_SCHEMATHESIS=1`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use vaidya_tests::{Harness, TestServer, World};

use crate::check;

fn schemathesis() -> Option<PathBuf> {
    let path = std::env::var_os("VAIDYA_SCHEMATHESIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../target/tools/schemathesis/bin/schemathesis")
        });
    path.exists().then_some(path)
}

pub async fn openapi_contract_holds_under_schemathesis(h: Arc<Harness>) -> Result<()> {
    let Some(tool) = schemathesis() else {
        if std::env::var("VAIDYA_REQUIRE_SCHEMATHESIS").as_deref() == Ok("1") {
            bail!("schemathesis is not installed (scripts/test.sh installs it)");
        }
        eprintln!("skipping: schemathesis is not installed");
        return Ok(());
    };
    let w = World::create(&h).await?;
    let seeds = crate::isolation::seed(&w.db.superuser().await?, &w.a).await?;
    let server = TestServer::spawn(&w.db, 4).await?;
    // The clinic's admin reaches members, invoices, payments, reports and the audit trail.
    let admin = server.login_as(&w.a.admin).await?;
    let token = admin.token.clone().context("signed in")?;
    let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("server/schemathesis.toml");
    let out = tokio::process::Command::new(&tool)
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(format!("{}/v1/openapi.json", server.base))
        .arg("--no-color")
        .env("VAIDYA_FUZZ_URL", &server.base)
        .env("VAIDYA_FUZZ_TOKEN", &token)
        .env("VAIDYA_FUZZ_CLINIC", w.a.id.to_string())
        .env("VAIDYA_FUZZ_PATIENT", seeds.patient.to_string())
        .env("VAIDYA_FUZZ_INVOICE", seeds.invoice.to_string())
        .env("VAIDYA_FUZZ_APPOINTMENT", seeds.appointment.to_string())
        .env("VAIDYA_FUZZ_MEMBER", w.a.nurse.id.to_string())
        // Its own caches and reports stay out of the source tree.
        .current_dir(std::env::temp_dir())
        .output()
        .await
        .context("running schemathesis")?;
    let report = String::from_utf8_lossy(&out.stdout);
    println!("{report}");
    check!(
        out.status.success(),
        "schemathesis found problems ({}):\n{report}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
