//! `vaidya`: the operator's command line over the offline core (sign in, sync, status,
//! search, sign out), also used by end-to-end tests.
//!
//! The password comes from `VAIDYA_PASSWORD` or a line on standard input; it is never a
//! command-line argument (those show up in process lists and shell history).

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use uuid::Uuid;
use vaidya_client::credentials::DEFAULT_SERVICE;
use vaidya_client::session::{Client, ClientConfig};
use vaidya_client::sync::status_of;
use vaidya_client::{CredentialStore, DataDir};

#[derive(Parser)]
#[command(name = "vaidya", about = "Vaidya offline client", version)]
struct Cli {
    /// Data directory (default: the platform's per-user data directory).
    #[arg(long, env = "VAIDYA_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// Keyring service name (tests use their own).
    #[arg(long, env = "VAIDYA_KEYRING_SERVICE", global = true, default_value = DEFAULT_SERVICE)]
    keyring_service: String,
    /// Server URL; defaults to the one last signed in to.
    #[arg(long, env = "VAIDYA_SERVER", global = true)]
    server: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sign in online (password from VAIDYA_PASSWORD or standard input).
    Login {
        #[arg(long)]
        email: String,
    },
    /// Push local changes and pull the server's, for one clinic or all of them.
    Sync {
        #[arg(long)]
        clinic: Option<Uuid>,
    },
    /// What is waiting to sync, per clinic.
    Status,
    /// Search patients in the local cache of every clinic.
    Search { query: String },
    /// Sign out: the partitions stay locked until the next online sign-in.
    Logout,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli).await {
        // The code first, so scripts can switch on it.
        let code = e
            .downcast_ref::<vaidya_client::SessionError>()
            .map(|e| e.code())
            .or_else(|| {
                e.downcast_ref::<vaidya_client::SyncError>()
                    .map(|e| e.code())
            })
            .unwrap_or("error");
        eprintln!("error [{code}]: {e:#}");
        std::process::exit(1);
    }
}

fn config(cli: &Cli, credentials: &CredentialStore) -> Result<ClientConfig> {
    let data_dir = match &cli.data_dir {
        Some(d) => DataDir::new(d),
        None => DataDir::platform_default()?,
    };
    let server = match &cli.server {
        Some(s) => s.clone(),
        None => match credentials.active()? {
            Some(a) => a.server,
            None => bail!("no server given and nobody signed in; use --server"),
        },
    };
    Ok(ClientConfig::new(&server, data_dir, credentials.clone()))
}

fn password() -> Result<String> {
    if let Ok(p) = std::env::var("VAIDYA_PASSWORD") {
        return Ok(p);
    }
    eprint!("password: ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

async fn run(cli: Cli) -> Result<()> {
    let credentials = CredentialStore::new(&cli.keyring_service);
    let config = config(&cli, &credentials)?;
    match &cli.command {
        Command::Login { email } => {
            let client = Client::sign_in(config, email, &password()?).await?;
            println!("signed in as {} ({})", client.email(), client.user_id());
            for m in client.memberships() {
                println!("  {}  {}  {}", m.clinic_id, m.role.as_str(), m.clinic_name);
            }
            println!("offline until {}", client.lease_until());
        }
        Command::Sync { clinic } => {
            let client = Client::resume(config).await?;
            let clinics: Vec<Uuid> = match clinic {
                Some(c) => vec![*c],
                None => client.clinics().to_vec(),
            };
            for clinic in clinics {
                let mut engine = client.sync_engine(clinic)?.on_progress(|p| {
                    if let Some(pct) = p.percent {
                        eprintln!("  {} rows, {} bytes, {pct:.0}%", p.rows, p.bytes);
                    }
                });
                let report = engine
                    .sync()
                    .await
                    .with_context(|| format!("clinic {clinic}"))?;
                let status = engine.status()?;
                println!(
                    "{clinic}: pushed {} (applied {}, conflicts {}, rejected {}), pulled {} in {} pages; {}",
                    report.pushed,
                    report.applied,
                    report.conflicts,
                    report.rejected,
                    report.pulled,
                    report.pages,
                    if status.synced { "synced" } else { "NOT synced" }
                );
            }
        }
        Command::Status => {
            let client = Client::start_offline(config)?;
            println!(
                "{} ({:?}), offline until {}",
                client.email(),
                client.mode(),
                client.lease_until()
            );
            for clinic in client.clinics() {
                let partition = client.open_partition(*clinic)?;
                let s = status_of(&partition)?;
                println!(
                    "{clinic}: pending {}, rejected {}, conflicts {}, last synced {}, {}",
                    s.pending,
                    s.rejected,
                    s.conflicts,
                    s.last_synced_at
                        .map_or("never".to_owned(), |t| t.to_rfc3339()),
                    if s.synced { "synced" } else { "not synced" }
                );
            }
        }
        Command::Search { query } => {
            let client = Client::start_offline(config)?;
            for clinic in client.clinics() {
                let partition = client.open_partition(*clinic)?;
                for p in partition.search_patients(query, 50)? {
                    println!(
                        "{clinic}  #{}  {}  {}",
                        p.patient_number,
                        p.name,
                        p.phone.unwrap_or_default()
                    );
                }
            }
        }
        Command::Logout => match Client::start_offline(config.clone()) {
            Ok(client) => {
                client.sign_out().await?;
                println!("signed out");
            }
            Err(_) => {
                // An expired lease still leaves a refresh token to remove.
                if let Some(active) = credentials.active()? {
                    credentials.sign_out(&active.server, active.user_id)?;
                    credentials.clear_active()?;
                }
                println!("signed out");
            }
        },
    }
    Ok(())
}
