//! A private PostgreSQL cluster controlled with `initdb` and `pg_ctl`: used by
//! `vaidya-server dev` (a persistent local cluster) and by the test harness and benchmarks
//! (a throwaway cluster in a temp dir on a free loopback port).
//!
//! `initdb` refuses to run as root, so when this process is root the server binaries run as
//! the `postgres` system user through `runuser` (Unix only).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Where the PostgreSQL server binaries live: `$PG_BIN`, else `pg_config --bindir`, else the
/// Debian layout, else `PATH`.
pub fn find_bin_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        if out.status.success() {
            let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if dir.join("initdb").exists() {
                return Some(dir);
            }
        }
    }
    for version in ["17", "16", "15", "14"] {
        let dir = PathBuf::from(format!("/usr/lib/postgresql/{version}/bin"));
        if dir.join("initdb").exists() {
            return Some(dir);
        }
    }
    None
}

/// A cluster this process started. Dropping a `temporary` cluster stops it and deletes its
/// directory; a persistent one (dev) is stopped but kept.
pub struct PgCluster {
    bin_dir: PathBuf,
    data_dir: PathBuf,
    pub port: u16,
    superuser_password: String,
    temporary: bool,
    run_as_postgres: bool,
}

impl PgCluster {
    /// Start a throwaway cluster in a fresh temp dir on a free loopback port.
    pub fn start_temporary() -> Result<PgCluster> {
        let base = std::env::temp_dir().join(format!(
            "vaidya-pg-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        Self::start(&base, free_port()?, true)
    }

    /// Start (creating if needed) a cluster in `data_dir` listening on `port` on loopback.
    pub fn start(data_dir: &Path, port: u16, temporary: bool) -> Result<PgCluster> {
        let bin_dir = find_bin_dir().context(
            "PostgreSQL server binaries not found: install postgresql (Debian: apt-get install postgresql) or set PG_BIN",
        )?;
        let run_as_postgres = is_root();
        let cluster = PgCluster {
            bin_dir,
            data_dir: data_dir.to_path_buf(),
            port,
            superuser_password: "vaidya-local-superuser".to_string(),
            temporary,
            run_as_postgres,
        };
        if !data_dir.join("PG_VERSION").exists() {
            cluster.init()?;
        } else if cluster.running()? {
            // An earlier run ended without stopping it (killed, or crashed): its lock file
            // and port would make this start fail. Stop it and start again, on this port.
            eprintln!(
                "a PostgreSQL from an earlier run is still running in {}: restarting it",
                data_dir.display()
            );
            cluster.stop()?;
        }
        cluster.pg_ctl_start()?;
        Ok(cluster)
    }

    /// Whether a server runs on this data directory (`pg_ctl status`: 0 running, 3 not).
    fn running(&self) -> Result<bool> {
        let status = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data_dir)
            .arg("status")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .context("running pg_ctl status")?;
        Ok(status.success())
    }

    fn init(&self) -> Result<()> {
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("creating {}", self.data_dir.display()))?;
        let pwfile = self.data_dir.with_extension("pw");
        std::fs::write(&pwfile, &self.superuser_password)?;
        if self.run_as_postgres {
            chown_to_postgres(&self.data_dir)?;
            chown_to_postgres(&pwfile)?;
        }
        let out = self
            .command("initdb")
            .arg("-D")
            .arg(&self.data_dir)
            .args([
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .context("running initdb")?;
        let _ = std::fs::remove_file(&pwfile);
        if !out.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        // Settings for a small local cluster: loopback only, a private socket directory.
        let conf = format!(
            "\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nmax_connections = 200\nfsync = {}\nshared_buffers = '256MB'\n",
            self.data_dir.display(),
            if self.temporary { "off" } else { "on" }
        );
        let conf_path = self.data_dir.join("postgresql.conf");
        let mut existing = std::fs::read_to_string(&conf_path)?;
        existing.push_str(&conf);
        std::fs::write(&conf_path, existing)?;
        Ok(())
    }

    fn pg_ctl_start(&self) -> Result<()> {
        let log = self.data_dir.join("server.log");
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-o"])
            .arg(format!("-p {}", self.port))
            .arg("start")
            .output()
            .context("running pg_ctl start")?;
        if !out.status.success() {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            bail!(
                "pg_ctl start failed: {}\n{}",
                String::from_utf8_lossy(&out.stderr),
                tail
            );
        }
        // pg_ctl -w waits for readiness; confirm the port answers before handing it out.
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if Instant::now() > deadline {
                bail!("PostgreSQL did not open port {}", self.port);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Stop the server (fast shutdown).
    pub fn stop(&self) -> Result<()> {
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-m", "fast", "-w", "stop"])
            .output()
            .context("running pg_ctl stop")?;
        if !out.status.success() {
            bail!(
                "pg_ctl stop failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// Connection URL for the cluster's superuser and the given database.
    pub fn superuser_url(&self, database: &str) -> String {
        format!(
            "postgres://postgres:{}@127.0.0.1:{}/{}",
            self.superuser_password, self.port, database
        )
    }

    /// Connection URL for a role/password on the given database.
    pub fn url_for(&self, role: &str, password: &str, database: &str) -> String {
        format!(
            "postgres://{role}:{password}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin_dir.join(program);
        if self.run_as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c.current_dir("/");
            c
        } else {
            Command::new(path)
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self.stop();
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }
}

/// Ask the OS for a free loopback port.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

#[cfg(unix)]
pub fn is_root() -> bool {
    // Asking `id -u` keeps `unsafe` (libc::geteuid) out of the crate.
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[cfg(not(unix))]
pub fn is_root() -> bool {
    false
}

#[cfg(unix)]
pub fn chown_to_postgres(path: &Path) -> Result<()> {
    // The parent directories must be traversable by postgres too.
    let status = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(path)
        .status()?;
    if !status.success() {
        bail!("chown postgres {} failed", path.display());
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn chown_to_postgres(_path: &Path) -> Result<()> {
    Ok(())
}
