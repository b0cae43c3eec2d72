//! One encrypted SQLite file per clinic: where it lives, how it is keyed and verified,
//! its schema migrations, and how it is wiped.
//!
//! A partition is the client's whole view of one clinic (branch): the cached rows, the
//! outbox of local changes, offline reads waiting for the audit trail, the conflict inbox and
//! the sync cursor. The file is encrypted with SQLCipher; its 32-byte key lives in the OS
//! keyring (see [`crate::credentials`]), never on disk.
//!
//! Table code lives in one submodule per table; each adds its methods to [`ClinicPartition`].

mod allergies;
mod appointments;
mod bulk_load;
mod cache;
mod catalogue;
mod clinical_store;
mod conflicts;
mod drafts;
mod edits;
mod encounters;
mod functions;
mod invoices;
mod local_reads;
mod members;
mod outbox;
mod patients;
mod prescriptions;
mod pull;
mod schema;
mod sql;
mod sync_state;
mod unsent;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rand::RngCore;
use rusqlite::{Connection, ErrorCode, OptionalExtension};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub use cache::CachedRow;
pub use clinical_store::{clinical_tables_sql, ClinicalKey, PasswordKey};
pub use conflicts::{Conflict, ConflictKind, NewConflict};
pub use drafts::{KeptDraft, MAX_KEPT_FORM_CHARS, MAX_KEPT_NOTE_CHARS};
pub use functions::register_sql_functions;
pub use local_reads::{LocalRead, ReadAction};
pub use members::{Remaining, WaitingWork};
pub use outbox::{
    cache_target, check_mutation, new_mutation, EntityKind, Mutation, Operation, OutboxEntry,
    OutboxState,
};
pub use pull::{PageOutcome, PushOutcome};
pub use schema::{upgrading, SCHEMA_VERSION};
pub use sync_state::InitialFill;
pub use unsent::{
    apply_corrections, editable_fields, DiscardOutcome, EditableField, UnsentChange,
    VoidedInvoiceNumber,
};

/// The page cache of a partition connection, in MiB (SQLite's default is 2 MiB).
const DEFAULT_CACHE_MIB: u32 = 64;

/// What a WAL file is cut back to once checkpointed (`PRAGMA journal_size_limit`). SQLite
/// otherwise keeps a WAL file at the largest size it ever reached and reuses it, and a
/// fill's transactions (a 5,000-row page, the search index built at its end) grow it to
/// tens or hundreds of MB that would stay on the PC's disk for good.
pub(crate) const WAL_SIZE_LIMIT: i64 = 4 * 1024 * 1024;

/// How long a statement waits for another connection's lock before giving up with
/// [`PartitionError::Busy`]. The UI thread and the sync task may share a partition file.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Every plaintext SQLite file starts with these 16 bytes; an encrypted one never does.
const SQLITE_PLAINTEXT_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Errors of the local store. [`PartitionError::code`] is what the UI switches on.
#[derive(Debug, thiserror::Error)]
pub enum PartitionError {
    #[error("no per-user data directory is known on this system")]
    NoDataDir,
    #[error("this build's SQLite has no SQLCipher; refusing to store clinic data unencrypted")]
    CipherUnavailable,
    #[error("the partition key does not open this partition file")]
    WrongKey,
    #[error("the partition file is not a Vaidya partition (not an encrypted database)")]
    NotADatabase,
    #[error("the partition file is a plain, unencrypted SQLite database")]
    Unencrypted,
    #[error("the partition file is corrupted: {detail}")]
    Corrupted { detail: String },
    #[error(
        "the partition file has schema version {found}; this build supports up to {supported}"
    )]
    NewerSchema { found: i64, supported: i64 },
    #[error("the partition file is locked by another connection")]
    Busy,
    #[error("a row of clinic {row} cannot be stored in the partition of clinic {partition}")]
    WrongClinic { partition: Uuid, row: Uuid },
    #[error("mutation {0} is already in the outbox")]
    DuplicateMutation(Uuid),
    #[error("invalid mutation: {0}")]
    InvalidMutation(String),
    /// A value a person entered (e.g. correcting a rejected change) breaks a rule.
    #[error("{field}: {message}")]
    InvalidValue { field: String, message: String },
    #[error("the server sent data this client cannot store: {0}")]
    InvalidPulled(String),
    /// A clinical record was to be written or read without the clinical store's key
    /// (`clinical_store`): this session's member has not given their password here since
    /// they last signed out, or their role does not read clinical records.
    #[error("clinical records on this PC are locked for this session")]
    ClinicalLocked,
    #[error("no {entity} {id} in this partition")]
    NotFound { entity: &'static str, id: Uuid },
    #[error("a stored row could not be read: {0}")]
    InvalidRow(String),
    #[error("file system error on the partition: {0}")]
    Io(#[from] std::io::Error),
    #[error("SQLite error: {0}")]
    Sqlite(#[source] rusqlite::Error),
}

impl PartitionError {
    /// Stable machine-readable code; never renamed once shipped.
    pub fn code(&self) -> &'static str {
        match self {
            PartitionError::NoDataDir => "partition_no_data_dir",
            PartitionError::CipherUnavailable => "partition_cipher_unavailable",
            PartitionError::WrongKey => "partition_wrong_key",
            PartitionError::NotADatabase => "partition_not_a_database",
            PartitionError::Unencrypted => "partition_unencrypted",
            PartitionError::Corrupted { .. } => "partition_corrupted",
            PartitionError::NewerSchema { .. } => "partition_newer_schema",
            PartitionError::Busy => "partition_busy",
            PartitionError::WrongClinic { .. } => "partition_wrong_clinic",
            PartitionError::DuplicateMutation(_) => "partition_duplicate_mutation",
            PartitionError::InvalidMutation(_) => "partition_invalid_mutation",
            // The UI's code for a field to fix (as the server's `invalid_field`).
            PartitionError::InvalidValue { .. } => "invalid_field",
            PartitionError::InvalidRow(_) => "partition_invalid_row",
            PartitionError::InvalidPulled(_) => "partition_invalid_pulled",
            PartitionError::NotFound { .. } => "partition_not_found",
            PartitionError::ClinicalLocked => "clinical_locked",
            PartitionError::Io(_) => "partition_io",
            PartitionError::Sqlite(_) => "partition_sqlite",
        }
    }
}

impl From<rusqlite::Error> for PartitionError {
    fn from(err: rusqlite::Error) -> Self {
        match err.sqlite_error_code() {
            Some(ErrorCode::DatabaseCorrupt) => PartitionError::Corrupted {
                detail: err.to_string(),
            },
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => PartitionError::Busy,
            _ => match err {
                rusqlite::Error::FromSqlConversionFailure(..)
                | rusqlite::Error::InvalidColumnType(..)
                | rusqlite::Error::IntegralValueOutOfRange(..) => {
                    PartitionError::InvalidRow(err.to_string())
                }
                other => PartitionError::Sqlite(other),
            },
        }
    }
}

/// The directory under which Vaidya keeps its per-user files. Given by the caller so that
/// tests (and portable installs) choose their own; [`DataDir::platform_default`] otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> DataDir {
        DataDir { root: root.into() }
    }

    /// `%LOCALAPPDATA%\vaidya`, `~/Library/Application Support/vaidya`, `~/.local/share/vaidya`.
    pub fn platform_default() -> Result<DataDir, PartitionError> {
        dirs::data_local_dir()
            .map(|dir| DataDir::new(dir.join("vaidya")))
            .ok_or(PartitionError::NoDataDir)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn partitions_dir(&self) -> PathBuf {
        self.root.join("partitions")
    }

    /// `<data_dir>/partitions/<clinic_uuid>.sqlite`
    pub fn partition_file(&self, clinic_id: Uuid) -> PathBuf {
        self.partitions_dir().join(format!("{clinic_id}.sqlite"))
    }

    /// The SQLite companions of a partition file: `-wal` and `-shm`.
    fn companion_files(&self, clinic_id: Uuid) -> [PathBuf; 2] {
        let dir = self.partitions_dir();
        [
            dir.join(format!("{clinic_id}.sqlite-wal")),
            dir.join(format!("{clinic_id}.sqlite-shm")),
        ]
    }

    /// A one-way fingerprint of the key that last opened the file. It lets a failed open tell
    /// "wrong key" from "damaged file": SQLCipher answers both with the same "not a database".
    fn key_check_file(&self, clinic_id: Uuid) -> PathBuf {
        self.partitions_dir().join(format!("{clinic_id}.keycheck"))
    }
}

/// The 32-byte raw SQLCipher key of one partition. Its `Debug` never shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct PartitionKey([u8; 32]);

impl PartitionKey {
    pub const LEN: usize = 32;

    /// A fresh key from the operating system's random source.
    pub fn generate() -> PartitionKey {
        let mut bytes = [0u8; Self::LEN];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        PartitionKey(bytes)
    }

    pub fn from_bytes(bytes: [u8; 32]) -> PartitionKey {
        PartitionKey(bytes)
    }

    /// Lower-case hex, the form kept in the keyring.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits; anything else is `None`.
    pub fn from_hex(text: &str) -> Option<PartitionKey> {
        let bytes = hex::decode(text.trim()).ok()?;
        let bytes: [u8; 32] = bytes.try_into().ok()?;
        Some(PartitionKey(bytes))
    }

    /// SHA-256 over a label, the clinic id and the key: reveals nothing about a 256-bit
    /// random key, yet shows whether a file was last opened with this key.
    fn check_value(&self, clinic_id: Uuid) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"vaidya partition key check v1\0");
        hasher.update(clinic_id.as_bytes());
        hasher.update(self.0);
        hex::encode(hasher.finalize())
    }
}

impl std::fmt::Debug for PartitionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PartitionKey(<redacted>)")
    }
}

/// An open, verified and migrated partition of one clinic.
/// How much of an existing partition file [`ClinicPartition::open_with`] checks up front.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenCheck {
    /// Every page's HMAC (`PRAGMA cipher_integrity_check`): a damaged file fails at open.
    EveryPage,
    /// Only the pages opening reads. SQLCipher still checks each page's HMAC whenever it is
    /// read, so damage is never returned as data; it surfaces as an error on first use.
    PagesAsRead,
}

#[derive(Debug)]
pub struct ClinicPartition {
    conn: Connection,
    clinic_id: Uuid,
    data_dir: DataDir,
    /// Who makes the changes now (the signed-in member's device key): every change written
    /// to the outbox is signed with it, so whoever's session pushes it, the server applies
    /// it as its author. Set by `OpenClinic`.
    author: Option<vaidya_shared::authorship::DeviceSigner>,
    /// This device's name (`x-vaidya-device`), signed into every change with the author.
    device: Option<String>,
    /// The reader's visibility class: names the pull cursor (see `set_reader`).
    visibility: Option<String>,
    /// Which server the pull cursor is of while it is not the group server: the clinic's
    /// hub (issue 11; see `set_source`), whose feed has cursors of its own.
    source: Option<&'static str>,
    /// The key of the attached clinical store, when this connection has it
    /// (see [`clinical_store`]).
    clinical: Option<ClinicalKey>,
    /// A bulk load is running on this connection: fill pages queue their patients for
    /// search and the lookup indexes wait for its end (see [`bulk_load`]).
    bulk_load: bool,
}

impl ClinicPartition {
    /// Opens the clinic's partition, creating it when the file does not exist yet.
    ///
    /// The key is applied before any other statement, then checked by reading
    /// `sqlite_master` and, for an existing file, by verifying every page's HMAC, so a wrong
    /// key or a damaged file fails here with a typed error instead of later, mid-consultation.
    /// A file that fails to open is left exactly as it was: deciding to wipe it is the
    /// caller's (and the user's) call, since it may hold changes not yet synced.
    pub fn open(
        data_dir: &DataDir,
        clinic_id: Uuid,
        key: &PartitionKey,
    ) -> Result<ClinicPartition, PartitionError> {
        Self::open_with(data_dir, clinic_id, key, OpenCheck::EveryPage)
    }

    /// [`open`](Self::open) with a choice of how much of an existing file is checked first.
    /// Checking every page reads the whole file (about 0.2 s at 100k patients): an app that
    /// opens a second connection, which does check, can open its interactive one with
    /// [`OpenCheck::PagesAsRead`] and show the clinic sooner.
    pub fn open_with(
        data_dir: &DataDir,
        clinic_id: Uuid,
        key: &PartitionKey,
        check: OpenCheck,
    ) -> Result<ClinicPartition, PartitionError> {
        create_private_dir(&data_dir.partitions_dir())?;
        let path = data_dir.partition_file(clinic_id);
        let existed = fs::metadata(&path).map(|m| m.len() > 0).unwrap_or(false);
        if existed && starts_with_plaintext_magic(&path)? {
            return Err(PartitionError::Unencrypted);
        }

        let conn = Connection::open(&path)?;
        // First, so that even the key check and the migration wait for the other connection
        // (the sync task's or the UI's) instead of failing with SQLITE_BUSY. A C-API setting,
        // not a statement, so the key below is still the connection's first statement.
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // The key must be the first statement on the connection. The hex comes from our own
        // bytes, so formatting it into the pragma cannot inject SQL.
        conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", key.to_hex()))?;
        // Plain SQLite silently ignores `PRAGMA key`; make sure the cipher is really there.
        let cipher_version: Option<String> = conn
            .query_row("PRAGMA cipher_version", [], |row| row.get(0))
            .optional()?;
        if cipher_version.as_deref().is_none_or(str::is_empty) {
            return Err(PartitionError::CipherUnavailable);
        }

        // Before the schema is read: its generated columns and the row readers call them.
        functions::register_sql_functions(&conn, clinic_id)?;

        match conn.query_row("SELECT count(*) FROM sqlite_master", [], |row| {
            row.get::<_, i64>(0)
        }) {
            Ok(_) => {}
            Err(err) if err.sqlite_error_code() == Some(ErrorCode::NotADatabase) => {
                return Err(classify_unreadable(data_dir, clinic_id, key));
            }
            Err(err) => return Err(err.into()),
        }
        if existed && check == OpenCheck::EveryPage {
            verify_page_hmacs(&conn)?;
        }
        remember_key(data_dir, clinic_id, key)?;

        // WAL lets the UI read while the sync task writes. FULL syncs the WAL at every
        // commit: a local edit the app has shown as saved survives a power cut, which is
        // common in Indian clinics (NORMAL, safe against corruption, may lose the last
        // commits; only an initial fill, whose pages can be pulled again, uses it, see
        // `set_bulk_load`). Temp tables and sort spills stay in memory so no plaintext
        // scratch file is ever written.
        let journal_mode: String =
            conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        if !journal_mode.eq_ignore_ascii_case("wal") {
            // Happens on file systems without shared memory (some network shares).
            return Err(PartitionError::Io(std::io::Error::other(format!(
                "the partition's file system does not support WAL (journal mode {journal_mode})"
            ))));
        }
        // A 64 MiB page cache (SQLite's default is 2 MiB): pages are decrypted once while
        // they stay cached, and a pulled page's index updates (random UUID keys, FTS) stay
        // in memory. The statement cache holds every statement of a page apply.
        conn.execute_batch(&format!(
            "PRAGMA synchronous = FULL;
             PRAGMA foreign_keys = ON;
             PRAGMA temp_store = MEMORY;
             PRAGMA cache_size = -65536;
             PRAGMA journal_size_limit = {WAL_SIZE_LIMIT};"
        ))?;
        conn.set_prepared_statement_cache_capacity(64);

        let mut partition = ClinicPartition {
            conn,
            clinic_id,
            data_dir: data_dir.clone(),
            author: None,
            device: None,
            visibility: None,
            source: None,
            clinical: None,
            bulk_load: false,
        };
        let before = schema::user_version(&partition.conn)?;
        schema::migrate(&mut partition.conn)?;
        if before > 0 && before < schema::CLINICAL_STORE_VERSION {
            // The clinical tables just left this file: leave none of their pages behind.
            partition.conn.execute_batch("VACUUM")?;
        }
        // Until a clinician's key opens the clinical store, its tables are empty scratch
        // tables in memory (see `clinical_store`).
        clinical_store::create_scratch_tables(&partition.conn)?;
        partition.finish_left_over()?;
        Ok(partition)
    }

    pub fn clinic_id(&self) -> Uuid {
        self.clinic_id
    }

    pub fn path(&self) -> PathBuf {
        self.data_dir.partition_file(self.clinic_id)
    }

    /// The schema version stored in the file (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<i64, PartitionError> {
        Ok(schema::user_version(&self.conn)?)
    }

    /// Sets this connection up for a bulk load: `Some(MiB)` while an initial sync fills the
    /// partition, `None` to go back to the usual settings. A bulk load gets a bigger page
    /// cache (its B-trees and FTS index outgrow the usual 64 MiB) and `synchronous =
    /// NORMAL`: a power cut may lose its last pages, which hold nothing made on this PC and
    /// are pulled again (each page commits with its cursor). The setting is per connection,
    /// so edits made meanwhile on another connection stay FULL. A bulk load defers the
    /// search index and the lookup indexes ([`bulk_load`]); going back builds them.
    pub fn set_bulk_load(&mut self, cache_mib: Option<u32>) -> Result<(), PartitionError> {
        let kib = i64::from(cache_mib.unwrap_or(DEFAULT_CACHE_MIB)) * 1024;
        let synchronous = if cache_mib.is_some() {
            "NORMAL"
        } else {
            "FULL"
        };
        self.conn.execute_batch(&format!(
            "PRAGMA cache_size = -{kib}; PRAGMA synchronous = {synchronous};"
        ))?;
        self.bulk_load = cache_mib.is_some();
        if self.bulk_load {
            self.defer_lookup_indexes()?;
        } else {
            // However the fill ended, everything it brought is searchable and indexed.
            self.index_pending_search()?;
            self.build_deferred_indexes()?;
            self.shrink_wal_files();
        }
        Ok(())
    }

    /// Moves everything from the WAL into the main file and truncates the WAL, e.g. before
    /// copying the file for a backup.
    pub fn checkpoint(&self) -> Result<(), PartitionError> {
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))?;
        if busy != 0 {
            return Err(PartitionError::Busy);
        }
        Ok(())
    }

    /// Closes the partition and deletes its file, `-wal`, `-shm` and key check.
    /// Used when a membership is revoked or the user chooses to start this clinic afresh.
    pub fn wipe(self) -> Result<(), PartitionError> {
        let ClinicPartition {
            conn,
            clinic_id,
            data_dir,
            author: _,
            device: _,
            visibility: _,
            source: _,
            clinical: _,
            bulk_load: _,
        } = self;
        // Close first: Windows refuses to delete a file that is still open.
        conn.close().map_err(|(_, err)| PartitionError::from(err))?;
        ClinicPartition::wipe_files(&data_dir, clinic_id)
    }

    /// Deletes a partition's files (its clinical store's too) without opening it (e.g. its
    /// key is lost or it is corrupted). Files that are already gone are not an error.
    pub fn wipe_files(data_dir: &DataDir, clinic_id: Uuid) -> Result<(), PartitionError> {
        let [wal, shm] = data_dir.companion_files(clinic_id);
        let [store_wal, store_shm, store] = data_dir.clinical_store_files(clinic_id);
        for path in [
            data_dir.partition_file(clinic_id),
            wal,
            shm,
            data_dir.key_check_file(clinic_id),
            store,
            store_wal,
            store_shm,
        ] {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => return Err(err.into()),
            }
        }
        Ok(())
    }
}

/// The partition directory holds only ciphertext, but there is no reason for other local
/// users to list it either.
fn create_private_dir(dir: &Path) -> Result<(), PartitionError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    Ok(())
}

fn starts_with_plaintext_magic(path: &Path) -> Result<bool, PartitionError> {
    let mut head = [0u8; 16];
    let mut file = fs::File::open(path)?;
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..])? {
            0 => return Ok(false),
            n => filled += n,
        }
    }
    Ok(&head == SQLITE_PLAINTEXT_MAGIC)
}

/// Page 1 failed authentication. With the key fingerprint from the last successful open we
/// can say whether the key changed (wrong key) or the file did (corrupted).
fn classify_unreadable(data_dir: &DataDir, clinic_id: Uuid, key: &PartitionKey) -> PartitionError {
    match fs::read_to_string(data_dir.key_check_file(clinic_id)) {
        Ok(stored) if stored.trim() == key.check_value(clinic_id) => PartitionError::Corrupted {
            detail: "the first page fails authentication with the right key".to_owned(),
        },
        Ok(_) => PartitionError::WrongKey,
        // Never opened successfully here: it is not a file we made with any known key.
        Err(_) => PartitionError::NotADatabase,
    }
}

/// Checks every page's HMAC, so damage anywhere in the file is found at open time.
fn verify_page_hmacs(conn: &Connection) -> Result<(), PartitionError> {
    let mut stmt = conn.prepare("PRAGMA cipher_integrity_check")?;
    let problems: Vec<String> = stmt
        .query_map([], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    match problems.into_iter().next() {
        None => Ok(()),
        Some(first) => Err(PartitionError::Corrupted { detail: first }),
    }
}

fn remember_key(
    data_dir: &DataDir,
    clinic_id: Uuid,
    key: &PartitionKey,
) -> Result<(), PartitionError> {
    let path = data_dir.key_check_file(clinic_id);
    let value = key.check_value(clinic_id);
    if fs::read_to_string(&path).ok().as_deref() != Some(value.as_str()) {
        fs::write(&path, value)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod unsent_tests;
