//! `vaidya-server`: the command-line front of the sync server.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use tokio::net::TcpListener;
use uuid::Uuid;
use vaidya_server::{
    admin::Admin, audit_chain, demo, migrate, pg_cluster::PgCluster, verify_isolation, Settings,
};
use vaidya_shared::api::Role;

#[derive(Parser)]
#[command(
    name = "vaidya-server",
    version,
    about = "Vaidya sync server: clinic data in PostgreSQL under forced row-level security, with an audit trail of every access."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Db {
    /// PostgreSQL connection URL, e.g. postgres://user:pass@127.0.0.1:5432/vaidya
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
}

#[derive(Subcommand)]
enum Command {
    /// Create or update roles, schema and policies (idempotent). Needs an administrator URL
    /// (a superuser or a role that may create roles).
    Migrate {
        #[command(flatten)]
        db: Db,
        /// Password to set for the app role `vaidya_app` (required on first run).
        #[arg(long, env = "VAIDYA_APP_PASSWORD")]
        app_password: Option<String>,
    },
    /// Serve the API. Connect as the app role `vaidya_app`, never the owner.
    Serve {
        #[command(flatten)]
        db: Db,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080", env = "VAIDYA_LISTEN")]
        listen: SocketAddr,
        /// DATABASE_URL is a pooler in transaction mode (PgBouncer): prepare statements per
        /// transaction instead of caching them per connection.
        #[arg(long, env = "VAIDYA_DATABASE_POOLED")]
        pooled: bool,
        /// Where live change notifications are listened for (LISTEN needs PostgreSQL
        /// itself, not a transaction-mode pooler). Default: DATABASE_URL.
        #[arg(long, env = "VAIDYA_LISTEN_DATABASE_URL")]
        listen_database_url: Option<String>,
        /// Directory holding the desktop release's `latest.json`, announced to clinic PCs as
        /// an update (docs/desktop.md, "Updates").
        #[arg(long, env = "VAIDYA_DESKTOP_RELEASES")]
        desktop_releases: Option<PathBuf>,
    },
    /// Bootstrap a deployment: clinic groups, clinics, users, memberships (administrator URL).
    Admin {
        #[command(flatten)]
        db: Db,
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Check a live database against the isolation invariants; exits 1 naming each violation.
    VerifyIsolation {
        #[command(flatten)]
        db: Db,
    },
    /// The clinic hub (issue 11): register this machine as a clinic's hub with the group
    /// server (an admin), approve it (a doctor), and check its connection.
    Hub {
        #[command(subcommand)]
        action: HubAction,
    },
    /// Audit trail tools.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Run locally: with no database URL, start a private PostgreSQL cluster under a data
    /// directory, migrate, seed demo data (printing the sign-ins) and serve.
    Dev {
        /// Administrator URL of an existing PostgreSQL instead of the private cluster.
        #[arg(long, env = "DATABASE_URL")]
        database_url: Option<String>,
        /// Where the private cluster lives.
        #[arg(long, env = "VAIDYA_DEV_DATA")]
        data_dir: Option<PathBuf>,
        /// Port of the private cluster (loopback only).
        #[arg(long, default_value_t = 55432)]
        pg_port: u16,
        #[arg(long, default_value = "127.0.0.1:8080", env = "VAIDYA_LISTEN")]
        listen: SocketAddr,
    },
}

#[derive(Subcommand)]
enum AdminAction {
    /// Create a clinic group; prints its id.
    CreateGroup {
        #[arg(long)]
        name: String,
    },
    /// Create a clinic (branch) in a group; prints its id.
    CreateClinic {
        #[arg(long)]
        group_id: Uuid,
        #[arg(long)]
        name: String,
        /// Two-digit GST state code, e.g. 27 for Maharashtra.
        #[arg(long)]
        state_code: String,
        #[arg(long)]
        gstin: Option<String>,
        #[arg(long, default_value = "")]
        address: String,
    },
    /// Create a user; the password comes from VAIDYA_NEW_PASSWORD (never a command-line flag,
    /// which other local users could read).
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(
            long = "password-env",
            default_value = "VAIDYA_NEW_PASSWORD",
            hide = true
        )]
        password_env: String,
    },
    /// Give a user a role in a clinic (restores a revoked membership).
    AddMember {
        #[arg(long)]
        clinic_id: Uuid,
        #[arg(long)]
        email: String,
        /// admin, doctor, nurse or front_desk
        #[arg(long)]
        role: String,
    },
}

#[derive(Subcommand)]
enum HubAction {
    /// Register this machine as the hub of a clinic: signs in as one of the clinic's admins
    /// (password from VAIDYA_ADMIN_PASSWORD, else asked for on the terminal), keeps the
    /// registration in this machine's OS keyring and signs the admin out again. A doctor
    /// approves it next (`hub approve`), which brings its credential.
    Register {
        /// The group server's address, e.g. https://sync.example.in
        #[arg(long)]
        server: String,
        #[arg(long)]
        clinic_id: Uuid,
        /// What the clinic calls this machine, e.g. "Reception hub".
        #[arg(long)]
        name: String,
        /// The clinic admin who registers it.
        #[arg(long)]
        admin_email: String,
        /// This machine is the clinic's hub already: register it anew and revoke the old hub.
        #[arg(long)]
        replace: bool,
    },
    /// Approve this machine's hub of a clinic, as a doctor of that clinic (password from
    /// VAIDYA_DOCTOR_PASSWORD, else asked for on the terminal). The hub reads the clinic's
    /// clinical records, so an admin's registration alone does not make it a member.
    Approve {
        #[arg(long)]
        clinic_id: Uuid,
        #[arg(long)]
        doctor_email: String,
    },
    /// Connect to the group server as the hub of a clinic and say how it went.
    Status {
        #[arg(long)]
        clinic_id: Uuid,
    },
    /// Run the hub of a clinic: its own PostgreSQL (private, on this machine), kept a copy
    /// of the clinic by following the group server, through outages, until stopped.
    Run {
        #[arg(long)]
        clinic_id: Uuid,
        /// Administrator URL of an existing PostgreSQL for the hub's own database instead of
        /// the private cluster. Never the group server's: the hub marks its database as a
        /// hub's (deliberately not read from DATABASE_URL, which may name that one).
        #[arg(long, env = "VAIDYA_HUB_DATABASE_URL")]
        database_url: Option<String>,
        /// Where the private cluster lives (on an encrypted volume: ARCHITECTURE.md).
        #[arg(long, env = "VAIDYA_HUB_DATA")]
        data_dir: Option<PathBuf>,
        /// Port of the private cluster (loopback only).
        #[arg(long, default_value_t = 55433)]
        pg_port: u16,
        /// Where the clinic's PCs reach the hub (TLS with its pinned certificate).
        #[arg(long, default_value = "0.0.0.0:8443", env = "VAIDYA_HUB_LISTEN")]
        listen: SocketAddr,
        /// The address announced to the clinic's PCs, e.g. https://192.168.1.20:8443
        /// (repeatable). Default: this machine's address on the route to the group server.
        #[arg(long)]
        address: Vec<String>,
    },
}

#[derive(Subcommand)]
enum AuditAction {
    /// Verify every clinic's hash chain; exits 1 naming the first broken link of each.
    Verify {
        #[command(flatten)]
        db: Db,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Migrate { db, app_password } => {
            let applied = migrate::migrate(&db.database_url, app_password.as_deref()).await?;
            println!(
                "migrated: {}",
                if applied.is_empty() {
                    "already up to date".to_string()
                } else {
                    applied.join(", ")
                }
            );
        }
        Command::Serve {
            db,
            listen,
            pooled,
            listen_database_url,
            desktop_releases,
        } => {
            let listener = TcpListener::bind(listen)
                .await
                .with_context(|| format!("binding {listen}"))?;
            let mut settings = Settings::from_url(&db.database_url)?;
            settings.pooled = pooled;
            settings.desktop_releases = desktop_releases;
            settings.listen_database = listen_database_url
                .map(|url| url.parse())
                .transpose()
                .context("parsing the listen database URL")?;
            vaidya_server::launch(settings, listener, shutdown_signal()).await?;
        }
        Command::Admin { db, action } => run_admin(&db.database_url, action).await?,
        Command::Hub { action } => run_hub(action).await?,
        Command::VerifyIsolation { db } => {
            let client = migrate::connect(&db.database_url).await?;
            let violations = verify_isolation::verify(&client).await?;
            if violations.is_empty() {
                println!("isolation verified: all invariants hold");
            } else {
                for v in &violations {
                    eprintln!("VIOLATION: {v}");
                }
                bail!("{} isolation violation(s)", violations.len());
            }
        }
        Command::Audit {
            action: AuditAction::Verify { db },
        } => {
            let client = migrate::connect(&db.database_url).await?;
            client
                .batch_execute(&format!("SET ROLE {}", migrate::OWNER_ROLE))
                .await?;
            let report = audit_chain::verify(&client).await?;
            if report.broken.is_empty() {
                println!(
                    "audit trail verified: {} clinics, {} rows, every chain intact",
                    report.clinics, report.rows
                );
            } else {
                for b in &report.broken {
                    eprintln!("BROKEN: {b}");
                }
                bail!("{} broken audit chain(s)", report.broken.len());
            }
        }
        Command::Dev {
            database_url,
            data_dir,
            pg_port,
            listen,
        } => run_dev(database_url, data_dir, pg_port, listen).await?,
    }
    Ok(())
}

/// A password from `env`, else asked for on the terminal without echo (never a flag, which
/// other local users could read).
fn password_of(email: &str, env: &str) -> Result<String> {
    match std::env::var(env) {
        Ok(p) => Ok(p),
        Err(_) => rpassword::prompt_password(format!("Password of {email}: "))
            .context("reading the password"),
    }
}

async fn run_hub(action: HubAction) -> Result<()> {
    let store = vaidya_client::CredentialStore::new(vaidya_client::credentials::HUB_SERVICE);
    match action {
        HubAction::Register {
            server,
            clinic_id,
            name,
            admin_email,
            replace,
        } => {
            let password = password_of(&admin_email, "VAIDYA_ADMIN_PASSWORD")?;
            let admin = vaidya_server::hub::SignIn {
                email: &admin_email,
                password: &password,
            };
            let hub =
                vaidya_server::hub::register(&store, &server, clinic_id, &name, admin, replace)
                    .await
                    .map_err(|e| anyhow::anyhow!("{} ({})", e, e.code()))?;
            println!(
                "registered: hub {} ({}) of clinic {}; kept in this machine's keyring.\n\
                 A doctor of the clinic approves it next: vaidya-server hub approve --clinic-id {} --doctor-email …",
                hub.name, hub.hub_id, hub.clinic_id, hub.clinic_id
            );
        }
        HubAction::Approve {
            clinic_id,
            doctor_email,
        } => {
            let password = password_of(&doctor_email, "VAIDYA_DOCTOR_PASSWORD")?;
            let doctor = vaidya_server::hub::SignIn {
                email: &doctor_email,
                password: &password,
            };
            let hub = vaidya_server::hub::approve(&store, clinic_id, doctor)
                .await
                .map_err(|e| anyhow::anyhow!("{} ({})", e, e.code()))?;
            println!(
                "approved: hub {} is a member of the clinic now (registered by {}, approved by {}); its credential is in this machine's keyring",
                hub.name,
                hub.registered_by,
                hub.approved_by.unwrap_or_default()
            );
        }
        HubAction::Run {
            clinic_id,
            database_url,
            data_dir,
            pg_port,
            listen,
            address,
        } => {
            run_hub_process(
                &store,
                clinic_id,
                database_url,
                data_dir,
                pg_port,
                listen,
                address,
            )
            .await?
        }
        HubAction::Status { clinic_id } => {
            let hub = vaidya_server::hub::connect(&store, clinic_id)
                .await
                .map_err(|e| anyhow::anyhow!("{} ({})", e, e.code()))?;
            println!(
                "connected: hub {} of {} at {}",
                hub.credential.name, hub.clinic_name, hub.credential.server
            );
            // What the clinic's Admin screen shows the start of: the two must match.
            match hub
                .credential
                .tls
                .as_ref()
                .and_then(vaidya_server::hub::certificate_fingerprint)
            {
                Some(fingerprint) => println!("certificate: {fingerprint}"),
                None => println!("certificate: none kept on this machine"),
            }
        }
    }
    Ok(())
}

async fn run_admin(url: &str, action: AdminAction) -> Result<()> {
    let admin = Admin::connect(url).await?;
    match action {
        AdminAction::CreateGroup { name } => println!("{}", admin.create_group(&name).await?),
        AdminAction::CreateClinic {
            group_id,
            name,
            state_code,
            gstin,
            address,
        } => {
            println!(
                "{}",
                admin
                    .create_clinic(group_id, &name, &state_code, gstin.as_deref(), &address)
                    .await?
            )
        }
        AdminAction::CreateUser {
            email,
            name,
            password_env,
        } => {
            let password = std::env::var(&password_env)
                .with_context(|| format!("set the new user's password in {password_env}"))?;
            println!("{}", admin.create_user(&email, &name, &password).await?)
        }
        AdminAction::AddMember {
            clinic_id,
            email,
            role,
        } => {
            let role =
                Role::parse(&role).context("role must be admin, doctor, nurse or front_desk")?;
            println!("{}", admin.add_member(clinic_id, &email, role).await?)
        }
    }
    Ok(())
}

async fn run_dev(
    database_url: Option<String>,
    data_dir: Option<PathBuf>,
    pg_port: u16,
    listen: SocketAddr,
) -> Result<()> {
    const DEV_APP_PASSWORD: &str = "vaidya-dev-app";
    let (_cluster, admin_url) = database(database_url, data_dir, "dev-postgres", pg_port).await?;
    migrate::migrate(&admin_url, Some(DEV_APP_PASSWORD)).await?;
    let mut app_db: tokio_postgres::Config = admin_url.parse()?;
    app_db.user(migrate::APP_ROLE).password(DEV_APP_PASSWORD);
    if demo::seed(&admin_url, app_db.clone()).await? {
        println!("seeded the demo clinic group");
    }
    for day in demo::book_demo_days(&admin_url, app_db.clone()).await? {
        println!("booked the demo appointments of {}", day.format("%d/%m/%Y"));
    }
    println!("\nDemo sign-ins (server http://{listen}):");
    for u in demo::DEMO_USERS {
        println!(
            "  {:<28} {:<22} {:<11} {}",
            u.email,
            u.password,
            u.role.as_str(),
            u.branch
        );
    }
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    vaidya_server::launch(Settings::new(app_db), listener, shutdown_signal()).await
}

/// The administrator URL of the database `vaidya`: `database_url` when given, else of a
/// private cluster in `data_dir` (default: `default_name` in [`default_data_dir`]) on
/// `pg_port`, started here and stopped when the returned cluster is dropped.
async fn database(
    database_url: Option<String>,
    data_dir: Option<PathBuf>,
    default_name: &str,
    pg_port: u16,
) -> Result<(Option<PgCluster>, String)> {
    if let Some(url) = database_url {
        return Ok((None, url));
    }
    let dir = data_dir.unwrap_or_else(|| default_data_dir(default_name));
    println!("starting a private PostgreSQL in {}", dir.display());
    let cluster = PgCluster::start(&dir, pg_port, false)?;
    let setup = migrate::connect(&cluster.superuser_url("postgres")).await?;
    if setup
        .query_opt("SELECT 1 FROM pg_database WHERE datname = 'vaidya'", &[])
        .await?
        .is_none()
    {
        setup.batch_execute("CREATE DATABASE vaidya").await?;
    }
    let url = cluster.superuser_url("vaidya");
    Ok((Some(cluster), url))
}

/// The hub process (`hub run`): its database migrated like the group server's, its API
/// served to the clinic's PCs over TLS with its pinned certificate, and its copy of the
/// clinic following the group server, until Ctrl-C or SIGTERM.
async fn run_hub_process(
    store: &vaidya_client::CredentialStore,
    clinic: Uuid,
    database_url: Option<String>,
    data_dir: Option<PathBuf>,
    pg_port: u16,
    listen: SocketAddr,
    addresses: Vec<String>,
) -> Result<()> {
    use vaidya_server::hub::{follow, lan, replica::Replica, HubError};
    let hub_error = |e: HubError| anyhow::anyhow!("{} ({})", e, e.code());
    let credential = store
        .hub_credential(clinic)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .ok_or(HubError::NotRegistered(clinic))
        .map_err(hub_error)?;
    let tls = credential.tls.clone().ok_or_else(|| {
        hub_error(HubError::Tls(
            "this hub was registered before hubs served TLS: register it again with --replace"
                .to_owned(),
        ))
    })?;
    let (_cluster, admin_url) = database(database_url, data_dir, "hub-postgres", pg_port).await?;
    // The app role's password is new at every start: only this process connects with it.
    let app_password = {
        use rand::RngCore;
        let mut bytes = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        hex::encode(bytes)
    };
    migrate::migrate(&admin_url, Some(&app_password)).await?;
    let mut replica = Replica::open(migrate::connect(&admin_url).await?, clinic)
        .await
        .map_err(hub_error)?;
    let mut app_db: tokio_postgres::Config = admin_url.parse()?;
    app_db.user(migrate::APP_ROLE).password(app_password);
    let tcp = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let listener = lan::TlsListener::new(tcp, &tls).map_err(hub_error)?;
    let addresses = if addresses.is_empty() {
        lan::lan_address(&credential.server, listen.port())
            .into_iter()
            .collect()
    } else {
        addresses
    };
    let (status, mut watching) = tokio::sync::watch::channel(follow::Upstream::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let serving = tokio::spawn({
        let mut stopped = stopped.clone();
        let mut settings = Settings::new(app_db);
        settings.lan_certificate_sha256 = Some(listener.certificate_sha256().to_owned());
        vaidya_server::launch(settings, listener, async move {
            let _ = stopped.changed().await;
        })
    });
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    tokio::spawn(async move {
        let mut said = follow::Upstream::default();
        while watching.changed().await.is_ok() {
            let now = watching.borrow_and_update().clone();
            match (now.unreachable_since, said.unreachable_since) {
                (Some(since), None) => println!(
                    "group server unreachable since {}; the clinic works through the hub, which forwards when it answers",
                    since.with_timezone(&chrono::Local).format("%H:%M")
                ),
                (None, Some(_)) => println!("group server reachable again"),
                _ => {}
            }
            if now.rows != said.rows || now.forwarded != said.forwarded {
                println!(
                    "up to date with the group server: {} rows in, {} changes forwarded ({} refused) since start",
                    now.rows, now.forwarded, now.refused_upstream
                );
            }
            said = now;
        }
    });
    println!(
        "hub of clinic {clinic}: serving the clinic's PCs on {listen} (TLS, pinned certificate), announced as {}; following the group server (Ctrl-C stops)",
        if addresses.is_empty() { "nothing (give --address)".to_owned() } else { addresses.join(", ") }
    );
    let followed = follow::follow(store, clinic, &mut replica, &addresses, &status, stopped)
        .await
        .map_err(hub_error);
    serving.abort();
    followed
}

/// Where a private cluster lives by default: the platform data directory, except for root,
/// whose home the `postgres` user cannot enter.
fn default_data_dir(name: &str) -> PathBuf {
    #[cfg(unix)]
    if std::env::var("USER").map(|u| u == "root").unwrap_or(false)
        || std::env::var("HOME").map(|h| h == "/root").unwrap_or(false)
    {
        return PathBuf::from("/var/lib/vaidya").join(name);
    }
    dirs::data_local_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("vaidya")
        .join(name)
}

/// Ctrl-C, or SIGTERM on Unix (a closed terminal, a service manager, `kill`): either ends the
/// server gracefully, so `dev` also stops its private PostgreSQL.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutting down");
}
