//! `vaidya-server dev` as a newcomer runs it: stopped with SIGTERM (a terminal closed, a
//! service manager, `kill`) as with Ctrl-C, it stops its private PostgreSQL too; and after a
//! crash that left that PostgreSQL running, the next start takes over instead of failing.
#![cfg(unix)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The dev server on its own data directory and ports.
struct Dev {
    data_dir: PathBuf,
    pg_port: u16,
    port: u16,
}

impl Dev {
    fn start(&self) -> Child {
        let child = Command::new(env!("CARGO_BIN_EXE_vaidya-server"))
            .arg("dev")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--pg-port", &self.pg_port.to_string()])
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .env("RUST_LOG", "warn")
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("vaidya-server dev");
        let deadline = Instant::now() + Duration::from_secs(120);
        while !healthy(self.port) {
            assert!(
                Instant::now() < deadline,
                "dev did not come up on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        child
    }

    fn postgres_running(&self) -> bool {
        TcpStream::connect(("127.0.0.1", self.pg_port)).is_ok()
    }
}

/// Demo appointments at the Pune branch on yesterday, today and tomorrow (IST).
fn demo_days(pg_port: u16) -> [i64; 3] {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let url = format!("postgres://postgres:vaidya-local-superuser@127.0.0.1:{pg_port}/vaidya");
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let row = client
            .query_one(
                "WITH today AS (SELECT (now() AT TIME ZONE 'Asia/Kolkata')::date AS d)
                 SELECT count(*) FILTER (WHERE day = d - 1),
                        count(*) FILTER (WHERE day = d),
                        count(*) FILTER (WHERE day = d + 1)
                 FROM today, (SELECT (a.starts_at AT TIME ZONE 'Asia/Kolkata')::date AS day
                              FROM vaidya.appointments a JOIN vaidya.clinics c ON c.id = a.clinic_id
                              WHERE c.name = 'Pune – Kothrud') days",
                &[],
            )
            .await
            .unwrap();
        [row.get(0), row.get(1), row.get(2)]
    })
}

fn healthy(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request =
        format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name}");
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "dev did not stop within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "{what} within {within:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Removes the cluster directory however the test ends (stopping a server left running).
struct Cleanup<'a>(&'a Path, u16);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        if TcpStream::connect(("127.0.0.1", self.1)).is_ok() {
            let _ = Command::new("pkill")
                .args(["-f", &format!("-D {}", self.0.display())])
                .status();
        }
        let _ = std::fs::remove_dir_all(self.0);
    }
}

#[test]
fn sigterm_stops_the_private_postgres_and_a_leftover_one_is_taken_over() {
    if vaidya_server::pg_cluster::find_bin_dir().is_none() {
        println!("note: skipping: no PostgreSQL server binaries (set PG_BIN)");
        return;
    }
    // Directly under the temp dir: the cluster may run as the `postgres` user (when this is
    // root), which must reach it.
    let dev = Dev {
        data_dir: std::env::temp_dir().join(format!("vaidya-dev-test-{}", uuid::Uuid::new_v4())),
        pg_port: free_port(),
        port: free_port(),
    };
    let _cleanup = Cleanup(&dev.data_dir, dev.pg_port);

    // SIGTERM: the server and its PostgreSQL stop, cleanly.
    let mut child = dev.start();
    assert!(dev.postgres_running());
    // The demo has a yesterday, a today and a tomorrow, whenever it is started.
    let days = demo_days(dev.pg_port);
    assert!(
        days.iter().all(|n| *n > 0),
        "demo appointments per day: {days:?}"
    );
    signal(&child, "TERM");
    let status = wait_exit(&mut child, Duration::from_secs(60));
    assert!(status.success(), "dev ended with {status} on SIGTERM");
    assert!(
        !dev.postgres_running(),
        "PostgreSQL outlived dev after SIGTERM"
    );

    // A crash (SIGKILL) leaves PostgreSQL running with its lock file...
    let mut child = dev.start();
    signal(&child, "KILL");
    wait_exit(&mut child, Duration::from_secs(10));
    assert!(dev.postgres_running(), "the crash left PostgreSQL running");
    // ...and the next start takes over, with the data of the first (no day booked twice).
    let mut child = dev.start();
    assert_eq!(demo_days(dev.pg_port), days);
    signal(&child, "INT");
    let status = wait_exit(&mut child, Duration::from_secs(60));
    assert!(status.success(), "dev ended with {status} on Ctrl-C");
    wait_until(
        "PostgreSQL stopped after Ctrl-C",
        Duration::from_secs(10),
        || !dev.postgres_running(),
    );
}
