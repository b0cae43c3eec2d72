//! Tests of the partition against real SQLCipher files in temporary directories.

use chrono::{TimeZone, Utc};
use serde_json::json;
use tempfile::TempDir;
use uuid::Uuid;
use vaidya_shared::api::{
    Addendum, Appointment, AppointmentStatus, Encounter, Invoice, InvoiceLine, NewPatient, Patient,
    PatientPatch, Payment, PaymentMethod, Prescription, PrescriptionItem, Sex, Vitals,
};
use vaidya_shared::gst::{LineTax, SupplyKind};
use vaidya_shared::rules::duplicates::DuplicateReason;

use super::*;
use crate::test_support::valid;
use vaidya_shared::entity::kinds;

struct Fixture {
    _dir: TempDir,
    data_dir: DataDir,
    clinic: Uuid,
    key: PartitionKey,
    /// The clinical store's key, as a clinician's session holds it.
    clinical: ClinicalKey,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = DataDir::new(dir.path().join("vaidya"));
    Fixture {
        _dir: dir,
        data_dir,
        clinic: Uuid::new_v4(),
        key: PartitionKey::generate(),
        clinical: ClinicalKey::generate(),
    }
}

impl Fixture {
    /// The file as a clinician's session opens it: with its clinical store.
    fn open(&self) -> ClinicPartition {
        let mut partition = self.open_without_clinical();
        partition.open_clinical_store(&self.clinical).unwrap();
        partition
    }

    /// The file as the front desk's session opens it: the clinic file's key only.
    fn open_without_clinical(&self) -> ClinicPartition {
        ClinicPartition::open(&self.data_dir, self.clinic, &self.key).unwrap()
    }

    fn open_err(&self, key: &PartitionKey) -> PartitionError {
        ClinicPartition::open(&self.data_dir, self.clinic, key).unwrap_err()
    }

    fn file(&self) -> PathBuf {
        self.data_dir.partition_file(self.clinic)
    }
}

fn at(hour: u32, minute: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 14, hour, minute, 0).unwrap()
        + chrono::Duration::microseconds(123_456)
}

fn patient(
    clinic: Uuid,
    number: i64,
    name: &str,
    phone: Option<&str>,
    abha: Option<&str>,
) -> Patient {
    Patient {
        id: Uuid::new_v4(),
        clinic_id: clinic,
        patient_number: number,
        name: name.to_owned(),
        sex: Sex::Female,
        date_of_birth: chrono::NaiveDate::from_ymd_opt(1987, 6, 5),
        phone: phone.map(str::to_owned),
        address: Some("12 MG Road, Pune".to_owned()),
        abha_number: abha.map(str::to_owned),
        version: 1,
        created_at: at(9, 0),
        updated_at: at(9, 30),
    }
}

fn create(entity: EntityKind, id: Uuid) -> Mutation {
    let mut m = new_mutation(entity, id, Operation::Create, None);
    m.data = Some(json!({ "note": "test" }));
    m
}

/// A patient as a pull page carries it.
fn pulled(p: &Patient) -> vaidya_shared::sync::Change {
    vaidya_shared::sync::Change {
        entity: EntityKind::Patient,
        id: p.id,
        version: p.version,
        deleted: false,
        data: serde_json::to_value(p).unwrap(),
    }
}

fn add_patient(partition: &mut ClinicPartition, p: &Patient) {
    partition
        .commit_local(Some(p), None, &create(EntityKind::Patient, p.id))
        .unwrap();
}

fn names(patients: &[Patient]) -> Vec<&str> {
    patients.iter().map(|p| p.name.as_str()).collect()
}

// ---------------------------------------------------------------- opening and keys

#[test]
fn creates_reopens_and_round_trips_a_patient() {
    let f = fixture();
    let p = patient(
        f.clinic,
        1042,
        "Asha Kulkarni",
        Some("+91 98450 12345"),
        Some("12-3456-7890-1234"),
    );
    {
        let mut partition = f.open();
        assert_eq!(partition.schema_version().unwrap(), SCHEMA_VERSION);
        add_patient(&mut partition, &p);
    }
    assert!(f.file().exists());
    let partition = f.open();
    assert_eq!(partition.get_patient(p.id).unwrap(), Some(p));
    assert_eq!(partition.get_patient(Uuid::new_v4()).unwrap(), None);
}

#[test]
fn applies_the_durability_pragmas() {
    let f = fixture();
    let mut partition = f.open();
    let pragma = |partition: &ClinicPartition, name: &str| -> String {
        partition
            .conn
            .query_row(&format!("PRAGMA {name}"), [], |row| {
                row.get::<_, rusqlite::types::Value>(0)
            })
            .map(|v| format!("{v:?}"))
            .unwrap()
    };
    assert_eq!(pragma(&partition, "journal_mode"), r#"Text("wal")"#);
    // A saved local edit survives a power cut: the WAL is synced at every commit.
    assert_eq!(pragma(&partition, "synchronous"), "Integer(2)"); // FULL
    assert_eq!(pragma(&partition, "foreign_keys"), "Integer(1)");
    assert_eq!(pragma(&partition, "busy_timeout"), "Integer(5000)");

    // Only an initial fill (pages that can be pulled again) relaxes it, and puts it back.
    partition.set_bulk_load(Some(256)).unwrap();
    assert_eq!(pragma(&partition, "synchronous"), "Integer(1)"); // NORMAL
    assert_eq!(pragma(&partition, "cache_size"), "Integer(-262144)");
    partition.set_bulk_load(None).unwrap();
    assert_eq!(pragma(&partition, "synchronous"), "Integer(2)");
    assert_eq!(pragma(&partition, "cache_size"), "Integer(-65536)");
    // Checkpointed WAL files are cut back, the clinical store's too.
    let limit = format!("Integer({})", super::WAL_SIZE_LIMIT);
    assert_eq!(pragma(&partition, "journal_size_limit"), limit);
    assert_eq!(pragma(&partition, "clinical.journal_size_limit"), limit);
}

/// A fill's big transactions grow the WAL files far past their usual size; the fill's end
/// leaves none of that on the PC's disk.
#[test]
fn a_fill_leaves_no_grown_wal_files_behind() {
    let f = fixture();
    let mut partition = f.open();
    let wal = |file: PathBuf| {
        std::fs::metadata(file.with_extension("sqlite-wal"))
            .map(|m| m.len())
            .unwrap_or(0)
    };
    let store = f.data_dir.clinical_store_file(f.clinic);
    partition.set_bulk_load(Some(64)).unwrap();
    let page: Vec<_> = (1..=30_000)
        .map(|n| {
            pulled(&patient(
                f.clinic,
                n,
                &format!("Patient {n} Sharma"),
                Some("9845012345"),
                None,
            ))
        })
        .collect();
    partition.apply_pull_page(&page, "c1", true).unwrap();
    let grown = wal(f.file());
    assert!(
        grown > super::WAL_SIZE_LIMIT as u64,
        "the fill's page grew the WAL ({grown} bytes)"
    );
    partition.set_bulk_load(None).unwrap();
    assert_eq!(wal(f.file()), 0, "the clinic file's WAL is cut back");
    assert!(wal(store.clone()) <= super::WAL_SIZE_LIMIT as u64);
    // Nothing was lost by it: the next opening finds every patient, searchable.
    drop(partition);
    let partition = f.open();
    assert_eq!(partition.search_patients("29999", 5).unwrap().len(), 1);
}

#[test]
fn wrong_key_is_a_typed_error_and_leaves_the_file_alone() {
    let f = fixture();
    {
        let mut partition = f.open();
        add_patient(&mut partition, &patient(f.clinic, 1, "Ravi", None, None));
    }
    let before = fs::read(f.file()).unwrap();
    let err = f.open_err(&PartitionKey::generate());
    assert!(matches!(err, PartitionError::WrongKey), "{err:?}");
    assert_eq!(err.code(), "partition_wrong_key");
    assert_eq!(fs::read(f.file()).unwrap(), before);
    // The right key still opens it.
    f.open();
}

/// Overwrites `len` bytes at `offset` of the closed partition file.
fn damage(f: &Fixture, offset: usize, len: usize) -> Vec<u8> {
    let mut bytes = fs::read(f.file()).unwrap();
    assert!(
        bytes.len() >= offset + len,
        "file is only {} bytes",
        bytes.len()
    );
    for b in &mut bytes[offset..offset + len] {
        *b ^= 0x5a;
    }
    fs::write(f.file(), &bytes).unwrap();
    bytes
}

fn filled_partition(f: &Fixture) {
    let mut partition = f.open();
    for n in 0..200 {
        add_patient(
            &mut partition,
            &patient(
                f.clinic,
                n,
                &format!("Patient {n}"),
                Some("9845012345"),
                None,
            ),
        );
    }
    partition.checkpoint().unwrap();
}

#[test]
fn damage_in_the_middle_is_corruption_and_the_file_is_kept() {
    let f = fixture();
    filled_partition(&f);
    let len = fs::metadata(f.file()).unwrap().len() as usize;
    let damaged = damage(&f, len / 2, 64);
    let err = f.open_err(&f.key);
    assert!(matches!(err, PartitionError::Corrupted { .. }), "{err:?}");
    assert_eq!(err.code(), "partition_corrupted");
    assert_eq!(
        fs::read(f.file()).unwrap(),
        damaged,
        "a failed open must not modify the file"
    );
}

#[test]
fn opening_without_the_whole_file_check_still_never_returns_damaged_data() {
    let f = fixture();
    filled_partition(&f);
    let len = fs::metadata(f.file()).unwrap().len() as usize;
    damage(&f, len / 2, 64);
    // The quick open succeeds (it reads only what opening needs)…
    let partition =
        ClinicPartition::open_with(&f.data_dir, f.clinic, &f.key, OpenCheck::PagesAsRead)
            .expect("the quick open does not read the damaged page");
    // …but reading every b-tree page hits the damaged page's HMAC: an error, not data.
    let check: Result<String, _> = partition
        .conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0));
    assert!(
        !matches!(check.as_deref(), Ok("ok")),
        "every page was read without an error: {check:?}"
    );
    drop(partition);
    // The full check (the app's sync connection) names the damage.
    assert!(matches!(
        f.open_err(&f.key),
        PartitionError::Corrupted { .. }
    ));
}

#[test]
fn damage_to_the_header_page_is_corruption_not_a_wrong_key() {
    for (offset, len) in [(0, 16), (20, 80)] {
        let f = fixture();
        filled_partition(&f);
        let damaged = damage(&f, offset, len);
        let err = f.open_err(&f.key);
        assert!(
            matches!(err, PartitionError::Corrupted { .. }),
            "offset {offset}: {err:?}"
        );
        assert_eq!(fs::read(f.file()).unwrap(), damaged);
        // And with another key it is still "wrong key".
        assert!(matches!(
            f.open_err(&PartitionKey::generate()),
            PartitionError::WrongKey
        ));
    }
}

#[test]
fn a_foreign_file_is_not_a_database() {
    let f = fixture();
    fs::create_dir_all(f.data_dir.partitions_dir()).unwrap();
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 % 251) as u8).collect();
    fs::write(f.file(), &garbage).unwrap();
    let err = f.open_err(&f.key);
    assert!(matches!(err, PartitionError::NotADatabase), "{err:?}");
    assert_eq!(fs::read(f.file()).unwrap(), garbage);
}

#[test]
fn a_plaintext_sqlite_file_is_refused() {
    let f = fixture();
    fs::create_dir_all(f.data_dir.partitions_dir()).unwrap();
    {
        // Build a plain SQLite file by keying nothing: SQLCipher then writes plaintext.
        let conn = Connection::open(f.file()).unwrap();
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
    }
    let err = f.open_err(&f.key);
    assert!(matches!(err, PartitionError::Unencrypted), "{err:?}");
    assert_eq!(err.code(), "partition_unencrypted");
}

#[test]
fn a_newer_schema_is_refused() {
    let f = fixture();
    {
        let partition = f.open();
        partition
            .conn
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
    }
    let err = f.open_err(&f.key);
    assert!(
        matches!(err, PartitionError::NewerSchema { found, supported }
            if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION),
        "{err:?}"
    );
    assert_eq!(err.code(), "partition_newer_schema");
}

#[test]
fn wipe_removes_the_file_and_its_companions() {
    let f = fixture();
    let mut partition = f.open();
    add_patient(&mut partition, &patient(f.clinic, 1, "Ravi", None, None));
    let [wal, shm] = f.data_dir.companion_files(f.clinic);
    assert!(f.file().exists() && wal.exists() && shm.exists());
    partition.wipe().unwrap();
    for path in [f.file(), wal, shm, f.data_dir.key_check_file(f.clinic)] {
        assert!(!path.exists(), "{} still exists", path.display());
    }
    // Wiping what is already gone is fine, and a fresh partition can be created.
    ClinicPartition::wipe_files(&f.data_dir, f.clinic).unwrap();
    assert_eq!(f.open().outbox_len().unwrap(), 0);
}

#[test]
fn nothing_is_stored_in_plaintext() {
    let f = fixture();
    let secrets = [
        "Zubeida Vishwanathan",
        "9876501234",
        "Quixotic Lane",
        "99887766554433",
    ];
    let mut partition = f.open();
    for n in 0..50 {
        let mut p = patient(f.clinic, n, secrets[0], Some(secrets[1]), Some(secrets[3]));
        p.address = Some(secrets[2].to_owned());
        add_patient(&mut partition, &p);
    }
    partition.search_patients("Zubeida", 10).unwrap();

    let contains = |haystack: &[u8], needle: &str| {
        haystack
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
    };
    // Before the checkpoint the rows sit in the WAL; after it in the main file. Check both.
    let [wal, _] = f.data_dir.companion_files(f.clinic);
    for stage in ["before checkpoint", "after checkpoint"] {
        for path in [f.file(), wal.clone()] {
            let bytes = fs::read(&path).unwrap_or_default();
            for secret in secrets {
                assert!(
                    !contains(&bytes, secret),
                    "{secret} in {} {stage}",
                    path.display()
                );
            }
        }
        partition.checkpoint().unwrap();
    }
    assert!(fs::metadata(f.file()).unwrap().len() > 4096);
    // The control: the same bytes would be visible in an unencrypted file.
    let plain = f.data_dir.partitions_dir().join("control.sqlite");
    let conn = Connection::open(&plain).unwrap();
    conn.execute_batch(&format!(
        "CREATE TABLE t (x); INSERT INTO t VALUES ('{}');",
        secrets[0]
    ))
    .unwrap();
    drop(conn);
    assert!(contains(&fs::read(&plain).unwrap(), secrets[0]));
}

#[test]
fn rows_of_another_clinic_are_refused() {
    let f = fixture();
    let mut partition = f.open();
    let stranger = patient(Uuid::new_v4(), 1, "Other Clinic", None, None);
    let err = partition
        .commit_local(
            Some(&stranger),
            None,
            &create(EntityKind::Patient, stranger.id),
        )
        .unwrap_err();
    assert_eq!(err.code(), "partition_wrong_clinic");
    assert_eq!(partition.outbox_len().unwrap(), 0);
}

// ---------------------------------------------------------------- local writes and outbox

#[test]
fn a_local_write_stores_the_row_and_its_outbox_entry_together() {
    let f = fixture();
    let mut partition = f.open();
    let p = patient(f.clinic, 7, "Meera Iyer", Some("9000000001"), None);
    let mutation = create(EntityKind::Patient, p.id);
    let entry = partition.commit_local(Some(&p), None, &mutation).unwrap();
    assert_eq!(entry.mutation, mutation);
    assert_eq!(entry.state, OutboxState::Pending);
    assert_eq!(entry.attempts, 0);
    assert!(partition
        .has_outbox_entries(EntityKind::Patient, p.id)
        .unwrap());

    // A second write whose outbox insert fails (same mutation id) must leave no row behind.
    let other = patient(f.clinic, 8, "Should Not Exist", Some("9000000002"), None);
    let err = partition
        .commit_local(Some(&other), None, &mutation)
        .unwrap_err();
    assert!(matches!(err, PartitionError::DuplicateMutation(id) if id == mutation.mutation_id));
    assert_eq!(partition.get_patient(other.id).unwrap(), None);
    assert!(partition.search_patients("Should", 10).unwrap().is_empty());
    assert_eq!(partition.outbox_len().unwrap(), 1);
}

#[test]
fn a_failing_row_write_appends_no_outbox_entry() {
    let f = fixture();
    let mut partition = f.open();
    let mut first = invoice(f.clinic, Uuid::new_v4(), 1);
    partition
        .commit_local(Some(&first), None, &create(EntityKind::Invoice, first.id))
        .unwrap();
    // Same series and number as an existing invoice: the row insert fails.
    first.id = Uuid::new_v4();
    let mutation = create(EntityKind::Invoice, first.id);
    assert!(partition
        .commit_local(Some(&first), None, &mutation)
        .is_err());
    assert_eq!(partition.outbox_len().unwrap(), 1);
    assert!(!partition
        .has_outbox_entries(EntityKind::Invoice, first.id)
        .unwrap());
}

#[test]
fn mutations_must_have_the_protocol_shape() {
    let mut m = new_mutation(EntityKind::Patient, Uuid::new_v4(), Operation::Create, None);
    m.data = Some(json!([1, 2]));
    assert_eq!(
        check_mutation(&m).unwrap_err().code(),
        "partition_invalid_mutation"
    );
    let mut m = new_mutation(
        EntityKind::Patient,
        Uuid::new_v4(),
        Operation::Update,
        Some(1),
    );
    m.changes.insert("name".into(), json!("no base"));
    assert_eq!(
        check_mutation(&m).unwrap_err().code(),
        "partition_invalid_mutation"
    );
    let m = new_mutation(
        EntityKind::Encounter,
        Uuid::new_v4(),
        Operation::Delete,
        Some(1),
    );
    assert!(
        check_mutation(&m).is_err(),
        "only patients and appointments are deleted"
    );
    let mut m = new_mutation(
        EntityKind::Addendum,
        Uuid::new_v4(),
        Operation::Create,
        None,
    );
    m.data = Some(json!({ "text": "x" }));
    assert!(
        check_mutation(&m).is_err(),
        "an addendum names its encounter"
    );
}

#[test]
fn the_outbox_keeps_the_order_of_writes() {
    let f = fixture();
    let mut partition = f.open();
    let mut p = patient(f.clinic, 1, "Order Test", None, None);
    let mut made = Vec::new();
    for version in 1..=5 {
        p.version = version;
        p.name = format!("Order Test {version}");
        let m = if version == 1 {
            create(EntityKind::Patient, p.id)
        } else {
            let mut m = new_mutation(
                EntityKind::Patient,
                p.id,
                Operation::Update,
                Some(version - 1),
            );
            m.changes
                .insert("name".into(), json!({ "value": p.name, "base": "before" }));
            m
        };
        partition.commit_local(Some(&p), None, &m).unwrap();
        made.push(m.mutation_id);
    }
    let ids = |entries: Vec<OutboxEntry>| -> Vec<Uuid> {
        entries
            .into_iter()
            .map(|e| e.mutation.mutation_id)
            .collect()
    };
    assert_eq!(ids(partition.outbox().unwrap()), made);

    // A failed push keeps its place; a conflict waits for a person; an ack removes it.
    assert!(partition
        .mark_mutation(made[0], OutboxState::Failed, "timeout")
        .unwrap());
    assert!(partition
        .mark_mutation(made[1], OutboxState::Conflict, "version")
        .unwrap());
    assert!(partition.acknowledge_mutation(made[2]).unwrap());
    assert!(!partition.acknowledge_mutation(made[2]).unwrap());
    assert!(partition
        .mark_mutation(made[3], OutboxState::Pending, "x")
        .is_err());
    let pushable = partition.pushable_outbox(10).unwrap();
    assert_eq!(ids(pushable.clone()), vec![made[0], made[3], made[4]]);
    assert_eq!(pushable[0].attempts, 1);
    assert_eq!(pushable[0].last_error.as_deref(), Some("timeout"));
    assert_eq!(partition.outbox_len().unwrap(), 4);
    // Still in order after reopening.
    drop(partition);
    let partition = f.open();
    assert_eq!(
        ids(partition.outbox().unwrap()),
        vec![made[0], made[1], made[3], made[4]]
    );
    assert_eq!(
        partition.get_patient(p.id).unwrap().unwrap().name,
        "Order Test 5"
    );
}

// ---------------------------------------------------------------- other entities

fn appointment(clinic: Uuid, patient_id: Uuid, doctor_id: Uuid, hour: u32) -> Appointment {
    Appointment {
        id: Uuid::new_v4(),
        clinic_id: clinic,
        patient_id,
        doctor_id,
        starts_at: at(hour, 0),
        ends_at: at(hour, 15),
        status: AppointmentStatus::Booked,
        reason: Some("fever".to_owned()),
        version: 1,
        created_at: at(8, 0),
        updated_at: at(8, 0),
    }
}

fn invoice(clinic: Uuid, patient_id: Uuid, number: i64) -> Invoice {
    let id = Uuid::new_v4();
    let tax = LineTax {
        taxable_paise: 50_000,
        cgst_paise: 4_500,
        sgst_paise: 4_500,
        igst_paise: 0,
        total_paise: 59_000,
    };
    Invoice {
        id,
        clinic_id: clinic,
        patient_id,
        series: "PUNE-DESK1".to_owned(),
        number,
        invoice_number: format!("PUNE-DESK1/{number}"),
        issued_at: at(11, 0),
        place_of_supply: "27".to_owned(),
        supply_kind: SupplyKind::IntraState,
        lines: vec![InvoiceLine {
            id: Uuid::new_v4(),
            position: 1,
            description: "Consultation".to_owned(),
            sac_hsn: "999312".to_owned(),
            quantity: 1,
            unit_price_paise: 50_000,
            discount_paise: 0,
            gst_rate_bp: 1800,
            tax,
            treatment: Some(vaidya_shared::gst::TaxTreatment::Taxable),
            unit: Some("NA".to_owned()),
        }],
        totals: tax,
        payments: vec![Payment {
            id: Uuid::new_v4(),
            invoice_id: id,
            amount_paise: 59_000,
            method: PaymentMethod::Upi,
            reference: Some("UPI-REF-1".to_owned()),
            received_at: at(11, 5),
        }],
        paid_paise: 59_000,
        version: 1,
        supplier: Some(crate::clinic::test_supplier()),
        recipient: None,
        cancellation: None,
        doctor_id: Some(Uuid::new_v4()),
        // Kept with the invoice and read back whole (a JSON column of the cached row).
        credit_notes: vec![vaidya_shared::api::CreditNote {
            id: Uuid::new_v4(),
            invoice_id: id,
            series: "2526-C1".to_owned(),
            number,
            credit_note_number: format!("2526-C1/{number:06}"),
            issued_at: at(12, 0),
            reason: "Billed twice".to_owned(),
            lines: vec![vaidya_shared::api::CreditNoteLine {
                invoice_line_id: Uuid::new_v4(),
                position: 1,
                description: "Consultation".to_owned(),
                sac_hsn: "999312".to_owned(),
                gst_rate_bp: 1800,
                tax,
            }],
            totals: tax,
        }],
    }
}

#[test]
fn appointments_round_trip_and_list_by_day() {
    let f = fixture();
    let mut partition = f.open();
    let (patient_id, doctor, other_doctor) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let late = appointment(f.clinic, patient_id, doctor, 16);
    let early = appointment(f.clinic, patient_id, doctor, 10);
    let other = appointment(f.clinic, Uuid::new_v4(), other_doctor, 12);
    for a in [&late, &early, &other] {
        partition
            .commit_local(Some(a), None, &create(EntityKind::Appointment, a.id))
            .unwrap();
    }
    assert_eq!(
        partition.get_appointment(early.id).unwrap().as_ref(),
        Some(&early)
    );
    let day = partition
        .appointments_between(at(0, 0), at(23, 0), None)
        .unwrap();
    assert_eq!(day, vec![early.clone(), other.clone(), late.clone()]);
    let mine = partition
        .appointments_between(at(0, 0), at(23, 0), Some(doctor))
        .unwrap();
    assert_eq!(mine, vec![early.clone(), late.clone()]);
    assert_eq!(
        partition
            .appointments_between(at(10, 1), at(12, 0), None)
            .unwrap(),
        vec![]
    );
    assert_eq!(
        partition.appointments_for_patient(patient_id).unwrap(),
        vec![late, early]
    );
}

#[test]
fn clinical_rows_are_on_disk_only_under_the_clinical_stores_key() {
    let f = fixture();
    let mut doctor = f.open();
    assert!(doctor.clinical_store_open());
    let note = Encounter {
        id: Uuid::new_v4(),
        clinic_id: f.clinic,
        patient_id: Uuid::new_v4(),
        doctor_id: Uuid::new_v4(),
        appointment_id: None,
        chief_complaint: "Night sweats".to_owned(),
        notes: "Suspected tuberculosis".to_owned(),
        diagnosis: "TB, under evaluation".to_owned(),
        vitals: Vitals::default(),
        signed_at: None,
        signed_by: None,
        addenda: vec![],
        version: 1,
        created_at: at(10, 0),
        updated_at: at(10, 0),
    };
    let mut change = create(EntityKind::Encounter, note.id);
    change.data = Some(json!({"notes": "Suspected tuberculosis"}));
    doctor.commit_local(Some(&note), None, &change).unwrap();
    drop(doctor);

    // The front desk's session: everything it holds is the clinic file's key.
    let mut desk = f.open_without_clinical();
    assert!(!desk.clinical_store_open());
    assert_eq!(desk.get_encounter(note.id).unwrap(), None);
    // The pending change is in the clinic file's outbox, its values sealed: the desk sees
    // that it waits, never what it says, and does not push it.
    let (data, changes, sealed): (Option<String>, String, Option<Vec<u8>>) = desk
        .conn
        .query_row(
            "SELECT data, changes, sealed FROM outbox WHERE entity = 'encounter'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((data, changes.as_str()), (None, "{}"));
    let sealed = sealed.expect("sealed values");
    assert!(!sealed.windows(10).any(|w| w == b"tuberculos"));
    let seen = desk.outbox().unwrap();
    assert!(seen.len() == 1 && seen[0].is_sealed() && seen[0].mutation.data.is_none());
    assert!(desk.pushable_outbox(10).unwrap().is_empty());
    assert!(desk.rejected_changes().unwrap().is_empty());
    // Nor can the desk's session write a clinical record.
    let err = desk
        .commit_local(
            Some(&note),
            None,
            &create(EntityKind::Encounter, Uuid::new_v4()),
        )
        .unwrap_err();
    assert_eq!(err.code(), "clinical_locked");
    let in_file: i64 = desk
        .conn
        .query_row(
            "SELECT count(*) FROM main.sqlite_master WHERE name IN
             ('encounters', 'encounter_addenda', 'prescriptions', 'prescription_items')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(in_file, 0, "the clinic file holds no clinical table");
    let with_file_key = ClinicalKey::from_hex(&f.key.to_hex()).unwrap();
    assert_eq!(
        desk.open_clinical_store(&with_file_key).unwrap_err().code(),
        "partition_wrong_key"
    );
    assert!(!desk.clinical_store_open());
    let store = f.data_dir.clinical_store_file(f.clinic);
    assert!(!starts_with_plaintext_magic(&store).unwrap());
    let bytes = std::fs::read(&store).unwrap();
    assert!(!bytes.windows(10).any(|w| w == b"tuberculos"));
    drop(desk);

    // A clinician's session opens it with the store's key, and pushes the change whole.
    let doctor = f.open();
    assert_eq!(
        doctor.get_encounter(note.id).unwrap().map(|n| n.notes),
        Some("Suspected tuberculosis".to_owned())
    );
    let pushable = doctor.pushable_outbox(10).unwrap();
    assert!(pushable.len() == 1 && !pushable[0].is_sealed());
    assert_eq!(
        pushable[0]
            .mutation
            .data
            .as_ref()
            .map(|d| d["notes"].clone()),
        Some(json!("Suspected tuberculosis"))
    );
    // The clinician's pull cursor is kept in both files, each with the pages it committed;
    // when one file is a page behind (a crash between the two commits), the pull goes on
    // from it.
    let mut doctor = doctor;
    doctor.set_pull_cursor("c1").unwrap();
    assert_eq!(doctor.pull_cursor().unwrap().as_deref(), Some("c1"));
    for (ahead, behind) in [("main", "clinical"), ("clinical", "main")] {
        doctor.set_pull_cursor("c1").unwrap();
        doctor
            .conn
            .execute_batch(&format!(
                "UPDATE {ahead}.sync_state SET value = 'c2' WHERE key = 'pull_cursor';
                 UPDATE {ahead}.sync_state SET value = CAST(value AS INTEGER) + 1
                 WHERE key = 'pull_page';"
            ))
            .unwrap();
        assert_eq!(
            doctor.pull_cursor().unwrap().as_deref(),
            Some("c1"),
            "{behind} is behind"
        );
    }
    doctor.forget_pull_cursor().unwrap();
    assert_eq!(doctor.pull_cursor().unwrap(), None);
}

#[test]
fn a_clinical_conflicts_values_are_kept_in_the_clinical_store() {
    let f = fixture();
    let mut doctor = f.open();
    let note_id = Uuid::new_v4();
    let conflict = doctor
        .record_conflict(&NewConflict {
            entity: EntityKind::Encounter,
            entity_id: note_id,
            field: Some("diagnosis".to_owned()),
            local_value: Some(json!("Suspected tuberculosis")),
            server_value: Some(json!("Pneumonia")),
            kind: ConflictKind::SameField,
        })
        .unwrap();
    assert_eq!(conflict.local_value, Some(json!("Suspected tuberculosis")));
    let patient_conflict = doctor
        .record_conflict(&NewConflict {
            entity: EntityKind::Patient,
            entity_id: Uuid::new_v4(),
            field: Some("phone".to_owned()),
            local_value: Some(json!("+919800000001")),
            server_value: Some(json!("+919800000002")),
            kind: ConflictKind::SameField,
        })
        .unwrap();
    drop(doctor);

    // The clinic file keeps the conflict without its values; the desk is not shown it.
    let desk = f.open_without_clinical();
    let in_file: (Option<String>, Option<String>) = desk
        .conn
        .query_row(
            "SELECT local_value, server_value FROM main.conflicts WHERE id = ?1",
            [conflict.id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(in_file, (None, None));
    let seen: Vec<Uuid> = desk
        .open_conflicts()
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(seen, vec![patient_conflict.id]);
    drop(desk);

    let doctor = f.open();
    let open = doctor.open_conflicts().unwrap();
    assert_eq!(open.len(), 2);
    assert_eq!(
        open.iter()
            .find(|c| c.id == conflict.id)
            .map(|c| c.server_value.clone()),
        Some(Some(json!("Pneumonia")))
    );
}

#[test]
fn forgetting_the_last_clinician_deletes_the_clinical_store() {
    let f = fixture();
    let (doctor, nurse) = (Uuid::new_v4(), Uuid::new_v4());
    let mut partition = f.open();
    let pk = PasswordKey::derive("pw", doctor);
    partition
        .save_clinical_key_wrap(doctor, &pk.wrap(&f.clinical, f.clinic))
        .unwrap();
    partition.save_clinical_key_wrap(nurse, &[1, 2, 3]).unwrap();
    partition
        .note_member(doctor, Some(vaidya_shared::api::Role::Doctor))
        .unwrap();
    partition
        .note_member(nurse, Some(vaidya_shared::api::Role::Nurse))
        .unwrap();
    let store = f.data_dir.clinical_store_file(f.clinic);
    partition.forget_member(nurse).unwrap();
    assert!(store.exists(), "the doctor still opens it");
    assert_eq!(partition.clinical_key_wrap(nurse).unwrap(), None);
    assert!(partition.clinical_key_wrap(doctor).unwrap().is_some());
    partition.forget_member(doctor).unwrap();
    assert!(!store.exists(), "nobody left who may read it");
    assert!(!partition.clinical_store_open());
}

#[test]
fn encounters_prescriptions_and_invoices_round_trip_with_their_parts() {
    let f = fixture();
    let mut partition = f.open();
    let (patient_id, doctor) = (Uuid::new_v4(), Uuid::new_v4());
    let encounter_id = Uuid::new_v4();
    let mut encounter = Encounter {
        id: encounter_id,
        clinic_id: f.clinic,
        patient_id,
        doctor_id: doctor,
        appointment_id: None,
        chief_complaint: "Cough for 3 days".to_owned(),
        notes: "Chest clear".to_owned(),
        diagnosis: "URTI".to_owned(),
        vitals: Vitals {
            pulse_bpm: Some(88),
            temperature_dc: Some(381),
            ..Vitals::default()
        },
        signed_at: Some(at(10, 30)),
        signed_by: Some(doctor),
        addenda: vec![],
        version: 2,
        created_at: at(10, 0),
        updated_at: at(10, 30),
    };
    partition
        .commit_local(
            Some(&encounter),
            None,
            &create(EntityKind::Encounter, encounter.id),
        )
        .unwrap();
    // An addendum: the encounter with it added, and a mutation on the addendum.
    let addendum = Addendum {
        id: Uuid::new_v4(),
        encounter_id,
        author_id: doctor,
        text: "Culture report normal".to_owned(),
        created_at: at(15, 0),
    };
    encounter.addenda.push(addendum.clone());
    partition
        .commit_local(
            Some(&encounter),
            None,
            &Mutation {
                parent_id: Some(encounter_id),
                ..create(EntityKind::Addendum, addendum.id)
            },
        )
        .unwrap();
    assert_eq!(
        partition.get_encounter(encounter_id).unwrap().as_ref(),
        Some(&encounter)
    );
    assert_eq!(
        partition.encounters_for_patient(patient_id).unwrap(),
        vec![encounter]
    );

    let prescription = Prescription {
        acknowledged_allergies: Vec::new(),
        id: Uuid::new_v4(),
        clinic_id: f.clinic,
        patient_id,
        doctor_id: doctor,
        encounter_id: Some(encounter_id),
        notes: "After food".to_owned(),
        items: (1..=3)
            .map(|position| PrescriptionItem {
                id: Uuid::new_v4(),
                position,
                drug: format!("Drug {position}"),
                strength: "500 mg".to_owned(),
                dose: "1 tab".to_owned(),
                frequency: "1-0-1".to_owned(),
                duration: "5 days".to_owned(),
                instructions: String::new(),
            })
            .collect(),
        issued_at: at(10, 35),
        version: 1,
    };
    partition
        .commit_local(
            Some(&prescription),
            None,
            &create(EntityKind::Prescription, prescription.id),
        )
        .unwrap();
    assert_eq!(
        partition
            .get_prescription(prescription.id)
            .unwrap()
            .as_ref(),
        Some(&prescription)
    );
    assert_eq!(
        partition.prescriptions_for_patient(patient_id).unwrap(),
        vec![prescription]
    );

    let inv = invoice(f.clinic, patient_id, 41);
    partition
        .commit_local(Some(&inv), None, &create(EntityKind::Invoice, inv.id))
        .unwrap();
    assert_eq!(partition.get_invoice(inv.id).unwrap().as_ref(), Some(&inv));
    assert_eq!(
        partition.invoices_for_patient(patient_id).unwrap(),
        vec![inv]
    );
}

#[test]
fn pulled_rows_and_their_cursor_commit_together() {
    let f = fixture();
    let mut partition = f.open();
    let a = patient(f.clinic, 1, "Pulled One", None, None);
    let b = patient(f.clinic, 2, "Pulled Two", None, None);
    partition
        .apply_pull_page(&[pulled(&a), pulled(&b)], "cursor-2", false)
        .unwrap();
    assert_eq!(
        partition.pull_cursor().unwrap().as_deref(),
        Some("cursor-2")
    );
    assert_eq!(
        partition.outbox_len().unwrap(),
        0,
        "pulled rows are not local changes"
    );

    // A page with a row of another clinic is refused whole, cursor included.
    let stranger = patient(Uuid::new_v4(), 3, "Stranger", None, None);
    let c = patient(f.clinic, 4, "Pulled Four", None, None);
    assert!(partition
        .apply_pull_page(&[pulled(&c), pulled(&stranger)], "cursor-3", false)
        .is_err());
    assert_eq!(
        partition.pull_cursor().unwrap().as_deref(),
        Some("cursor-2")
    );
    assert_eq!(partition.get_patient(c.id).unwrap(), None);

    let synced = at(12, 0);
    partition.set_last_synced_at(synced).unwrap();
    assert_eq!(partition.last_synced_at().unwrap(), Some(synced));
}

// ---------------------------------------------------------------- audit of local reads

#[test]
fn reads_of_patient_data_are_recorded_with_ids_only() {
    let f = fixture();
    let mut partition = f.open();
    let p = patient(f.clinic, 5, "Audit Me", Some("9123456780"), None);
    add_patient(&mut partition, &p);
    assert!(
        partition.local_reads(10).unwrap().is_empty(),
        "writes are not reads"
    );

    partition.get_patient(p.id).unwrap();
    partition.search_patients("audit", 10).unwrap();
    partition.search_patients("nobody-matches", 10).unwrap();
    let reads = partition.local_reads(10).unwrap();
    assert_eq!(reads.len(), 2, "an empty result shows no patient data");
    assert_eq!(
        (reads[0].action, reads[0].entity),
        (ReadAction::Read, EntityKind::Patient)
    );
    assert_eq!(reads[0].entity_ids, vec![p.id]);
    assert_eq!(reads[1].action, ReadAction::List);
    assert_eq!(reads[1].patient_ids, vec![p.id]);
    assert!(reads[0].seq < reads[1].seq);

    assert_eq!(
        partition.forget_local_reads_through(reads[0].seq).unwrap(),
        1
    );
    assert_eq!(partition.local_reads(10).unwrap(), vec![reads[1].clone()]);
}

#[test]
fn a_read_is_signed_by_its_reader_as_stored() {
    let f = fixture();
    let mut partition = f.open();
    let p = patient(f.clinic, 6, "Signed Read", None, None);
    add_patient(&mut partition, &p);
    partition.get_patient(p.id).unwrap();
    let reader = vaidya_shared::authorship::DeviceSigner::from_secret(
        Uuid::now_v7(),
        Uuid::now_v7(),
        [5; 32],
    );
    partition.set_author(Some(reader.clone()));
    partition.get_patient(p.id).unwrap();
    drop(partition);
    // Reopened: what is uploaded is exactly what was signed.
    let partition = f.open();
    let reads = partition.local_reads(10).unwrap();
    assert_eq!(reads.len(), 2);
    assert!(reads[0].author.is_none(), "read before anyone was signing");
    let access = reads[1].to_access();
    assert_eq!(access.access_id, reads[1].read_id);
    assert_eq!(
        access.author.as_ref().map(|a| a.user_id),
        Some(reader.user_id)
    );
    vaidya_shared::authorship::verify(f.clinic, &access, &reader.public_key())
        .expect("the stored read verifies");
    let mut altered = access.clone();
    altered.at += chrono::TimeDelta::seconds(1);
    assert!(
        vaidya_shared::authorship::verify(f.clinic, &altered, &reader.public_key()).is_err(),
        "a read's time is part of what is signed"
    );
}

// ---------------------------------------------------------------- conflicts

#[test]
fn conflicts_wait_in_the_inbox_until_resolved() {
    let f = fixture();
    let mut partition = f.open();
    let entity_id = Uuid::new_v4();
    let conflict = partition
        .record_conflict(&NewConflict {
            entity: EntityKind::Patient,
            entity_id,
            field: Some("phone".to_owned()),
            local_value: Some(json!("9000000001")),
            server_value: Some(json!("9000000002")),
            kind: ConflictKind::SameField,
        })
        .unwrap();
    assert_eq!(conflict.kind, ConflictKind::SameField);
    assert_eq!(conflict.local_value, Some(json!("9000000001")));
    assert_eq!(partition.open_conflicts().unwrap(), vec![conflict.clone()]);
    assert!(partition.resolve_conflict(conflict.id).unwrap());
    assert!(!partition.resolve_conflict(conflict.id).unwrap());
    assert!(partition.open_conflicts().unwrap().is_empty());
}

// ---------------------------------------------------------------- search

fn search_fixture() -> (Fixture, ClinicPartition, Vec<Patient>) {
    let f = fixture();
    let mut partition = f.open();
    let people = vec![
        patient(
            f.clinic,
            1001,
            "Ramesh Sharma",
            Some("+91 98450 12345"),
            None,
        ),
        patient(
            f.clinic,
            1002,
            "Rama Krishnan",
            Some("080-2345 6789"),
            Some("91-2345-6789-0123"),
        ),
        patient(
            f.clinic,
            1003,
            "Priya Raman",
            Some("9988776655"),
            Some("12-3456-7890-1234"),
        ),
        patient(f.clinic, 2040, "Ananya Deshpande", None, None),
        patient(f.clinic, 2041, "José D'Souza", Some("9812300000"), None),
        patient(f.clinic, 2042, "रमेश कुमार", None, None),
    ];
    for p in &people {
        add_patient(&mut partition, p);
    }
    (f, partition, people)
}

#[test]
fn search_matches_name_prefixes_as_you_type() {
    let (_f, partition, _) = search_fixture();
    let s = |q: &str| -> Vec<String> {
        let mut found: Vec<String> = names(&partition.search_patients(q, 50).unwrap())
            .into_iter()
            .map(str::to_owned)
            .collect();
        found.sort();
        found
    };
    assert_eq!(
        s("r"),
        vec!["Priya Raman", "Rama Krishnan", "Ramesh Sharma"]
    );
    assert_eq!(
        s("ram"),
        vec!["Priya Raman", "Rama Krishnan", "Ramesh Sharma"]
    );
    assert_eq!(s("rame"), vec!["Ramesh Sharma"]);
    assert_eq!(s("RAMESH sh"), vec!["Ramesh Sharma"]);
    assert_eq!(
        s("sharma ram"),
        vec!["Ramesh Sharma"],
        "word order does not matter"
    );
    assert_eq!(s("jose"), vec!["José D'Souza"], "diacritics are folded");
    assert_eq!(s("d'sou"), vec!["José D'Souza"]);
    assert_eq!(s("रमे"), vec!["रमेश कुमार"], "Devanagari names are searchable");
    assert!(s("zzz").is_empty());
}

/// Search lists its matches as the server's search does (by name regardless of case, then
/// id), not by a relevance of its own, so a desk sees the same list online and offline.
#[test]
fn search_lists_matches_by_name_like_the_server() {
    let (f, mut partition, people) = search_fixture();
    let twin_a = patient(f.clinic, 3001, "ramesh sharma", None, None);
    let twin_b = patient(f.clinic, 3002, "RAMESH SHARMA", None, None);
    add_patient(&mut partition, &twin_a);
    add_patient(&mut partition, &twin_b);
    let found = partition.search_patients("ram", 50).unwrap();
    assert_eq!(
        names(&found[..2]),
        vec!["Priya Raman", "Rama Krishnan"],
        "by name, whatever the word matched"
    );
    // Three patients whose names differ only in case: the id decides, as on the server.
    let mut same_name = vec![people[0].id, twin_a.id, twin_b.id];
    same_name.sort();
    let listed: Vec<Uuid> = found[2..].iter().map(|p| p.id).collect();
    assert_eq!(listed, same_name);
}

#[test]
fn search_finds_phone_abha_and_patient_number() {
    let (_f, partition, people) = search_fixture();
    let ids = |q: &str| -> Vec<Uuid> {
        partition
            .search_patients(q, 50)
            .unwrap()
            .iter()
            .map(|p| p.id)
            .collect()
    };
    let ramesh = people[0].id;
    for q in [
        "98450",
        "9845012345",
        "+91 98450 12345",
        "98450-123",
        "919845",
    ] {
        assert_eq!(ids(q), vec![ramesh], "phone query {q:?}");
    }
    assert_eq!(
        ids("0802345"),
        vec![people[1].id],
        "landline with its STD code"
    );
    for q in ["12345678901234", "12-3456-7890-1234", "1234567"] {
        assert_eq!(ids(q), vec![people[2].id], "ABHA query {q:?}");
    }
    assert_eq!(ids("1003"), vec![people[2].id]);
    let mut numbers: Vec<i64> = partition
        .search_patients("204", 50)
        .unwrap()
        .iter()
        .map(|p| p.patient_number)
        .collect();
    numbers.sort();
    assert_eq!(numbers, vec![2040, 2041, 2042]);
    assert_eq!(
        partition.search_patients("r", 2).unwrap().len(),
        2,
        "limit is applied"
    );
}

#[test]
fn search_follows_updates() {
    let (_f, mut partition, people) = search_fixture();
    let mut renamed = people[3].clone();
    renamed.name = "Ananya Kulkarni".to_owned();
    renamed.phone = Some("7000012345".to_owned());
    renamed.version = 2;
    let patch = PatientPatch {
        name: Some(renamed.name.clone()),
        phone: renamed.phone.clone(),
        ..PatientPatch::default()
    };
    let updated = partition.update_patient(renamed.id, valid(patch)).unwrap();
    assert_eq!(updated.name, renamed.name);
    let entry = partition.outbox().unwrap().pop().unwrap();
    assert_eq!(
        entry.mutation.changes["name"],
        json!({ "value": "Ananya Kulkarni", "base": people[3].name }),
        "the base is the value the user saw"
    );
    assert!(partition.search_patients("deshp", 10).unwrap().is_empty());
    assert_eq!(
        names(&partition.search_patients("kulk", 10).unwrap()),
        vec!["Ananya Kulkarni"]
    );
    assert_eq!(
        names(&partition.search_patients("70000", 10).unwrap()),
        vec!["Ananya Kulkarni"]
    );
}

/// The search index is whole: FTS5's own check that the index matches the patients table.
fn assert_search_index_whole(partition: &ClinicPartition) {
    partition
        .conn
        .execute_batch("INSERT INTO patients_fts (patients_fts) VALUES ('integrity-check')")
        .expect("the search index matches the patients");
}

/// A first fill queues its patients for search and indexes them in batches
/// (`bulk_load`): until then they are not found, edits on this PC meanwhile are found at
/// once, a queued patient updated or removed by a later page is indexed as it ends up, and
/// the index stays exactly the patients table throughout.
#[test]
fn a_fill_indexes_its_patients_in_batches() {
    let f = fixture();
    let mut partition = f.open();
    let mut ramesh = patient(f.clinic, 1, "Ramesh Sharma", Some("9845012345"), None);
    let rama = patient(f.clinic, 2, "Rama Krishnan", None, None);
    let priya = patient(f.clinic, 3, "Priya Raman", None, None);
    partition.set_bulk_load(Some(64)).unwrap();
    let page: Vec<_> = [&ramesh, &rama, &priya].map(pulled).into();
    partition.apply_pull_page(&page, "c1", true).unwrap();
    assert!(
        partition.search_patients("ram", 10).unwrap().is_empty(),
        "queued, not indexed yet"
    );
    assert_search_index_whole(&partition);

    // The front desk registers someone while the fill runs: found at once.
    let walk_in = patient(f.clinic, 4, "Ramya Iyer", None, None);
    add_patient(&mut partition, &walk_in);
    assert_eq!(
        names(&partition.search_patients("ramy", 10).unwrap()),
        vec!["Ramya Iyer"]
    );

    // A later page renames one queued patient and removes another.
    ramesh.name = "Ramesh Verma".to_owned();
    ramesh.version = 2;
    let mut gone = pulled(&priya);
    gone.deleted = true;
    partition
        .apply_pull_page(&[pulled(&ramesh), gone], "c2", true)
        .unwrap();
    assert_search_index_whole(&partition);

    assert_eq!(partition.index_pending_search().unwrap(), 2);
    let mut found: Vec<String> = names(&partition.search_patients("ram", 10).unwrap())
        .into_iter()
        .map(str::to_owned)
        .collect();
    found.sort();
    assert_eq!(found, vec!["Rama Krishnan", "Ramesh Verma", "Ramya Iyer"]);
    assert!(partition.search_patients("sharma", 10).unwrap().is_empty());
    assert_search_index_whole(&partition);

    // After the fill, pulled rows are indexed as they are written, updates included.
    partition.set_bulk_load(None).unwrap();
    ramesh.name = "Ramesh Joshi".to_owned();
    ramesh.version = 3;
    partition
        .apply_pull_page(&[pulled(&ramesh)], "c3", false)
        .unwrap();
    assert_eq!(
        names(&partition.search_patients("josh", 10).unwrap()),
        vec!["Ramesh Joshi"]
    );
    assert!(partition.search_patients("verma", 10).unwrap().is_empty());
    assert_search_index_whole(&partition);
}

/// The schema's explicit indexes, by name with their SQL.
fn index_sql(partition: &ClinicPartition) -> Vec<(String, String)> {
    let mut stmt = partition
        .conn
        .prepare(
            "SELECT name, sql FROM main.sqlite_master
             WHERE type = 'index' AND sql IS NOT NULL ORDER BY name",
        )
        .unwrap();
    stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// A fill drops the entity tables' lookup indexes and builds the very same ones at its end;
/// the child tables keep theirs (replacing an invoice's lines looks them up), and so do the
/// file's own tables (outbox).
#[test]
fn a_fill_builds_the_lookup_indexes_at_its_end() {
    let f = fixture();
    let mut partition = f.open();
    let before = index_sql(&partition);
    let names =
        |v: &[(String, String)]| -> Vec<String> { v.iter().map(|(n, _)| n.clone()).collect() };
    for expected in [
        "appointments_patient",
        "patients_phone",
        "invoice_lines_invoice",
        "outbox_entity",
    ] {
        assert!(
            names(&before).contains(&expected.to_owned()),
            "{expected} exists"
        );
    }
    partition.set_bulk_load(Some(64)).unwrap();
    let during = names(&index_sql(&partition));
    for gone in [
        "appointments_patient",
        "appointments_starts",
        "patients_phone",
        "invoices_patient",
    ] {
        assert!(
            !during.contains(&gone.to_owned()),
            "{gone} waits for the fill's end"
        );
    }
    for kept in [
        "invoice_lines_invoice",
        "invoice_payments_invoice",
        "outbox_entity",
    ] {
        assert!(during.contains(&kept.to_owned()), "{kept} stays");
    }
    // The screens still read while the indexes are away.
    let asha = patient(f.clinic, 1, "Asha Patil", Some("9822012345"), None);
    partition
        .apply_pull_page(&[pulled(&asha)], "c1", true)
        .unwrap();
    assert_eq!(
        partition.get_patient(asha.id).unwrap().map(|p| p.name),
        Some("Asha Patil".to_owned())
    );
    partition.set_bulk_load(None).unwrap();
    assert_eq!(
        index_sql(&partition),
        before,
        "the same indexes, from the same SQL"
    );
}

/// A fill that died with its indexes dropped: the next opening of the file builds them.
#[test]
fn indexes_a_cut_off_fill_deferred_are_built_at_the_next_open() {
    let f = fixture();
    let before = {
        let mut partition = f.open();
        let before = index_sql(&partition);
        partition.set_bulk_load(Some(64)).unwrap();
        assert_ne!(index_sql(&partition), before);
        before
        // Dropped without ending the bulk load: the process died.
    };
    assert_eq!(index_sql(&f.open()), before);
}

/// A fill cut off with patients still queued (the app killed between pages): the next
/// opening of the file indexes them, whether or not the fill ever resumes.
#[test]
fn patients_a_cut_off_fill_queued_are_indexed_at_the_next_open() {
    let f = fixture();
    let kavita = patient(f.clinic, 7, "Kavita Rao", None, None);
    {
        let mut partition = f.open();
        partition.set_bulk_load(Some(64)).unwrap();
        partition
            .apply_pull_page(&[pulled(&kavita)], "c1", true)
            .unwrap();
        // Dropped here without ending the bulk load: the process died.
    }
    let partition = f.open();
    assert_eq!(
        names(&partition.search_patients("kavi", 10).unwrap()),
        vec!["Kavita Rao"]
    );
    assert_search_index_whole(&partition);
}

#[test]
fn hostile_search_input_never_errors() {
    let (_f, partition, _) = search_fixture();
    let hostile = [
        "",
        " ",
        "\"",
        "\"\"",
        "'",
        "*",
        "**",
        "\"*",
        "ram\"",
        "\"ram",
        "r*m",
        "ram*",
        "-ram",
        "+",
        "^ram",
        "(",
        ")",
        "()",
        "ram)",
        "(ram",
        "AND",
        "OR",
        "NOT",
        "ram AND",
        "OR sharma",
        "ram NOT sharma",
        "NEAR",
        "NEAR(ram sharma)",
        "NEAR(ram sharma, 2)",
        "name:ram",
        "{name phone}:ram",
        "ram:",
        ":",
        "\0",
        "ram\0sharma",
        "\0\0\0",
        "\u{1}\u{7f}",
        "Ⓐ",
        "ⓡⓐⓜ",
        "🙂",
        "ram 🙂",
        "\u{301}",
        "x'00'",
        "'; DROP TABLE patients; --",
        "%",
        "_",
        "\\",
        "ram\\",
        "[ram]",
        "ram,sharma",
        "a.b.c",
        "ram/sharma",
        "#",
        "@",
        "- - -",
        "+91",
        "()-",
        "-0",
        "..",
        "9845 0",
        "0",
    ];
    for q in hostile {
        let result = partition.search_patients(q, 20);
        assert!(result.is_ok(), "query {q:?} failed: {result:?}");
    }
    let long = "ram ".repeat(10_000);
    assert!(partition.search_patients(&long, 20).is_ok());
    // Operators are plain words, not syntax: "ram OR priya" needs a word starting "or".
    assert!(partition
        .search_patients("ram OR priya", 20)
        .unwrap()
        .is_empty());
    // …and the table is intact.
    assert_eq!(partition.search_patients("ramesh", 20).unwrap().len(), 1);
}

#[test]
fn two_connections_share_one_partition() {
    let f = fixture();
    let mut first = f.open();
    let mut second = f.open();
    let a = patient(f.clinic, 1, "From First", None, None);
    let b = patient(f.clinic, 2, "From Second", None, None);
    add_patient(&mut first, &a);
    add_patient(&mut second, &b);
    assert_eq!(first.get_patient(b.id).unwrap(), Some(b.clone()));
    let order: Vec<Uuid> = second
        .outbox()
        .unwrap()
        .iter()
        .map(|e| e.mutation.entity_id)
        .collect();
    assert_eq!(order, vec![a.id, b.id]);
}

// ---------------------------------------------------------------- clinical and billing writes

use vaidya_shared::api::{
    Clinic, EncounterPatch, Member, NewEncounter, NewInvoice, NewInvoiceLine, NewPayment,
    NewPrescription, NewPrescriptionItem, UserSummary,
};

/// Rows in a table and outbox entries, to show a write stored both or neither.
fn counts(partition: &ClinicPartition, table: &str) -> (i64, i64) {
    let rows = partition
        .conn
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap();
    (rows, partition.outbox_len().unwrap())
}

fn last_mutation(partition: &ClinicPartition) -> Mutation {
    partition.outbox().unwrap().pop().unwrap().mutation
}

fn draft_note(partition: &mut ClinicPartition, doctor: Uuid) -> Encounter {
    partition
        .create_encounter(
            valid(NewEncounter {
                id: None,
                patient_id: Uuid::new_v4(),
                appointment_id: None,
                chief_complaint: "fever".to_owned(),
                notes: "3 days".to_owned(),
                diagnosis: String::new(),
                vitals: Vitals {
                    pulse_bpm: Some(88),
                    ..Vitals::default()
                },
            }),
            doctor,
        )
        .unwrap()
}

#[test]
fn an_encounter_edit_sends_only_changed_fields_with_their_base() {
    let f = fixture();
    let mut partition = f.open();
    let doctor = Uuid::new_v4();
    let note = draft_note(&mut partition, doctor);
    assert_eq!(counts(&partition, "encounters"), (1, 1));

    let edited = partition
        .update_encounter(
            note.id,
            valid(EncounterPatch {
                chief_complaint: Some("fever".to_owned()), // unchanged: not sent
                notes: Some("3 days, worse at night".to_owned()),
                vitals: Some(Vitals {
                    pulse_bpm: Some(92),
                    temperature_dc: Some(384),
                    ..Vitals::default()
                }),
                ..EncounterPatch::default()
            }),
        )
        .unwrap();
    assert_eq!(counts(&partition, "encounters"), (1, 2), "row + one entry");
    assert_eq!(
        partition
            .peek::<kinds::Encounter>(note.id)
            .unwrap()
            .unwrap(),
        edited,
        "the cached row is the edited note"
    );
    let m = last_mutation(&partition);
    assert_eq!(
        (m.entity, m.entity_id, m.op, m.base_version),
        (EntityKind::Encounter, note.id, Operation::Update, Some(0))
    );
    assert!(m.data.is_none() && m.parent_id.is_none());
    assert_eq!(
        serde_json::Value::Object(m.changes),
        json!({
            "notes": {"value": "3 days, worse at night", "base": "3 days"},
            "vitals": {
                "value": serde_json::to_value(&edited.vitals).unwrap(),
                "base": serde_json::to_value(&note.vitals).unwrap(),
            },
        })
    );

    // Nothing changed: no entry.
    partition
        .update_encounter(
            note.id,
            valid(EncounterPatch {
                diagnosis: Some(String::new()),
                ..EncounterPatch::default()
            }),
        )
        .unwrap();
    assert_eq!(counts(&partition, "encounters"), (1, 2));
    let missing = partition
        .update_encounter(Uuid::new_v4(), valid(EncounterPatch::default()))
        .unwrap_err();
    assert_eq!(missing.code(), "partition_not_found");
}

#[test]
fn signing_marks_the_note_and_sends_a_sign_change_after_its_edits() {
    let f = fixture();
    let mut partition = f.open();
    let doctor = Uuid::new_v4();
    let note = draft_note(&mut partition, doctor);

    let signed = partition
        .sign_encounter(
            note.id,
            valid(EncounterPatch {
                diagnosis: Some("Viral fever".to_owned()),
                ..EncounterPatch::default()
            }),
            doctor,
        )
        .unwrap();
    assert!(signed.signed_at.is_some(), "signed locally at once");
    assert_eq!(signed.signed_by, Some(doctor));
    assert_eq!(signed.diagnosis, "Viral fever");
    assert_eq!(
        partition
            .peek::<kinds::Encounter>(note.id)
            .unwrap()
            .unwrap(),
        signed
    );
    assert_eq!(counts(&partition, "encounters"), (1, 2), "one sign entry");
    let m = last_mutation(&partition);
    assert_eq!(
        (m.entity, m.op, m.base_version),
        (EntityKind::Encounter, Operation::Update, Some(0))
    );
    assert_eq!(
        serde_json::Value::Object(m.changes.clone()),
        json!({
            "diagnosis": {"value": "Viral fever", "base": ""},
            "sign": {"value": true, "base": false},
        })
    );
    check_mutation(&m).unwrap();

    // A signed note changes only through addenda: nothing is written.
    for err in [
        partition
            .sign_encounter(note.id, valid(EncounterPatch::default()), doctor)
            .unwrap_err(),
        partition
            .update_encounter(
                note.id,
                valid(EncounterPatch {
                    notes: Some("changed".to_owned()),
                    ..EncounterPatch::default()
                }),
            )
            .unwrap_err(),
    ] {
        assert_eq!(err.code(), "partition_invalid_mutation");
    }
    assert_eq!(counts(&partition, "encounters"), (1, 2));
    assert_eq!(
        partition
            .peek::<kinds::Encounter>(note.id)
            .unwrap()
            .unwrap(),
        signed
    );
}

#[test]
fn a_prescription_is_stored_with_its_create_mutation() {
    let f = fixture();
    let mut partition = f.open();
    let doctor = Uuid::new_v4();
    let patient_id = Uuid::new_v4();
    let new = NewPrescription {
        acknowledged_allergies: Vec::new(),
        id: None,
        patient_id,
        encounter_id: None,
        notes: "Review in 5 days".to_owned(),
        items: vec![
            NewPrescriptionItem {
                drug: "Paracetamol".to_owned(),
                strength: "650 mg".to_owned(),
                dose: "1 tab".to_owned(),
                frequency: "TDS".to_owned(),
                duration: "3 days".to_owned(),
                instructions: "after food".to_owned(),
            },
            NewPrescriptionItem {
                drug: "Cetirizine".to_owned(),
                strength: "10 mg".to_owned(),
                dose: "1 tab".to_owned(),
                frequency: "HS".to_owned(),
                duration: "5 days".to_owned(),
                instructions: String::new(),
            },
        ],
    };
    let rx = partition
        .create_prescription(valid(new.clone()), doctor)
        .unwrap();
    assert_eq!(counts(&partition, "prescriptions"), (1, 1));
    assert_eq!(
        (rx.doctor_id, rx.clinic_id, rx.items.len()),
        (doctor, f.clinic, 2)
    );
    assert_eq!(
        rx.items.iter().map(|i| i.position).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(partition.get_prescription(rx.id).unwrap().unwrap(), rx);

    let m = last_mutation(&partition);
    assert_eq!(
        (m.entity, m.entity_id, m.op, m.base_version, m.parent_id),
        (
            EntityKind::Prescription,
            rx.id,
            Operation::Create,
            None,
            None
        )
    );
    let data: NewPrescription = serde_json::from_value(m.data.clone().unwrap()).unwrap();
    assert_eq!(data.id, Some(rx.id), "data carries the client-chosen id");
    assert_eq!(data.patient_id, patient_id);
    assert_eq!(data.items.len(), 2);
    assert_eq!(data.items[0].drug, "Paracetamol");
    assert!(m.changes.is_empty());

    // Without items: the shared rules refuse it, so no `Valid` value (and no row or entry)
    // can be made from it.
    let err = vaidya_shared::rules::Validate::validate(
        NewPrescription {
            items: Vec::new(),
            ..new
        },
        Utc::now().date_naive(),
    )
    .unwrap_err();
    assert_eq!(err.field.as_deref(), Some("items"));
    assert_eq!(counts(&partition, "prescriptions"), (1, 1));
}

fn local_invoice(partition: &mut ClinicPartition) -> Invoice {
    partition
        .create_invoice(
            valid(NewInvoice {
                id: None,
                patient_id: Uuid::new_v4(),
                series: None,
                number: None,
                place_of_supply: None,
                lines: vec![NewInvoiceLine {
                    description: "Consultation".to_owned(),
                    sac_hsn: "999312".to_owned(),
                    quantity: 1,
                    unit_price_paise: 50_000,
                    discount_paise: 0,
                    gst_rate_bp: 1800,
                    treatment: None,
                    unit: None,
                }],
                recipient: None,
                doctor_id: None,
            }),
            &crate::clinic::test_supplier(),
        )
        .unwrap()
}

#[test]
fn a_business_customer_stays_with_the_invoice_and_its_change() {
    let f = fixture();
    let mut partition = f.open();
    let recipient = vaidya_shared::api::InvoiceRecipient {
        gstin: "29AAGCA1234D1Z4".to_owned(),
        name: "Acme Software Pvt Ltd".to_owned(),
    };
    let issued = partition
        .create_invoice(
            valid(NewInvoice {
                id: None,
                patient_id: Uuid::new_v4(),
                series: None,
                number: None,
                place_of_supply: None,
                lines: vec![NewInvoiceLine {
                    description: "Annual health check-up".to_owned(),
                    sac_hsn: "999312".to_owned(),
                    quantity: 10,
                    unit_price_paise: 150_000,
                    discount_paise: 0,
                    gst_rate_bp: 0,
                    treatment: None,
                    unit: None,
                }],
                recipient: Some(recipient.clone()),
                doctor_id: None,
            }),
            &crate::clinic::test_supplier(),
        )
        .unwrap();
    assert_eq!(issued.recipient.as_ref(), Some(&recipient));
    assert_eq!(partition.get_invoice(issued.id).unwrap().unwrap(), issued);
    // The server gets the customer with the change, as the device printed it.
    let m = last_mutation(&partition);
    assert_eq!(
        m.data.unwrap()["recipient"],
        json!({"gstin": "29AAGCA1234D1Z4", "name": "Acme Software Pvt Ltd"})
    );
}

#[test]
fn a_payment_updates_the_cached_invoice_and_names_its_parent() {
    let f = fixture();
    let mut partition = f.open();
    let invoice = local_invoice(&mut partition);
    assert_eq!(invoice.totals.total_paise, 59_000);
    let payments = |p: &ClinicPartition| -> i64 {
        p.conn
            .query_row("SELECT count(*) FROM invoice_payments", [], |r| r.get(0))
            .unwrap()
    };

    let after = partition
        .add_payment(
            invoice.id,
            valid(NewPayment {
                id: None,
                amount_paise: 20_000,
                method: PaymentMethod::Upi,
                reference: Some("UPI-123".to_owned()),
            }),
        )
        .unwrap();
    assert_eq!(after.paid_paise, 20_000);
    assert_eq!(after.payments.len(), 1);
    let payment = &after.payments[0];
    assert_eq!(
        (payment.invoice_id, payment.amount_paise, payment.method),
        (invoice.id, 20_000, PaymentMethod::Upi)
    );
    assert_eq!(partition.get_invoice(invoice.id).unwrap().unwrap(), after);
    assert_eq!(
        (payments(&partition), partition.outbox_len().unwrap()),
        (1, 2)
    );

    let m = last_mutation(&partition);
    assert_eq!(
        (m.entity, m.entity_id, m.op, m.parent_id),
        (
            EntityKind::Payment,
            payment.id,
            Operation::Create,
            Some(invoice.id)
        )
    );
    assert_eq!(
        m.data,
        Some(json!({
            "id": payment.id,
            "amount_paise": 20_000,
            "method": "upi",
            "reference": "UPI-123",
        }))
    );
    assert_eq!(
        cache_target(&m),
        (EntityKind::Invoice, invoice.id),
        "a pull does not overwrite the invoice while the payment waits"
    );

    // A second payment adds up; bad ones write nothing.
    let after = partition
        .add_payment(
            invoice.id,
            valid(NewPayment {
                id: None,
                amount_paise: 39_000,
                method: PaymentMethod::Cash,
                reference: None,
            }),
        )
        .unwrap();
    assert_eq!((after.paid_paise, after.payments.len()), (59_000, 2));
    // A payment of ₹0 is refused by the shared rules (no `Valid` value exists); one for an
    // invoice that is not here is refused by the partition.
    let zero = NewPayment {
        id: None,
        amount_paise: 0,
        method: PaymentMethod::Cash,
        reference: None,
    };
    assert!(vaidya_shared::rules::Validate::validate(zero, Utc::now().date_naive()).is_err());
    partition
        .add_payment(
            Uuid::new_v4(),
            valid(NewPayment {
                id: None,
                amount_paise: 100,
                method: PaymentMethod::Cash,
                reference: None,
            }),
        )
        .unwrap_err();
    assert_eq!(
        (payments(&partition), partition.outbox_len().unwrap()),
        (2, 3)
    );
}

#[test]
fn a_print_is_logged_as_a_print_access_with_its_patient() {
    let f = fixture();
    let mut partition = f.open();
    let invoice = local_invoice(&mut partition);
    let before = partition.outbox_len().unwrap();

    partition
        .record_print(EntityKind::Invoice, invoice.id)
        .unwrap();
    let reads = partition.local_reads(10).unwrap();
    assert_eq!(reads.len(), 1, "a print is one access, not a read too");
    assert_eq!(
        (reads[0].action, reads[0].entity),
        (ReadAction::Print, EntityKind::Invoice)
    );
    assert_eq!(reads[0].entity_ids, vec![invoice.id]);
    assert_eq!(reads[0].patient_ids, vec![invoice.patient_id]);
    assert_eq!(partition.outbox_len().unwrap(), before, "no mutation");

    let missing = partition
        .record_print(EntityKind::Prescription, Uuid::new_v4())
        .unwrap_err();
    assert_eq!(missing.code(), "partition_not_found");
    let odd = partition
        .record_print(EntityKind::Patient, Uuid::new_v4())
        .unwrap_err();
    assert_eq!(odd.code(), "partition_invalid_mutation");
    assert_eq!(partition.local_reads(10).unwrap().len(), 1);

    // The log survives a reopen, in order.
    drop(partition);
    let partition = f.open();
    assert_eq!(partition.local_reads(10).unwrap(), reads);
}

#[test]
fn members_and_clinic_details_are_kept_for_offline_use() {
    let f = fixture();
    let mut partition = f.open();
    assert_eq!(partition.cached_members().unwrap(), None);
    assert_eq!(partition.cached_clinic().unwrap(), None);
    let doctor = Member {
        id: Uuid::new_v4(),
        clinic_id: f.clinic,
        user: UserSummary {
            id: Uuid::new_v4(),
            email: "dr.rao@clinic.example".to_owned(),
            display_name: "Dr. Rao".to_owned(),
        },
        role: vaidya_shared::api::Role::Doctor,
        created_at: at(9, 0),
        revoked_at: None,
        registration: None,
    };
    let clinic = Clinic {
        id: f.clinic,
        group_id: Uuid::new_v4(),
        name: "Shanti Clinic, Kothrud".to_owned(),
        gstin: Some("27AAAAA0000A1Z5".to_owned()),
        state_code: "27".to_owned(),
        address: "Pune".to_owned(),
    };
    partition
        .set_cached_members(std::slice::from_ref(&doctor))
        .unwrap();
    partition.set_cached_clinic(&clinic).unwrap();
    let foreign = Member {
        clinic_id: Uuid::new_v4(),
        ..doctor.clone()
    };
    assert_eq!(
        partition.set_cached_members(&[foreign]).unwrap_err().code(),
        "partition_wrong_clinic"
    );

    drop(partition);
    let partition = f.open();
    assert_eq!(partition.cached_members().unwrap(), Some(vec![doctor]));
    assert_eq!(partition.cached_clinic().unwrap(), Some(clinic));
}

#[test]
fn waiting_work_is_counted_by_author_and_named_from_the_member_list() {
    let f = fixture();
    let mut partition = f.open();
    let rao = Uuid::new_v4();
    partition
        .set_cached_members(&[Member {
            id: Uuid::new_v4(),
            clinic_id: f.clinic,
            user: UserSummary {
                id: rao,
                email: "dr.rao@clinic.example".to_owned(),
                display_name: "Dr. Rao".to_owned(),
            },
            role: vaidya_shared::api::Role::Doctor,
            created_at: at(9, 0),
            revoked_at: None,
            registration: None,
        }])
        .unwrap();
    let signer = vaidya_shared::authorship::DeviceSigner::from_secret(rao, Uuid::new_v4(), [3; 32]);
    for (i, signed) in [(1, true), (2, true), (3, false)] {
        let p = patient(f.clinic, i, "Waiting", None, None);
        let mut m = create(EntityKind::Patient, p.id);
        if signed {
            signer.sign(f.clinic, &mut m);
        }
        partition.commit_local(Some(&p), None, &m).unwrap();
    }
    let stranger = patient(f.clinic, 4, "Former", None, None);
    let mut m = create(EntityKind::Patient, stranger.id);
    vaidya_shared::authorship::DeviceSigner::from_secret(Uuid::new_v4(), Uuid::new_v4(), [4; 32])
        .sign(f.clinic, &mut m);
    partition.commit_local(Some(&stranger), None, &m).unwrap();

    let waiting = partition.waiting_work().unwrap();
    let summary: Vec<(Option<&str>, i64)> = waiting
        .iter()
        .map(|w| (w.author_name.as_deref(), w.pending))
        .collect();
    assert_eq!(summary, vec![(Some("Dr. Rao"), 2), (None, 1), (None, 1)]);
    assert_eq!(waiting[0].author_id, Some(rao));
    assert_eq!(waiting[1].author_id, None, "unsigned: made before signing");
    assert!(
        waiting[2].author_id.is_some(),
        "a signer not on the member list"
    );
    assert_eq!(
        partition.member_name(rao).unwrap().as_deref(),
        Some("Dr. Rao")
    );
}

#[test]
fn each_series_of_a_year_is_numbered_from_1_and_the_old_one_keeps_counting() {
    let f = fixture();
    let mut p = f.open();
    let march = Utc.with_ymd_and_hms(2026, 3, 31, 12, 0, 0).unwrap();
    let april = Utc.with_ymd_and_hms(2026, 4, 1, 12, 0, 0).unwrap();
    // Before the server allocated a code: the old series, no year.
    let old = p.invoice_series_at(march).unwrap();
    assert!(old.len() == 7 && old.starts_with('D'), "{old}");
    assert_eq!(old, p.invoice_series_at(april).unwrap());
    assert!(
        p.set_invoice_series_code("D07").is_err(),
        "not a server code"
    );
    p.set_invoice_series_code("D4").unwrap();
    p.set_invoice_series_code("D4").unwrap();
    assert!(
        p.set_invoice_series_code("D5").is_err(),
        "a file keeps its code"
    );
    assert_eq!(p.invoice_series_at(march).unwrap(), "2526-D4");
    assert_eq!(p.invoice_series_at(april).unwrap(), "2627-D4");
    let take = |p: &ClinicPartition, series: &str| {
        ClinicPartition::take_invoice_number(&p.conn, series).unwrap()
    };
    assert_eq!(take(&p, "2526-D4"), 1);
    assert_eq!(take(&p, "2526-D4"), 2);
    assert_eq!(take(&p, &old), 1);
    assert_eq!(take(&p, "2627-D4"), 1, "April starts again at 1");
    assert_eq!(take(&p, "2526-D4"), 3);
    assert_eq!(take(&p, &old), 2);
}

// ---------------------------------------------------------------- duplicates

#[test]
fn a_likely_duplicate_is_found_offline_and_a_family_mobile_is_not() {
    let f = fixture();
    let mut p = f.open_without_clinical();
    let mobile = Some("+919845012345");
    let ravi = patient(f.clinic, 12, "Ravi Sharma", mobile, None);
    let kamala = patient(f.clinic, 13, "Kamala Devi", None, Some("91234567890123"));
    add_patient(&mut p, &ravi);
    add_patient(&mut p, &kamala);
    let new = |name: &str, phone: Option<&str>, abha: Option<&str>| NewPatient {
        id: None,
        name: name.to_owned(),
        sex: Sex::Male,
        date_of_birth: chrono::NaiveDate::from_ymd_opt(1987, 1, 1),
        phone: phone.map(str::to_owned),
        address: None,
        abha_number: abha.map(str::to_owned),
    };
    let matches = |name: &str, phone: Option<&str>, abha: Option<&str>| {
        p.likely_duplicates(&new(name, phone, abha))
            .unwrap()
            .into_iter()
            .map(|d| (d.patient.id, d.reason))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        matches("Ravi Sarma", mobile, None),
        [(ravi.id, DuplicateReason::SamePhoneAndName)]
    );
    // The son on the family's mobile, and a stranger: nobody.
    assert!(matches("Suresh Sharma", mobile, None).is_empty());
    assert!(matches("Ravi Sharma", Some("+919800000000"), None).is_empty());
    // An ABHA number is one person, whatever the name.
    assert_eq!(
        matches("K. Devi", None, Some("91234567890123")),
        [(kamala.id, DuplicateReason::SameAbha)]
    );
}

// ---------------------------------------------------------------- notes being typed

#[test]
fn a_note_being_typed_is_kept_in_the_clinical_store_until_saved() {
    let f = fixture();
    let (doctor, nurse, patient) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let typed = json!({"chief_complaint": "Fever", "notes": "Suspected dengue; NS1 sent", "vitals": {"pulse_bpm": "96"}});
    {
        let mut p = f.open();
        p.keep_note_draft(doctor, patient, &typed).unwrap();
        // Each clinician's own.
        assert!(p.note_draft(nurse, patient).unwrap().is_none());
    }
    // Reopened (an app restart): still there.
    let mut p = f.open();
    let kept = p.note_draft(doctor, patient).unwrap().unwrap();
    assert_eq!(kept.data, typed);
    // Typed on: replaced, not added.
    let more = json!({"chief_complaint": "Fever", "notes": "Suspected dengue; NS1 sent. Platelets 1.2 lakh"});
    p.keep_note_draft(doctor, patient, &more).unwrap();
    assert_eq!(p.note_draft(doctor, patient).unwrap().unwrap().data, more);
    // Not a form, or too long: refused, the kept one untouched.
    assert!(p.keep_note_draft(doctor, patient, &json!("text")).is_err());
    let long = json!({"notes": "x".repeat(MAX_KEPT_NOTE_CHARS)});
    assert!(matches!(
        p.keep_note_draft(doctor, patient, &long),
        Err(PartitionError::InvalidValue { .. })
    ));
    assert_eq!(p.note_draft(doctor, patient).unwrap().unwrap().data, more);
    drop(p);
    // The clinic file alone holds none of it, and a session without the store keeps none.
    let bytes = std::fs::read(f.file()).unwrap();
    assert!(!bytes.windows(9).any(|w| w == b"Platelets"));
    let mut desk = f.open_without_clinical();
    assert!(matches!(
        desk.keep_note_draft(doctor, patient, &typed),
        Err(PartitionError::ClinicalLocked)
    ));
    assert!(matches!(
        desk.note_draft(doctor, patient),
        Err(PartitionError::ClinicalLocked)
    ));
    // Saved: forgotten.
    let mut p = f.open();
    p.drop_note_draft(doctor, patient).unwrap();
    assert!(p.note_draft(doctor, patient).unwrap().is_none());
}

// ---------------------------------------------------------------- forms being filled in

#[test]
fn a_form_being_filled_in_is_kept_per_member_until_saved_or_forgotten() {
    let f = fixture();
    let (desk, admin) = (Uuid::new_v4(), Uuid::new_v4());
    let bill_for = format!("invoice:{}", Uuid::new_v4());
    let typed = json!({"name": "Lakshmi Iyer", "dob": "62", "phone": "98450 11111"});
    {
        // A front desk session: no clinical store needed.
        let mut p = f.open_without_clinical();
        p.keep_form_draft(desk, "patient:new", &typed).unwrap();
        p.keep_form_draft(desk, &bill_for, &json!({"lines": [{"price": "500"}]}))
            .unwrap();
        assert!(
            p.form_draft(admin, "patient:new").unwrap().is_none(),
            "each member's own"
        );
    }
    // Reopened (a restart, a sign-out and back): still there, replaced as typing goes on.
    let mut p = f.open_without_clinical();
    assert_eq!(
        p.form_draft(desk, "patient:new").unwrap().unwrap().data,
        typed
    );
    let more = json!({"name": "Lakshmi Iyer", "dob": "62", "phone": "98450 11111", "address": "Jayanagar"});
    p.keep_form_draft(desk, "patient:new", &more).unwrap();
    assert_eq!(
        p.form_draft(desk, "patient:new").unwrap().unwrap().data,
        more
    );
    // An unknown form, not an object, or too long: refused, the kept one untouched.
    for form in [
        "encounter:new",
        "patient:",
        "invoice:new",
        "patient:x'; DROP TABLE form_drafts; --",
    ] {
        assert!(
            matches!(
                p.keep_form_draft(desk, form, &typed),
                Err(PartitionError::InvalidValue { .. })
            ),
            "{form}"
        );
    }
    assert!(p
        .keep_form_draft(desk, "patient:new", &json!(["x"]))
        .is_err());
    let long = json!({"address": "x".repeat(MAX_KEPT_FORM_CHARS)});
    assert!(p.keep_form_draft(desk, "patient:new", &long).is_err());
    assert_eq!(
        p.form_draft(desk, "patient:new").unwrap().unwrap().data,
        more
    );
    // Saved: forgotten; the bill stays until the desk is forgotten on this PC.
    p.drop_form_draft(desk, "patient:new").unwrap();
    assert!(p.form_draft(desk, "patient:new").unwrap().is_none());
    assert!(p.form_draft(desk, &bill_for).unwrap().is_some());
    p.note_member(admin, Some(vaidya_shared::api::Role::Admin))
        .unwrap();
    p.forget_member(desk).unwrap();
    assert!(p.form_draft(desk, &bill_for).unwrap().is_none());
}

/// The device is signed into each change with its author, kept in the outbox with it, and
/// still checks after a reopen: what lets the clinic hub relay a change for its device.
#[test]
fn a_change_carries_its_device_signed() {
    let f = fixture();
    let mut p = f.open_without_clinical();
    let signer = vaidya_shared::authorship::DeviceSigner::from_secret(
        Uuid::new_v4(),
        Uuid::new_v4(),
        [5; 32],
    );
    p.set_author(Some(signer.clone()));
    p.set_device(Some("vaidya-pc-a".to_owned()));
    let new = NewPatient {
        id: None,
        name: "Kavya Menon".to_owned(),
        sex: Sex::Female,
        date_of_birth: None,
        phone: None,
        address: None,
        abha_number: None,
    };
    let new = vaidya_shared::rules::Validate::validate(new, chrono::Utc::now().date_naive());
    p.create_patient(new.unwrap()).unwrap();
    drop(p);
    let p = f.open_without_clinical();
    let entry = p.outbox().unwrap().pop().unwrap();
    assert_eq!(entry.mutation.device.as_deref(), Some("vaidya-pc-a"));
    vaidya_shared::authorship::verify(f.clinic, &entry.mutation, &signer.public_key())
        .expect("the signature covers the device");
    let mut moved = entry.mutation.clone();
    moved.device = Some("vaidya-pc-b".to_owned());
    assert!(
        vaidya_shared::authorship::verify(f.clinic, &moved, &signer.public_key()).is_err(),
        "another device claimed after signing"
    );
}

/// A walk-in registered with a name only, as the desk does in a rush.
fn walk_in(name: &str) -> vaidya_shared::rules::Valid<NewPatient> {
    let new = NewPatient {
        id: None,
        name: name.to_owned(),
        sex: Sex::Female,
        date_of_birth: None,
        phone: None,
        address: None,
        abha_number: None,
    };
    vaidya_shared::rules::Validate::validate(new, chrono::Utc::now().date_naive()).unwrap()
}

/// The clinic hub takes signed changes only; they are chosen before the batch limit, so
/// unsigned changes ahead of them (kept for the group server) never leave a batch for the
/// hub empty while signed work waits behind them.
#[test]
fn the_hub_gets_the_signed_changes_behind_unsigned_ones() {
    let f = fixture();
    let mut p = f.open_without_clinical();
    for name in ["Asha Rao", "Bina Das", "Charu Pal"] {
        p.create_patient(walk_in(name)).unwrap();
    }
    p.set_author(Some(vaidya_shared::authorship::DeviceSigner::from_secret(
        Uuid::new_v4(),
        Uuid::new_v4(),
        [7; 32],
    )));
    let signed = p.create_patient(walk_in("Devi Nair")).unwrap();
    let to_hub = p.hub_pushable_outbox(2).unwrap();
    assert_eq!(to_hub.len(), 1);
    assert_eq!(to_hub[0].mutation.entity_id, signed.id);
    assert!(to_hub[0].mutation.author.is_some());
    let to_group = p.pushable_outbox(2).unwrap();
    assert!(to_group.iter().all(|e| e.mutation.author.is_none()));
}

/// A change the clinic hub took in stays in the outbox, sent again to no one, until the
/// group server's answer comes back through the hub: applied, it goes; refused, it waits
/// for a person like any refusal, and a correction of it is sent again. A change the hub
/// says it does not hold is this PC's to send again.
#[test]
fn a_change_the_hub_took_in_waits_for_the_group_servers_answer() {
    use vaidya_shared::sync::MutationResult;
    use vaidya_shared::ErrorCode;

    let f = fixture();
    let mut p = f.open_without_clinical();
    p.set_author(Some(vaidya_shared::authorship::DeviceSigner::from_secret(
        Uuid::new_v4(),
        Uuid::new_v4(),
        [7; 32],
    )));
    for name in ["Asha Rao", "Bina Das", "Charu Pal"] {
        p.create_patient(walk_in(name)).unwrap();
    }
    let applied = |entries: &[OutboxEntry]| -> Vec<MutationResult> {
        entries
            .iter()
            .map(|e| MutationResult::Applied {
                mutation_id: e.mutation.mutation_id,
                version: 1,
                conflicts: Vec::new(),
                addendum_id: None,
            })
            .collect()
    };
    let sent = p.hub_pushable_outbox(10).unwrap();
    assert_eq!(sent.len(), 3);
    p.apply_hub_push_results(&sent, &applied(&sent), None, "hub-a-pin")
        .unwrap();

    // Taken in: kept, but neither server gets it again, and it is nobody's waiting work.
    assert_eq!(p.outbox_len().unwrap(), 3);
    assert!(p.hub_pushable_outbox(10).unwrap().is_empty());
    assert!(p.pushable_outbox(10).unwrap().is_empty());
    assert_eq!(p.outbox_counts().unwrap(), (0, 0, 0));
    assert_eq!(p.relayed_count().unwrap(), 3);
    assert!(p.waiting_work().unwrap().is_empty());
    let relayed = p.relayed_outbox("hub-a-pin", 10).unwrap();
    assert_eq!(relayed.len(), 3);
    assert!(
        p.relayed_outbox("hub-b-pin", 10).unwrap().is_empty(),
        "another hub is not asked about them"
    );

    // The group server's answers, as the hub passes them on: the first refused, the second
    // applied; the third not answered yet, and then unknown to the hub.
    let refused = MutationResult::Rejected {
        mutation_id: relayed[0].mutation.mutation_id,
        code: ErrorCode::AlreadyExists,
        message: "A patient with this ABHA number exists.".to_owned(),
        field: Some("abha_number".to_owned()),
    };
    p.apply_push_results(
        &relayed,
        &[refused, applied(&relayed[1..2])[0].clone()],
        None,
    )
    .unwrap();
    assert_eq!(p.outbox_len().unwrap(), 2);
    assert_eq!(p.relayed_count().unwrap(), 1);
    assert_eq!(p.outbox_counts().unwrap(), (0, 1, 0));
    let unsent = p.rejected_changes().unwrap();
    assert_eq!(unsent.len(), 1);
    assert_eq!(unsent[0].mutation_id, relayed[0].mutation.mutation_id);
    assert_eq!(unsent[0].field.as_deref(), Some("abha_number"));

    p.send_again_unrelayed(&[relayed[2].mutation.mutation_id])
        .unwrap();
    assert_eq!(p.relayed_count().unwrap(), 0);
    let again = p.pushable_outbox(10).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(
        again[0].mutation.mutation_id,
        relayed[2].mutation.mutation_id
    );
}
