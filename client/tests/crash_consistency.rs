//! A writer killed mid-write loses no edit it had acknowledged, and leaves no half of one:
//! the test runs itself again as a child that registers patients on an encrypted partition
//! as fast as it can, printing each id once `register_patient` has returned (what the app
//! shows as saved), and kills it with SIGKILL (TerminateProcess on Windows) at a random
//! moment, usually inside a transaction. The file is then reopened: it must pass SQLite's
//! integrity check, hold every acknowledged patient with its outbox entry, and hold no
//! patient without one.
//!
//! A process kill is what can be built here; a power cut (the page cache lost too) needs
//! the `synchronous=FULL` the interactive connection runs with, which
//! `partition::tests::applies_the_durability_pragmas` pins.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use uuid::Uuid;
use vaidya_client::partition::register_sql_functions;
use vaidya_client::{ClinicPartition, DataDir, OpenClinic, PartitionKey};
use vaidya_shared::api::{NewPatient, Role, Sex};

const CHILD: &str = "VAIDYA_CRASH_WRITER";

#[test]
fn a_killed_writer_loses_no_acknowledged_edit() {
    if let Ok(spec) = std::env::var(CHILD) {
        write_until_killed(&spec);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clinic = Uuid::new_v4();
    let key = PartitionKey::generate();
    // Created once, so every child writes into an existing file.
    drop(ClinicPartition::open(&DataDir::new(dir.path()), clinic, &key).unwrap());
    let mut acknowledged: Vec<Uuid> = Vec::new();
    for (round, stop_after) in [7usize, 40, 1, 120, 13].into_iter().enumerate() {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "a_killed_writer_loses_no_acknowledged_edit",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(
                CHILD,
                format!("{}|{clinic}|{}", dir.path().display(), key.to_hex()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut seen = 0;
        while seen < stop_after {
            let line = lines.next().expect("the writer ended early").unwrap();
            if let Some(id) = line.strip_prefix("saved ") {
                acknowledged.push(id.parse().unwrap());
                seen += 1;
            }
        }
        // Killed while it goes on writing: somewhere in its next transaction, or between.
        std::thread::sleep(Duration::from_micros(137 * round as u64));
        child.kill().unwrap();
        child.wait().unwrap();
        // Whatever the kill did not let it report may or may not be there; nothing it
        // reported may be missing.
        let raw =
            rusqlite::Connection::open(DataDir::new(dir.path()).partition_file(clinic)).unwrap();
        raw.execute_batch(&format!("PRAGMA key = \"x'{}'\";", key.to_hex()))
            .unwrap();
        // The check reads the computed search forms too, as any connection to the file may.
        register_sql_functions(&raw, clinic).unwrap();
        let check: String = raw
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok", "round {round}: the file is damaged");
        drop(raw);
        let p = ClinicPartition::open(&DataDir::new(dir.path()), clinic, &key).unwrap();
        let stored: Vec<Uuid> = p.all_patients().unwrap().iter().map(|x| x.id).collect();
        let missing: Vec<&Uuid> = acknowledged
            .iter()
            .filter(|id| !stored.contains(id))
            .collect();
        assert!(
            missing.is_empty(),
            "round {round}: acknowledged but lost: {missing:?}"
        );
        // A patient and its outbox entry are one transaction: never one without the other
        // (every write here is a registration).
        let queued = p.outbox_len().unwrap();
        assert_eq!(
            queued,
            stored.len() as i64,
            "round {round}: patients and their queued creates differ"
        );
    }
}

/// The child: registers patients through the clinic's own API until it is killed.
fn write_until_killed(spec: &str) {
    let mut parts = spec.split('|');
    let (dir, clinic, key) = (
        parts.next().unwrap(),
        parts.next().unwrap().parse::<Uuid>().unwrap(),
        PartitionKey::from_hex(parts.next().unwrap()).unwrap(),
    );
    let mut partition = ClinicPartition::open(&DataDir::new(dir), clinic, &key).unwrap();
    let desk = Uuid::new_v4();
    for n in 0.. {
        let patient = OpenClinic::new(&mut partition, desk, Role::FrontDesk)
            .register_patient(NewPatient {
                id: None,
                name: format!("Patient {n}"),
                sex: Sex::Female,
                date_of_birth: None,
                phone: Some(format!("98450{:05}", n % 100_000)),
                address: Some("12 MG Road, Pune".to_owned()),
                abha_number: None,
            })
            .unwrap();
        // Printed only after the call returned: what the app would now show as saved.
        println!("saved {}", patient.id);
    }
}
