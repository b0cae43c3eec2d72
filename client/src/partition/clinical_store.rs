//! The clinical store: a clinic file's clinical notes, addenda and prescriptions, kept in a
//! second SQLCipher file under a key that only clinicians' sessions hold.
//!
//! A clinic PC is shared: the front desk, nurses and doctors sign in to one OS account, so
//! whatever the OS keyring holds for one of them it holds for all. The clinic file's own key
//! is in the keyring; the clinical store's key is not. The server gives it out
//! (`POST /v1/clinics/{id}/clinical-store-key`) only to roles that read clinical records
//! (`rules::permissions::opens_clinical_store`), and the device keeps it only *wrapped*
//! under a key derived from each clinician's own password ([`PasswordKey`]), one wrap per
//! clinician in the clinic file. An unwrapped copy lives in the keyring only while that
//! clinician's session is the active one, like their refresh token.
//!
//! The store is ATTACHed to the clinic file's connection as schema `clinical`; SQL names
//! its tables unqualified, and SQLite finds them there. A session without the key (the
//! front desk, an admin, a clinician whose key has not arrived yet) gets empty scratch
//! tables of the same shape in `temp` (kept in memory): a colleague's clinical change it
//! pushes, and the server's answer to it, pass through without touching the disk.
//!
//! Crash safety across the two files: in WAL mode a transaction over both commits in each
//! file on its own, so a crash (or a power cut during a bulk load, which runs with
//! `synchronous = NORMAL`) may keep a pull page in one file and lose it in the other. Each
//! file therefore keeps the cursor of the pages it committed, numbered, and the pull goes on
//! from the file that is behind (`ClinicPartition::cursor_tables`); applying a page twice is
//! harmless. A local edit's outbox entry (in `main`) commits before its cached row (in the
//! store), so work is never lost, only re-fetched.

use std::fs;

use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::hkdf::{Salt, HKDF_SHA256};
use rusqlite::{params, ErrorCode, OptionalExtension};
use uuid::Uuid;

use super::{ClinicPartition, DataDir, PartitionError};

/// The schema name the store is attached under.
pub(crate) const SCHEMA: &str = "clinical";

/// The tables kept in the store (the device tables of `in_clinical_store` resources and
/// their children), children first.
pub(crate) const TABLES: [&str; 4] = [
    "encounter_addenda",
    "prescription_items",
    "encounters",
    "prescriptions",
];

/// The store's tables as of version 1, for schema `{s}`: the same shape they had in the
/// clinic file up to its schema 17. Kept to build an old store in the migration's tests.
#[cfg(test)]
const TABLES_SQL: &str = r#"
CREATE TABLE {s}.encounters (
    id              TEXT PRIMARY KEY NOT NULL,
    clinic_id       TEXT NOT NULL,
    patient_id      TEXT NOT NULL,
    doctor_id       TEXT NOT NULL,
    appointment_id  TEXT,
    chief_complaint TEXT NOT NULL,
    notes           TEXT NOT NULL,
    diagnosis       TEXT NOT NULL,
    vitals          TEXT NOT NULL,
    signed_at       TEXT,
    signed_by       TEXT,
    version         INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX {s}.encounters_patient ON encounters (patient_id, created_at);

CREATE TABLE {s}.encounter_addenda (
    id           TEXT PRIMARY KEY NOT NULL,
    encounter_id TEXT NOT NULL REFERENCES encounters (id) ON DELETE CASCADE,
    author_id    TEXT NOT NULL,
    text         TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX {s}.encounter_addenda_encounter ON encounter_addenda (encounter_id, created_at);

CREATE TABLE {s}.prescriptions (
    id           TEXT PRIMARY KEY NOT NULL,
    clinic_id    TEXT NOT NULL,
    patient_id   TEXT NOT NULL,
    doctor_id    TEXT NOT NULL,
    encounter_id TEXT,
    notes        TEXT NOT NULL,
    issued_at    TEXT NOT NULL,
    version      INTEGER NOT NULL,
    acknowledged_allergies TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(acknowledged_allergies))
);
CREATE INDEX {s}.prescriptions_patient ON prescriptions (patient_id, issued_at);

CREATE TABLE {s}.prescription_items (
    id              TEXT PRIMARY KEY NOT NULL,
    prescription_id TEXT NOT NULL REFERENCES prescriptions (id) ON DELETE CASCADE,
    position        INTEGER NOT NULL,
    drug            TEXT NOT NULL,
    strength        TEXT NOT NULL,
    dose            TEXT NOT NULL,
    frequency       TEXT NOT NULL,
    duration        TEXT NOT NULL,
    instructions    TEXT NOT NULL
);
CREATE INDEX {s}.prescription_items_prescription ON prescription_items (prescription_id, position);
"#;

/// The store's tables as of version 4, for schema `{s}`: the compact entity tables of the
/// clinic file's schema 23 (`sql`), ids as 16 bytes and instants as integer microseconds.
const COMPACT_TABLES_SQL: &str = r#"
CREATE TABLE {s}.encounters (
    id              BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    clinic_id       BLOB NOT NULL CHECK (length(clinic_id) = 16),
    patient_id      BLOB NOT NULL CHECK (length(patient_id) = 16),
    doctor_id       BLOB NOT NULL CHECK (length(doctor_id) = 16),
    appointment_id  BLOB CHECK (appointment_id IS NULL OR length(appointment_id) = 16),
    chief_complaint TEXT NOT NULL,
    notes           TEXT NOT NULL,
    diagnosis       TEXT NOT NULL,
    vitals          TEXT NOT NULL,
    signed_at       INTEGER CHECK (signed_at IS NULL OR typeof(signed_at) = 'integer'),
    signed_by       BLOB CHECK (signed_by IS NULL OR length(signed_by) = 16),
    version         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL CHECK (typeof(created_at) = 'integer'),
    updated_at      INTEGER NOT NULL CHECK (typeof(updated_at) = 'integer')
);
CREATE INDEX {s}.encounters_patient ON encounters (patient_id, created_at);

CREATE TABLE {s}.encounter_addenda (
    id           BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    encounter_id BLOB NOT NULL REFERENCES encounters (id) ON DELETE CASCADE,
    author_id    BLOB NOT NULL CHECK (length(author_id) = 16),
    text         TEXT NOT NULL,
    created_at   INTEGER NOT NULL CHECK (typeof(created_at) = 'integer')
);
CREATE INDEX {s}.encounter_addenda_encounter ON encounter_addenda (encounter_id, created_at);

CREATE TABLE {s}.prescriptions (
    id           BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    clinic_id    BLOB NOT NULL CHECK (length(clinic_id) = 16),
    patient_id   BLOB NOT NULL CHECK (length(patient_id) = 16),
    doctor_id    BLOB NOT NULL CHECK (length(doctor_id) = 16),
    encounter_id BLOB CHECK (encounter_id IS NULL OR length(encounter_id) = 16),
    notes        TEXT NOT NULL,
    issued_at    INTEGER NOT NULL CHECK (typeof(issued_at) = 'integer'),
    version      INTEGER NOT NULL,
    acknowledged_allergies TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(acknowledged_allergies))
);
CREATE INDEX {s}.prescriptions_patient ON prescriptions (patient_id, issued_at);

CREATE TABLE {s}.prescription_items (
    id              BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    prescription_id BLOB NOT NULL REFERENCES prescriptions (id) ON DELETE CASCADE,
    position        INTEGER NOT NULL,
    drug            TEXT NOT NULL,
    strength        TEXT NOT NULL,
    dose            TEXT NOT NULL,
    frequency       TEXT NOT NULL,
    duration        TEXT NOT NULL,
    instructions    TEXT NOT NULL
);
CREATE INDEX {s}.prescription_items_prescription ON prescription_items (prescription_id, position);
"#;

/// Version 3 → 4: the store's tables in the compact form, their rows converted (as the
/// clinic file's migration 22 → 23 does, children dropped before their parents).
const TO_COMPACT_SQL: &str = r#"
DROP INDEX clinical.encounters_patient;
DROP INDEX clinical.encounter_addenda_encounter;
DROP INDEX clinical.prescriptions_patient;
DROP INDEX clinical.prescription_items_prescription;
ALTER TABLE clinical.encounters RENAME TO encounters_v3;
ALTER TABLE clinical.encounter_addenda RENAME TO encounter_addenda_v3;
ALTER TABLE clinical.prescriptions RENAME TO prescriptions_v3;
ALTER TABLE clinical.prescription_items RENAME TO prescription_items_v3;
{compact}
INSERT INTO clinical.encounters
SELECT unhex(replace(id, '-', '')), unhex(replace(clinic_id, '-', '')),
       unhex(replace(patient_id, '-', '')), unhex(replace(doctor_id, '-', '')),
       unhex(replace(appointment_id, '-', '')), chief_complaint, notes, diagnosis, vitals,
       unixepoch(substr(signed_at, 1, 19)) * 1000000 + CAST(substr(signed_at, 21, 6) AS INTEGER),
       unhex(replace(signed_by, '-', '')), version,
       unixepoch(substr(created_at, 1, 19)) * 1000000 + CAST(substr(created_at, 21, 6) AS INTEGER),
       unixepoch(substr(updated_at, 1, 19)) * 1000000 + CAST(substr(updated_at, 21, 6) AS INTEGER)
FROM clinical.encounters_v3;
INSERT INTO clinical.encounter_addenda
SELECT unhex(replace(id, '-', '')), unhex(replace(encounter_id, '-', '')),
       unhex(replace(author_id, '-', '')), text,
       unixepoch(substr(created_at, 1, 19)) * 1000000 + CAST(substr(created_at, 21, 6) AS INTEGER)
FROM clinical.encounter_addenda_v3;
INSERT INTO clinical.prescriptions
SELECT unhex(replace(id, '-', '')), unhex(replace(clinic_id, '-', '')),
       unhex(replace(patient_id, '-', '')), unhex(replace(doctor_id, '-', '')),
       unhex(replace(encounter_id, '-', '')), notes,
       unixepoch(substr(issued_at, 1, 19)) * 1000000 + CAST(substr(issued_at, 21, 6) AS INTEGER),
       version, acknowledged_allergies
FROM clinical.prescriptions_v3;
INSERT INTO clinical.prescription_items
SELECT unhex(replace(id, '-', '')), unhex(replace(prescription_id, '-', '')), position, drug,
       strength, dose, frequency, duration, instructions
FROM clinical.prescription_items_v3;
DROP TABLE clinical.encounter_addenda_v3;
DROP TABLE clinical.prescription_items_v3;
DROP TABLE clinical.encounters_v3;
DROP TABLE clinical.prescriptions_v3;
"#;

/// Version 4 → 5, for schema `{s}`: no row keeps the clinic's id, as in the clinic file
/// (its schema 26): a store is one clinic's. Also what makes a new store's (and the scratch
/// tables') version-4 tables the current ones.
const NO_CLINIC_ID_SQL: &str = r#"
ALTER TABLE {s}.encounters DROP COLUMN clinic_id;
ALTER TABLE {s}.prescriptions DROP COLUMN clinic_id;
"#;

/// The store's clinical tables as they are now, for schema `{s}`.
fn current_tables_sql(schema: &str) -> String {
    format!(
        "{}{}",
        COMPACT_TABLES_SQL.replace("{s}", schema),
        NO_CLINIC_ID_SQL.replace("{s}", schema)
    )
}

/// The values of conflicts about the store's records (version 2): the conflict inbox row
/// stays in the clinic file (every member sees that a conflict exists and its state), its
/// two values only here.
const CONFLICT_VALUES_SQL: &str = r#"
CREATE TABLE {s}.conflict_values (
    id           TEXT PRIMARY KEY NOT NULL,
    local_value  TEXT CHECK (local_value IS NULL OR json_valid(local_value)),
    server_value TEXT CHECK (server_value IS NULL OR json_valid(server_value))
);
"#;

/// The store's own small key/value state: the pull cursor of the sessions that open it.
const SYNC_STATE_SQL: &str = r#"
CREATE TABLE clinical.sync_state (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
"#;

/// The store's schema versions (`PRAGMA clinical.user_version`), like the clinic file's.
const STORE_VERSION: i64 = 5;

/// The 32-byte raw SQLCipher key of a clinical store. Its `Debug` never shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct ClinicalKey([u8; 32]);

impl ClinicalKey {
    /// A fresh key (tests and tools; the desktop gets its keys from the server).
    pub fn generate() -> ClinicalKey {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        ClinicalKey(bytes)
    }

    /// Parses 64 hex digits (the server's answer); anything else is `None`.
    pub fn from_hex(text: &str) -> Option<ClinicalKey> {
        let bytes: [u8; 32] = hex::decode(text.trim()).ok()?.try_into().ok()?;
        Some(ClinicalKey(bytes))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The AEAD key that seals pending clinical changes in the outbox: derived from the
    /// store key (HKDF-SHA256), never the SQLCipher key itself.
    fn outbox_key(&self) -> LessSafeKey {
        let prk = Salt::new(HKDF_SHA256, b"vaidya clinical store v1").extract(&self.0);
        let okm = prk
            .expand(&[b"outbox seal"], &CHACHA20_POLY1305)
            .expect("HKDF yields a key of the AEAD's length");
        LessSafeKey::new(UnboundKey::from(okm))
    }

    /// `plain` sealed with ChaCha20-Poly1305, bound to `context` (a mutation id).
    pub(crate) fn seal(&self, plain: &[u8], context: &[u8]) -> Vec<u8> {
        seal_with(&self.outbox_key(), plain, context)
    }

    /// What [`seal`](Self::seal) sealed under this key and `context`, else `None`.
    pub(crate) fn open(&self, sealed: &[u8], context: &[u8]) -> Option<Vec<u8>> {
        open_with(&self.outbox_key(), sealed, context)
    }
}

/// `plain` sealed under `key` with a fresh random nonce (kept in front), bound to `context`.
fn seal_with(key: &LessSafeKey, plain: &[u8], context: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let mut data = plain.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(context),
        &mut data,
    )
    .expect("sealing cannot fail");
    [nonce.as_slice(), &data].concat()
}

/// What [`seal_with`] sealed under `key` and `context`; `None` when it does not open
/// (another key or context, or altered).
fn open_with(key: &LessSafeKey, sealed: &[u8], context: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < NONCE_LEN {
        return None;
    }
    let (nonce, data) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut data = data.to_vec();
    let plain = key
        .open_in_place(nonce, Aad::from(context), &mut data)
        .ok()?;
    Some(plain.to_vec())
}

impl std::fmt::Debug for ClinicalKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClinicalKey(<redacted>)")
    }
}

/// A key derived from one user's password (Argon2id, salted with their user id), which
/// wraps the clinical store keys of the clinic files they use on this PC. Only someone who
/// knows the password can derive it; the device never stores it except as the active
/// session's copy in the keyring (deleted at sign-out).
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordKey([u8; 32]);

impl PasswordKey {
    /// Argon2id at the same cost as the password verifier (19 MiB, 2 passes): tens of
    /// milliseconds, run once per sign-in, off the async workers.
    pub fn derive(password: &str, user_id: Uuid) -> PasswordKey {
        let params = Params::new(19_456, 2, 1, Some(32)).expect("valid argon2 parameters");
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut salt = b"vaidya clinical store wrap v1:".to_vec();
        salt.extend_from_slice(user_id.as_bytes());
        let mut out = [0u8; 32];
        argon
            .hash_password_into(password.as_bytes(), &salt, &mut out)
            .expect("a 32-byte output and a long salt are valid");
        PasswordKey(out)
    }

    pub fn from_hex(text: &str) -> Option<PasswordKey> {
        let bytes: [u8; 32] = hex::decode(text.trim()).ok()?.try_into().ok()?;
        Some(PasswordKey(bytes))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    fn aead(&self) -> LessSafeKey {
        LessSafeKey::new(
            UnboundKey::new(&CHACHA20_POLY1305, &self.0).expect("a 32-byte ChaCha20 key"),
        )
    }

    /// `key` sealed with ChaCha20-Poly1305, bound to the clinic file it opens.
    pub fn wrap(&self, key: &ClinicalKey, clinic_id: Uuid) -> Vec<u8> {
        seal_with(&self.aead(), &key.0, clinic_id.as_bytes())
    }

    /// The key in `wrapped`, or `None` when this password key did not wrap it (another
    /// password, since changed) or it was altered.
    pub fn unwrap(&self, wrapped: &[u8], clinic_id: Uuid) -> Option<ClinicalKey> {
        let plain = open_with(&self.aead(), wrapped, clinic_id.as_bytes())?;
        let bytes: [u8; 32] = plain.try_into().ok()?;
        Some(ClinicalKey(bytes))
    }
}

impl std::fmt::Debug for PasswordKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordKey(<redacted>)")
    }
}

impl DataDir {
    /// `<data_dir>/partitions/<clinic_uuid>.clinical.sqlite`
    pub fn clinical_store_file(&self, clinic_id: Uuid) -> std::path::PathBuf {
        self.partitions_dir()
            .join(format!("{clinic_id}.clinical.sqlite"))
    }

    /// The store file with its `-wal` and `-shm`.
    pub(crate) fn clinical_store_files(&self, clinic_id: Uuid) -> [std::path::PathBuf; 3] {
        let file = self.clinical_store_file(clinic_id);
        let name = file.file_name().expect("a file name").to_string_lossy();
        [
            file.with_file_name(format!("{name}-wal")),
            file.with_file_name(format!("{name}-shm")),
            file,
        ]
    }
}

/// The store's clinical tables as `CREATE` statements for schema `schema` (tools and
/// benchmarks that build a replica of a partition's schema by hand).
pub fn clinical_tables_sql(schema: &str) -> String {
    current_tables_sql(schema)
}

/// Empty scratch tables of the store's shape in `temp` (in memory), for a connection
/// without the store: see the module notes.
pub(crate) fn create_scratch_tables(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    conn.execute_batch(&current_tables_sql("temp"))?;
    conn.execute_batch(&CONFLICT_VALUES_SQL.replace("{s}", "temp"))
}

fn drop_scratch_tables(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    // Children first: they reference their parents.
    for table in TABLES.iter().chain(&["conflict_values"]) {
        conn.execute_batch(&format!("DROP TABLE IF EXISTS temp.{table}"))?;
    }
    Ok(())
}

impl ClinicPartition {
    /// Opens (creating on first use) the clinic file's clinical store with `key` and keeps
    /// its rows there from now on. A wrong key fails with `partition_wrong_key` and leaves
    /// the connection as it was (without the store).
    pub fn open_clinical_store(&mut self, key: &ClinicalKey) -> Result<(), PartitionError> {
        if self.clinical.is_some() {
            return Ok(());
        }
        let path = self.data_dir.clinical_store_file(self.clinic_id);
        let existed = fs::metadata(&path).map(|m| m.len() > 0).unwrap_or(false);
        if existed && super::starts_with_plaintext_magic(&path)? {
            return Err(PartitionError::Unencrypted);
        }
        let path_text = path
            .to_str()
            .ok_or_else(|| std::io::Error::other("the data directory's path is not UTF-8"))?;
        let unreadable = |err: rusqlite::Error| match err.sqlite_error_code() {
            Some(ErrorCode::NotADatabase) if existed => PartitionError::WrongKey,
            Some(ErrorCode::NotADatabase) => PartitionError::NotADatabase,
            _ => err.into(),
        };
        // The hex comes from our own bytes; the path is a bound parameter. SQLCipher may
        // refuse a wrong key at the ATTACH itself or at the first read.
        self.conn
            .execute(
                "ATTACH DATABASE ?1 AS clinical KEY ?2",
                params![path_text, format!("x'{}'", key.to_hex())],
            )
            .map_err(unreadable)?;
        let opened = self
            .conn
            .query_row("SELECT count(*) FROM clinical.sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            });
        if let Err(err) = opened {
            self.conn.execute_batch("DETACH DATABASE clinical")?;
            return Err(unreadable(err));
        }
        let journal: String =
            self.conn
                .query_row("PRAGMA clinical.journal_mode = WAL", [], |r| r.get(0))?;
        if !journal.eq_ignore_ascii_case("wal") {
            self.conn.execute_batch("DETACH DATABASE clinical")?;
            return Err(PartitionError::Io(std::io::Error::other(format!(
                "the clinical store's file system does not support WAL (journal mode {journal})"
            ))));
        }
        self.conn.execute_batch(&format!(
            "PRAGMA clinical.synchronous = FULL; PRAGMA clinical.cache_size = -16384;
             PRAGMA clinical.journal_size_limit = {};",
            super::WAL_SIZE_LIMIT
        ))?;
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA clinical.user_version", [], |r| r.get(0))?;
        if version > STORE_VERSION {
            drop(tx);
            self.conn.execute_batch("DETACH DATABASE clinical")?;
            return Err(PartitionError::NewerSchema {
                found: version,
                supported: STORE_VERSION,
            });
        }
        if version < 1 {
            // A new store starts with the current tables.
            tx.execute_batch(&current_tables_sql(SCHEMA))?;
            tx.execute_batch(SYNC_STATE_SQL)?;
        }
        if version < 2 {
            tx.execute_batch(&CONFLICT_VALUES_SQL.replace("{s}", SCHEMA))?;
        }
        if version < 3 {
            tx.execute_batch(super::drafts::NOTE_DRAFTS_SQL)?;
        }
        if (1..4).contains(&version) {
            let _upgrade = super::schema::Upgrade::start();
            let compact = COMPACT_TABLES_SQL.replace("{s}", SCHEMA);
            tx.execute_batch(&TO_COMPACT_SQL.replace("{compact}", &compact))?;
        }
        if (1..5).contains(&version) {
            let _upgrade = super::schema::Upgrade::start();
            tx.execute_batch(&NO_CLINIC_ID_SQL.replace("{s}", SCHEMA))?;
        }
        if version < STORE_VERSION {
            tx.pragma_update(Some(SCHEMA), "user_version", STORE_VERSION)?;
        }
        tx.commit()?;
        drop_scratch_tables(&self.conn)?;
        self.clinical = Some(key.clone());
        self.seal_plain_clinical_entries()?;
        self.move_clinical_conflict_values()?;
        Ok(())
    }

    /// Whether this connection has the clinical store (its clinical rows are on disk).
    pub fn clinical_store_open(&self) -> bool {
        self.clinical.is_some()
    }

    /// The key this connection opened the store with, for a second connection (the sync
    /// task's) to the same file.
    pub fn clinical_key(&self) -> Option<ClinicalKey> {
        self.clinical.clone()
    }

    /// The sync-state tables that hold this connection's pull cursor: the clinic file's,
    /// and the store's too when it is open. Each keeps the cursor of the last page *it*
    /// committed, numbered (`pull_page`): a page commits in the two files one after the
    /// other, and a crash, or a power cut while a bulk load runs with `synchronous =
    /// NORMAL`, may leave either file a page behind. The pull goes on from the file that is
    /// behind, and the page it pulls again is applied again, harmlessly.
    pub(crate) fn cursor_tables(&self) -> &'static [&'static str] {
        if self.clinical.is_some() {
            &["main.sync_state", "clinical.sync_state"]
        } else {
            &["main.sync_state"]
        }
    }

    /// `user`'s wrap of this file's clinical store key, if they have one here.
    pub fn clinical_key_wrap(&self, user: Uuid) -> Result<Option<Vec<u8>>, PartitionError> {
        Ok(self
            .conn
            .query_row(
                "SELECT wrapped FROM clinical_key_wraps WHERE user_id = ?1",
                [user.to_string()],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Keeps `user`'s wrap of the store key (replacing an older one, e.g. after they
    /// changed their password).
    pub fn save_clinical_key_wrap(&self, user: Uuid, wrapped: &[u8]) -> Result<(), PartitionError> {
        self.conn.execute(
            "INSERT INTO clinical_key_wraps (user_id, wrapped) VALUES (?1, ?2)
             ON CONFLICT (user_id) DO UPDATE SET wrapped = excluded.wrapped",
            params![user.to_string(), wrapped],
        )?;
        Ok(())
    }

    /// Removes `user`'s wrap. When nobody is left who can open the store, its file is
    /// deleted: only they could read it, and the server holds every synced record.
    /// Returns whether the store was deleted.
    pub(crate) fn forget_clinical_key_wrap(&mut self, user: Uuid) -> Result<bool, PartitionError> {
        self.conn.execute(
            "DELETE FROM clinical_key_wraps WHERE user_id = ?1",
            [user.to_string()],
        )?;
        // What they were typing goes with them (when this session has the store open; a
        // store nobody can open any more is deleted whole below).
        if self.clinical.is_some() {
            self.conn.execute(
                "DELETE FROM clinical.note_drafts WHERE user_id = ?1",
                [user.to_string()],
            )?;
        }
        let left: i64 =
            self.conn
                .query_row("SELECT count(*) FROM clinical_key_wraps", [], |r| r.get(0))?;
        if left > 0 {
            return Ok(false);
        }
        if self.clinical.take().is_some() {
            self.conn.execute_batch("DETACH DATABASE clinical")?;
            create_scratch_tables(&self.conn)?;
        }
        for path in self.data_dir.clinical_store_files(self.clinic_id) {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => return Err(err.into()),
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_holds_the_tables_of_the_resources_only_clinicians_read() {
        use vaidya_shared::rules::permissions::{in_clinical_store, Resource};
        use vaidya_shared::sync::EntityKind;
        for kind in EntityKind::ALL {
            let Some(table) = kind.spec().device_table else {
                continue;
            };
            assert_eq!(
                TABLES.contains(&table),
                in_clinical_store(Resource::from(kind)),
                "{table}"
            );
        }
    }

    /// A store of version 3 holds its rows as text; opening it converts them in place to
    /// the compact tables without a clinic id, and notes, addenda, prescriptions and items read back whole.
    #[test]
    fn a_version_3_store_is_converted_when_it_opens() {
        use super::super::{DataDir, PartitionKey};

        let dir = tempfile::tempdir().unwrap();
        let data_dir = DataDir::new(dir.path().join("vaidya"));
        let clinic = Uuid::new_v4();
        let (patient, doctor, encounter, addendum, prescription, item) = (
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
        );
        let key = ClinicalKey::generate();
        let mut partition =
            ClinicPartition::open(&data_dir, clinic, &PartitionKey::generate()).unwrap();
        // The store as a build of store version 3 left it.
        let path = data_dir.clinical_store_file(clinic);
        partition
            .conn
            .execute(
                "ATTACH DATABASE ?1 AS clinical KEY ?2",
                params![path.to_str().unwrap(), format!("x'{}'", key.to_hex())],
            )
            .unwrap();
        partition
            .conn
            .execute_batch(&format!(
                "{}{}{}{}
                 PRAGMA clinical.user_version = 3;
                 INSERT INTO clinical.encounters VALUES ('{encounter}', '{clinic}', '{patient}',
                     '{doctor}', NULL, 'Fever', 'Three days', 'Viral fever', '{{}}',
                     '2026-12-01T10:30:00.250000Z', '{doctor}', 2,
                     '2026-12-01T10:00:00.000000Z', '2026-12-01T10:30:00.250000Z');
                 INSERT INTO clinical.encounter_addenda VALUES ('{addendum}', '{encounter}',
                     '{doctor}', 'Fever settled', '2026-12-02T09:00:00.000007Z');
                 INSERT INTO clinical.prescriptions VALUES ('{prescription}', '{clinic}',
                     '{patient}', '{doctor}', '{encounter}', '', '2026-12-01T10:31:00.000000Z',
                     1, '[]');
                 INSERT INTO clinical.prescription_items VALUES ('{item}', '{prescription}', 0,
                     'Paracetamol', '500 mg', '1 tablet', 'TDS', '3 days', 'after food');",
                TABLES_SQL.replace("{s}", SCHEMA),
                SYNC_STATE_SQL,
                CONFLICT_VALUES_SQL.replace("{s}", SCHEMA),
                super::super::drafts::NOTE_DRAFTS_SQL,
            ))
            .unwrap();
        partition
            .conn
            .execute_batch("DETACH DATABASE clinical")
            .unwrap();

        partition.open_clinical_store(&key).unwrap();
        let version: i64 = partition
            .conn
            .query_row("PRAGMA clinical.user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, STORE_VERSION);
        // No row keeps the clinic's id (version 5); a record reads back as this clinic's.
        let kept: i64 = partition
            .conn
            .query_row(
                "SELECT count(*) FROM pragma_table_info('encounters', 'clinical')
                 WHERE name = 'clinic_id'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(kept, 0);
        let note = partition.get_encounter(encounter).unwrap().unwrap();
        assert_eq!(note.clinic_id, clinic);
        assert_eq!(
            (
                note.patient_id,
                note.signed_by,
                note.version,
                note.diagnosis.as_str()
            ),
            (patient, Some(doctor), 2, "Viral fever")
        );
        let at = |text: &str| text.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
        assert_eq!(note.signed_at, Some(at("2026-12-01T10:30:00.25Z")));
        assert_eq!(note.addenda.len(), 1);
        assert_eq!(
            (note.addenda[0].id, note.addenda[0].created_at),
            (addendum, at("2026-12-02T09:00:00.000007Z"))
        );
        let rx = partition.get_prescription(prescription).unwrap().unwrap();
        assert_eq!(rx.encounter_id, Some(encounter));
        assert_eq!(rx.items.len(), 1);
        assert_eq!(
            (rx.items[0].id, rx.items[0].drug.as_str()),
            (item, "Paracetamol")
        );
        let orphans: i64 = partition
            .conn
            .query_row(
                "SELECT count(*) FROM pragma_foreign_key_check('prescription_items', 'clinical')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(orphans, 0);
    }

    #[test]
    fn only_the_same_password_and_clinic_unwrap_a_key() {
        let user = Uuid::new_v4();
        let clinic = Uuid::new_v4();
        let key = ClinicalKey::generate();
        let pk = PasswordKey::derive("correct horse", user);
        let wrapped = pk.wrap(&key, clinic);
        assert_eq!(pk.unwrap(&wrapped, clinic), Some(key.clone()));
        assert_eq!(PasswordKey::derive("correct horse", user), pk);
        assert_eq!(
            PasswordKey::derive("wrong horse", user).unwrap(&wrapped, clinic),
            None
        );
        // The user id salts the derivation: a colleague with the same password derives
        // another key.
        assert_eq!(
            PasswordKey::derive("correct horse", Uuid::new_v4()).unwrap(&wrapped, clinic),
            None
        );
        assert_eq!(pk.unwrap(&wrapped, Uuid::new_v4()), None);
        let mut altered = wrapped.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert_eq!(pk.unwrap(&altered, clinic), None);
        assert_eq!(pk.unwrap(&wrapped[..4], clinic), None);
        assert!(!format!("{key:?}{pk:?}").contains(&key.to_hex()));
    }
}
