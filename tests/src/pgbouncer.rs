//! A private PgBouncer in transaction mode in front of the test cluster: the pooler a clinic
//! group that outgrows one server puts between its server instances and PostgreSQL
//! (docs/deployment.md). Started like the cluster: a temp dir, a free loopback port, as the
//! `postgres` system user when this process is root (PgBouncer refuses to run as root).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use vaidya_server::pg_cluster::{chown_to_postgres, free_port, is_root};

/// Where Debian's package puts the binary, else `PATH`.
pub fn find() -> Option<PathBuf> {
    let debian = PathBuf::from("/usr/sbin/pgbouncer");
    if debian.exists() {
        return Some(debian);
    }
    let out = Command::new("which").arg("pgbouncer").output().ok()?;
    out.status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// A running PgBouncer; stopped and its directory removed when dropped.
pub struct PgBouncer {
    dir: PathBuf,
    pub port: u16,
}

impl PgBouncer {
    /// Starts PgBouncer in transaction mode for every database of the cluster on `pg_port`,
    /// letting in `users` (name, password; it signs in to PostgreSQL with the same
    /// password, by SCRAM).
    pub fn start(pg_port: u16, users: &[(&str, &str)]) -> Result<PgBouncer> {
        let binary = find().context("pgbouncer not found: apt-get install pgbouncer")?;
        let dir = std::env::temp_dir().join(format!(
            "vaidya-pgbouncer-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir)?;
        let port = free_port()?;
        let auth: String = users
            .iter()
            .map(|(user, password)| format!("\"{user}\" \"{password}\"\n"))
            .collect();
        std::fs::write(dir.join("users.txt"), auth)?;
        let config = format!(
            "[databases]\n\
             * = host=127.0.0.1 port={pg_port}\n\
             [pgbouncer]\n\
             listen_addr = 127.0.0.1\n\
             listen_port = {port}\n\
             unix_socket_dir =\n\
             auth_type = scram-sha-256\n\
             auth_file = {users}\n\
             pool_mode = transaction\n\
             max_client_conn = 1000\n\
             default_pool_size = 20\n\
             min_pool_size = 4\n\
             server_round_robin = 1\n\
             ignore_startup_parameters = extra_float_digits\n\
             logfile = {log}\n\
             pidfile = {pid}\n",
            users = dir.join("users.txt").display(),
            log = dir.join("pgbouncer.log").display(),
            pid = dir.join("pgbouncer.pid").display(),
        );
        let config_path = dir.join("pgbouncer.ini");
        std::fs::write(&config_path, config)?;
        let mut command = if is_root() {
            chown_to_postgres(&dir)?;
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&binary);
            c
        } else {
            Command::new(&binary)
        };
        let out = command
            .arg("-d")
            .arg(&config_path)
            .current_dir("/")
            .output()
            .context("starting pgbouncer")?;
        let bouncer = PgBouncer { dir, port };
        if !out.status.success() {
            bail!(
                "pgbouncer did not start: {}{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                bouncer.log()
            );
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("pgbouncer did not open port {port}\n{}", bouncer.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(bouncer)
    }

    /// A connection URL through the pooler.
    pub fn url(&self, user: &str, password: &str, database: &str) -> String {
        format!(
            "postgres://{user}:{password}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// PgBouncer's log, for a failure message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default()
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("pgbouncer.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
