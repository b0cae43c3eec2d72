//! The partition's local schema and its migrations, versioned with `PRAGMA user_version`.
//!
//! `MIGRATIONS[i]` takes a file from version `i` to `i + 1`. A shipped migration is never
//! edited, only followed by a new one. A file whose version is newer than this build knows
//! is refused rather than opened, because an older binary could silently drop columns or
//! misread rows written by a newer one.
//!
//! Design notes:
//! - Cached rows mirror the server's entities, with the server `version` for optimistic
//!   concurrency. Patients and appointments are plain columns because they are searched and
//!   listed; vitals are a small JSON value object because nothing queries inside them.
//! - Foreign keys tie only the parts of one entity together (addenda, prescription items,
//!   invoice lines and payments, which are replaced with their parent). Links *between*
//!   entities (appointment → patient …) are not foreign keys: the server already enforces
//!   them, and a pull or a role's visibility may deliver a child before, or without, its parent.
//! - `patients.pk` is an explicit INTEGER PRIMARY KEY because the FTS index refers to rows by
//!   rowid, and VACUUM may renumber an implicit rowid.

use std::sync::atomic::{AtomicUsize, Ordering};

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::PartitionError;

/// Files of this process being brought up to this build's schema right now.
static UPGRADES: AtomicUsize = AtomicUsize::new(0);

/// Whether this process is converting a clinic file (or its clinical store) to this build's
/// schema at this moment: after an update that changes how rows are kept, the first open
/// of a big clinic takes seconds (10 s at 1 M rows), and the start screen says so instead
/// of leaving the person to guess (or to blame the keychain).
pub fn upgrading() -> bool {
    UPGRADES.load(Ordering::SeqCst) > 0
}

/// Counts one file's upgrade while it lives.
pub(crate) struct Upgrade(());

impl Upgrade {
    pub(crate) fn start() -> Upgrade {
        UPGRADES.fetch_add(1, Ordering::SeqCst);
        Upgrade(())
    }
}

impl Drop for Upgrade {
    fn drop(&mut self) {
        UPGRADES.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The search index's triggers as of schema 22: a patient is indexed at once, or queued in
/// `search_pending` while a fill page defers it (`bulk_load`). Migration 23 creates them
/// again after copying the patients (a macro, for `concat!`: the migrations are literals).
macro_rules! search_triggers {
    () => {
        r#"
CREATE TRIGGER patients_fts_insert AFTER INSERT ON patients BEGIN
    INSERT INTO patients_fts (rowid, name, phone_search, patient_number, abha_search)
    SELECT new.pk, new.name, new.phone_search, new.patient_number, new.abha_search
    WHERE NOT EXISTS (SELECT 1 FROM search_deferred);
    INSERT INTO search_pending (pk)
    SELECT new.pk WHERE EXISTS (SELECT 1 FROM search_deferred);
END;
CREATE TRIGGER patients_fts_delete AFTER DELETE ON patients BEGIN
    INSERT INTO patients_fts (patients_fts, rowid, name, phone_search, patient_number, abha_search)
    SELECT 'delete', old.pk, old.name, old.phone_search, old.patient_number, old.abha_search
    WHERE NOT EXISTS (SELECT 1 FROM search_pending WHERE pk = old.pk);
    DELETE FROM search_pending WHERE pk = old.pk;
END;
CREATE TRIGGER patients_fts_update AFTER UPDATE ON patients
WHEN NOT EXISTS (SELECT 1 FROM search_pending WHERE pk = old.pk) BEGIN
    INSERT INTO patients_fts (patients_fts, rowid, name, phone_search, patient_number, abha_search)
    VALUES ('delete', old.pk, old.name, old.phone_search, old.patient_number, old.abha_search);
    INSERT INTO patients_fts (rowid, name, phone_search, patient_number, abha_search)
    VALUES (new.pk, new.name, new.phone_search, new.patient_number, new.abha_search);
END;
"#
    };
}

const MIGRATIONS: &[&str] = &[
    // 0 → 1: the first local schema.
    r#"
CREATE TABLE patients (
    pk             INTEGER PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    clinic_id      TEXT NOT NULL,
    patient_number INTEGER NOT NULL,
    name           TEXT NOT NULL,
    sex            TEXT NOT NULL,
    date_of_birth  TEXT,
    phone          TEXT,
    address        TEXT,
    abha_number    TEXT,
    version        INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    -- Digits-only forms for search, derived on write; not part of the wire entity.
    phone_search   TEXT NOT NULL DEFAULT '',
    abha_search    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX patients_number ON patients (patient_number);

-- Search as you type. A regular FTS5 table over the derived search columns, with prefix
-- indexes so that one to three typed characters are answered from the index.
CREATE VIRTUAL TABLE patients_fts USING fts5 (
    name, phone_search, patient_number, abha_search,
    content = 'patients', content_rowid = 'pk',
    prefix = '1 2 3',
    tokenize = "unicode61 remove_diacritics 2 categories 'L* N* Co M*'"
);
CREATE TRIGGER patients_fts_insert AFTER INSERT ON patients BEGIN
    INSERT INTO patients_fts (rowid, name, phone_search, patient_number, abha_search)
    VALUES (new.pk, new.name, new.phone_search, new.patient_number, new.abha_search);
END;
CREATE TRIGGER patients_fts_delete AFTER DELETE ON patients BEGIN
    INSERT INTO patients_fts (patients_fts, rowid, name, phone_search, patient_number, abha_search)
    VALUES ('delete', old.pk, old.name, old.phone_search, old.patient_number, old.abha_search);
END;
CREATE TRIGGER patients_fts_update AFTER UPDATE ON patients BEGIN
    INSERT INTO patients_fts (patients_fts, rowid, name, phone_search, patient_number, abha_search)
    VALUES ('delete', old.pk, old.name, old.phone_search, old.patient_number, old.abha_search);
    INSERT INTO patients_fts (rowid, name, phone_search, patient_number, abha_search)
    VALUES (new.pk, new.name, new.phone_search, new.patient_number, new.abha_search);
END;

CREATE TABLE appointments (
    id          TEXT PRIMARY KEY NOT NULL,
    clinic_id   TEXT NOT NULL,
    patient_id  TEXT NOT NULL,
    doctor_id   TEXT NOT NULL,
    starts_at   TEXT NOT NULL,
    ends_at     TEXT NOT NULL,
    status      TEXT NOT NULL,
    reason      TEXT,
    version     INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX appointments_starts ON appointments (starts_at);
CREATE INDEX appointments_doctor ON appointments (doctor_id, starts_at);
CREATE INDEX appointments_patient ON appointments (patient_id, starts_at);

CREATE TABLE encounters (
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
CREATE INDEX encounters_patient ON encounters (patient_id, created_at);

CREATE TABLE encounter_addenda (
    id           TEXT PRIMARY KEY NOT NULL,
    encounter_id TEXT NOT NULL REFERENCES encounters (id) ON DELETE CASCADE,
    author_id    TEXT NOT NULL,
    text         TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX encounter_addenda_encounter ON encounter_addenda (encounter_id, created_at);

CREATE TABLE prescriptions (
    id           TEXT PRIMARY KEY NOT NULL,
    clinic_id    TEXT NOT NULL,
    patient_id   TEXT NOT NULL,
    doctor_id    TEXT NOT NULL,
    encounter_id TEXT,
    notes        TEXT NOT NULL,
    issued_at    TEXT NOT NULL,
    version      INTEGER NOT NULL
);
CREATE INDEX prescriptions_patient ON prescriptions (patient_id, issued_at);

CREATE TABLE prescription_items (
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
CREATE INDEX prescription_items_prescription ON prescription_items (prescription_id, position);

CREATE TABLE invoices (
    id              TEXT PRIMARY KEY NOT NULL,
    clinic_id       TEXT NOT NULL,
    patient_id      TEXT NOT NULL,
    series          TEXT NOT NULL,
    number          INTEGER NOT NULL,
    invoice_number  TEXT NOT NULL,
    issued_at       TEXT NOT NULL,
    place_of_supply TEXT NOT NULL,
    supply_kind     TEXT NOT NULL,
    taxable_paise   INTEGER NOT NULL,
    cgst_paise      INTEGER NOT NULL,
    sgst_paise      INTEGER NOT NULL,
    igst_paise      INTEGER NOT NULL,
    total_paise     INTEGER NOT NULL,
    paid_paise      INTEGER NOT NULL,
    version         INTEGER NOT NULL,
    -- A GST invoice number is unique within its series.
    UNIQUE (series, number)
);
CREATE INDEX invoices_patient ON invoices (patient_id, issued_at);

CREATE TABLE invoice_lines (
    id               TEXT PRIMARY KEY NOT NULL,
    invoice_id       TEXT NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    position         INTEGER NOT NULL,
    description      TEXT NOT NULL,
    sac_hsn          TEXT NOT NULL,
    quantity         INTEGER NOT NULL,
    unit_price_paise INTEGER NOT NULL,
    discount_paise   INTEGER NOT NULL,
    gst_rate_bp      INTEGER NOT NULL,
    taxable_paise    INTEGER NOT NULL,
    cgst_paise       INTEGER NOT NULL,
    sgst_paise       INTEGER NOT NULL,
    igst_paise       INTEGER NOT NULL,
    total_paise      INTEGER NOT NULL
);
CREATE INDEX invoice_lines_invoice ON invoice_lines (invoice_id, position);

CREATE TABLE invoice_payments (
    id           TEXT PRIMARY KEY NOT NULL,
    invoice_id   TEXT NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    amount_paise INTEGER NOT NULL,
    method       TEXT NOT NULL,
    reference    TEXT,
    received_at  TEXT NOT NULL
);
CREATE INDEX invoice_payments_invoice ON invoice_payments (invoice_id, received_at);

-- Local changes waiting to be pushed, in the order they were made (`seq`).
CREATE TABLE outbox (
    mutation_id  TEXT PRIMARY KEY NOT NULL,
    seq          INTEGER NOT NULL UNIQUE,
    entity       TEXT NOT NULL,
    entity_id    TEXT NOT NULL,
    operation    TEXT NOT NULL CHECK (operation IN ('create', 'update', 'delete')),
    base_version INTEGER,
    fields       TEXT NOT NULL CHECK (json_valid(fields) AND json_type(fields) = 'object'),
    created_at   TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'failed', 'conflict'))
);
CREATE INDEX outbox_entity ON outbox (entity, entity_id);

-- Reads of patient data made on this device, uploaded to the server's audit trail.
-- Ids only, never values, exactly like the server's audit rows.
CREATE TABLE local_reads (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    read_id     TEXT NOT NULL UNIQUE,
    action      TEXT NOT NULL CHECK (action IN ('read', 'list')),
    entity      TEXT NOT NULL,
    entity_ids  TEXT NOT NULL CHECK (json_valid(entity_ids)),
    patient_ids TEXT NOT NULL CHECK (json_valid(patient_ids)),
    at          TEXT NOT NULL
);

-- The conflict inbox: what sync could not merge on its own, for a person to decide.
CREATE TABLE conflicts (
    id           TEXT PRIMARY KEY NOT NULL,
    entity       TEXT NOT NULL,
    entity_id    TEXT NOT NULL,
    field        TEXT,
    local_value  TEXT CHECK (local_value IS NULL OR json_valid(local_value)),
    server_value TEXT CHECK (server_value IS NULL OR json_valid(server_value)),
    kind         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    resolved_at  TEXT
);
CREATE INDEX conflicts_open ON conflicts (resolved_at, created_at);

CREATE TABLE sync_state (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
"#,
    // 1 → 2: the outbox stores each wire `Mutation` whole (parent, create data, field
    // changes with their base values, when it was made), a rejected state that is never
    // re-pushed, and the server's conflict id; conflicts keep who and which device; the
    // set of entities whose server state must be fetched again. Update entries written by
    // version 1 kept a patch body, not `{value, base}` changes; they move over as they are
    // and the server rejects them visibly rather than the migration guessing base values.
    r#"
CREATE TABLE outbox_v2 (
    mutation_id  TEXT PRIMARY KEY NOT NULL,
    seq          INTEGER NOT NULL UNIQUE,
    entity       TEXT NOT NULL,
    entity_id    TEXT NOT NULL,
    operation    TEXT NOT NULL CHECK (operation IN ('create', 'update', 'delete')),
    base_version INTEGER,
    parent_id    TEXT,
    data         TEXT CHECK (data IS NULL OR (json_valid(data) AND json_type(data) = 'object')),
    changes      TEXT NOT NULL CHECK (json_valid(changes) AND json_type(changes) = 'object'),
    made_at      TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    error_code   TEXT,
    last_error   TEXT,
    conflict_id  TEXT,
    state        TEXT NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'failed', 'conflict', 'rejected'))
);
INSERT INTO outbox_v2 (mutation_id, seq, entity, entity_id, operation, base_version, data,
                       changes, made_at, created_at, attempts, last_error, state)
SELECT mutation_id, seq, entity, entity_id, operation, base_version,
       CASE WHEN operation = 'create' THEN fields END,
       CASE WHEN operation = 'update' THEN fields ELSE '{}' END,
       created_at, created_at, attempts, last_error, state
FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v2 RENAME TO outbox;
CREATE INDEX outbox_entity ON outbox (entity, entity_id);
CREATE INDEX outbox_parent ON outbox (parent_id) WHERE parent_id IS NOT NULL;

ALTER TABLE conflicts ADD COLUMN user_id TEXT;
ALTER TABLE conflicts ADD COLUMN device TEXT;

-- Entities whose cached copy may differ from the server's and that no pull will correct
-- (a rejected or conflicting change, a discarded edit): fetched again after the next pull.
CREATE TABLE refetch (
    entity TEXT NOT NULL,
    id     TEXT NOT NULL,
    PRIMARY KEY (entity, id)
);
"#,
    // 2 → 3: prints are audited like reads (DESIGN.md: every print leaves an audit record),
    // so the local access log accepts the action `print`. SQLite cannot change a CHECK in
    // place: the table is rebuilt with its rows and their sequence numbers.
    r#"
CREATE TABLE local_reads_v3 (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    read_id     TEXT NOT NULL UNIQUE,
    action      TEXT NOT NULL CHECK (action IN ('read', 'list', 'print')),
    entity      TEXT NOT NULL,
    entity_ids  TEXT NOT NULL CHECK (json_valid(entity_ids)),
    patient_ids TEXT NOT NULL CHECK (json_valid(patient_ids)),
    at          TEXT NOT NULL
);
INSERT INTO local_reads_v3 (seq, read_id, action, entity, entity_ids, patient_ids, at)
SELECT seq, read_id, action, entity, entity_ids, patient_ids, at FROM local_reads;
DROP TABLE local_reads;
ALTER TABLE local_reads_v3 RENAME TO local_reads;
"#,
    // 3 → 4: rejected changes are shown, corrected or discarded by a person (issue 8).
    // The outbox keeps the field the server blamed; the access log accepts `discard` (a
    // discarded change goes to the server's audit trail); a discarded invoice that took a
    // number of this device's series is kept as a cancelled number, so the series shows
    // why it has a gap instead of silently skipping a number.
    r#"
ALTER TABLE outbox ADD COLUMN error_field TEXT;

CREATE TABLE local_reads_v4 (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    read_id     TEXT NOT NULL UNIQUE,
    action      TEXT NOT NULL CHECK (action IN ('read', 'list', 'print', 'discard')),
    entity      TEXT NOT NULL,
    entity_ids  TEXT NOT NULL CHECK (json_valid(entity_ids)),
    patient_ids TEXT NOT NULL CHECK (json_valid(patient_ids)),
    at          TEXT NOT NULL
);
INSERT INTO local_reads_v4 (seq, read_id, action, entity, entity_ids, patient_ids, at)
SELECT seq, read_id, action, entity, entity_ids, patient_ids, at FROM local_reads;
DROP TABLE local_reads;
ALTER TABLE local_reads_v4 RENAME TO local_reads;

CREATE TABLE voided_invoice_numbers (
    series      TEXT NOT NULL,
    number      INTEGER NOT NULL,
    invoice_id  TEXT NOT NULL,
    patient_id  TEXT,
    voided_at   TEXT NOT NULL,
    -- The server's reason for refusing the invoice (code and message), kept for the record.
    reason      TEXT,
    PRIMARY KEY (series, number)
);
"#,
    // 4 → 5: patient allergies, and the allergy warnings a prescription acknowledged.
    r#"
CREATE TABLE allergies (
    id          TEXT PRIMARY KEY NOT NULL,
    clinic_id   TEXT NOT NULL,
    patient_id  TEXT NOT NULL,
    substance   TEXT NOT NULL,
    reaction    TEXT NOT NULL,
    severity    TEXT NOT NULL,
    status      TEXT NOT NULL,
    noted_by    TEXT NOT NULL,
    version     INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX allergies_patient ON allergies (patient_id);
ALTER TABLE prescriptions ADD COLUMN acknowledged_allergies TEXT NOT NULL DEFAULT '[]'
    CHECK (json_valid(acknowledged_allergies));
"#,
    // 5 → 6: cancelled device invoice numbers are recorded on the server too; this marks
    // the ones the server has (sent with a push, like the offline reads).
    r#"
ALTER TABLE voided_invoice_numbers ADD COLUMN uploaded INTEGER NOT NULL DEFAULT 0
    CHECK (uploaded IN (0, 1));
"#,
    // 6 → 7: who made each change, with their device key's signature (JSON `Authorship`;
    // NULL for changes made before, which the pushing user then vouches for).
    r#"
ALTER TABLE outbox ADD COLUMN author TEXT CHECK (author IS NULL OR json_valid(author));
"#,
    // 7 → 8: offline reads are signed by their reader too, so the server's audit trail names
    // who read, whoever's session uploads them (NULL for reads recorded before).
    r#"
ALTER TABLE local_reads ADD COLUMN author TEXT CHECK (author IS NULL OR json_valid(author));
"#,
    // 8 → 9: who uses this clinic's file on this PC, so revoking one of them never wipes
    // the file (and the pending work) the others still use.
    r#"
CREATE TABLE device_members (
    user_id    TEXT PRIMARY KEY NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen  TEXT NOT NULL
);
"#,
    // 9 → 10: each member's role here, so forgetting one member removes what only they
    // could read and keeps what the others' roles read (NULL: recorded before; read as
    // "may read everything", so nothing is removed on a guess).
    r#"
ALTER TABLE device_members ADD COLUMN role TEXT;
"#,
    // 10 → 11: the supplier's details as at the issue, kept with each invoice (JSON of
    // `InvoiceSupplier`; NULL on invoices from before, which print with the clinic's current
    // details).
    r#"
ALTER TABLE invoices ADD COLUMN supplier TEXT;
"#,
    // 11 → 12: the business customer of a B2B invoice (JSON of `InvoiceRecipient`; NULL for
    // a patient's own bill).
    r#"
ALTER TABLE invoices ADD COLUMN recipient TEXT CHECK (recipient IS NULL OR json_valid(recipient));
"#,
    // 12 → 13: an invoice's cancellation (JSON of `InvoiceCancellation`; NULL while it
    // stands).
    r#"
ALTER TABLE invoices ADD COLUMN cancellation TEXT
    CHECK (cancellation IS NULL OR json_valid(cancellation));
"#,
    // 13 → 14: an invoice's credit notes (JSON array of `CreditNote`; NULL when none).
    // They are read only with their invoice, never queried on their own.
    r#"
ALTER TABLE invoices ADD COLUMN credit_notes TEXT
    CHECK (credit_notes IS NULL OR json_valid(credit_notes));
"#,
    // 14 → 15: a line's tax treatment and unit (NULL on lines from before: read by rate
    // and code).
    r#"
ALTER TABLE invoice_lines ADD COLUMN treatment TEXT;
ALTER TABLE invoice_lines ADD COLUMN unit TEXT;
"#,
    // 15 → 16: the clinic's catalogue of services and goods (billing offline).
    r#"
CREATE TABLE catalogue_items (
    id          TEXT PRIMARY KEY,
    clinic_id   TEXT NOT NULL,
    name        TEXT NOT NULL,
    sac_hsn     TEXT NOT NULL,
    treatment   TEXT NOT NULL,
    gst_rate_bp INTEGER NOT NULL,
    unit        TEXT NOT NULL,
    price_paise INTEGER NOT NULL,
    active      INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
"#,
    // 16 → 17: the doctor whose care an invoice bills.
    r#"
ALTER TABLE invoices ADD COLUMN doctor_id TEXT;
"#,
    // 17 → 18: clinical notes, addenda and prescriptions move to the clinical store, a
    // second file under a key only clinicians' sessions hold (`clinical_store`). Their
    // cached rows are dropped here (the server has every synced one; changes still to push
    // are in the outbox) and the pull cursors of the roles that read them are forgotten,
    // so a clinician's first pull into the store brings them back. Each clinician's wrap of
    // the store key is kept per user.
    r#"
DROP TABLE main.encounter_addenda;
DROP TABLE main.prescription_items;
DROP TABLE main.encounters;
DROP TABLE main.prescriptions;
DELETE FROM sync_state
WHERE key IN ('pull_cursor', 'pull_complete')
   OR ((substr(key, 1, 12) = 'pull_cursor:' OR substr(key, 1, 14) = 'pull_complete:')
       AND (',' || substr(key, instr(key, ':') + 1) || ',') LIKE '%,encounter,%');
CREATE TABLE clinical_key_wraps (
    user_id TEXT PRIMARY KEY NOT NULL,
    wrapped BLOB NOT NULL
);
"#,
    // 18 → 19: a pending change to a clinical record keeps its values sealed under the
    // clinical store's key (`clinical_store`), its `data` NULL and `changes` empty here, so
    // the outbox of a shared PC shows no clinical text to a session without that key.
    // Entries written before are sealed when a clinician next opens the store.
    r#"
ALTER TABLE outbox ADD COLUMN sealed BLOB;
"#,
    // 19 → 20: registering a patient looks for the clinic's patients with the same mobile
    // or ABHA number (`rules::duplicates`), offline too: both looked up by index.
    r#"
CREATE INDEX patients_phone ON patients (phone) WHERE phone IS NOT NULL;
CREATE INDEX patients_abha ON patients (abha_number) WHERE abha_number IS NOT NULL;
"#,
    // 20 → 21: forms being filled in (a new patient, a patient's edit, a bill), kept per
    // member and form as they are typed (`drafts`), so a crash or a restart loses none.
    r#"
CREATE TABLE form_drafts (
    user_id  TEXT NOT NULL,
    form     TEXT NOT NULL,
    data     TEXT NOT NULL CHECK (json_valid(data)),
    saved_at TEXT NOT NULL,
    PRIMARY KEY (user_id, form)
);
"#,
    // 21 → 22: what a first fill defers (`bulk_load`). It indexes its patients for search
    // in batches instead of row by row: while `search_deferred` holds its row (only inside
    // a fill page's transaction), a new patient is queued in `search_pending` instead of
    // indexed. Every patient row is either in `patients_fts` or in `search_pending`, never
    // both, so an update or delete touches the index only for rows already in it. And the
    // entity tables' lookup indexes are dropped for the fill and built again at its end
    // from the SQL kept in `deferred_indexes`.
    concat!(
        r#"
CREATE TABLE deferred_indexes (name TEXT PRIMARY KEY NOT NULL, sql TEXT NOT NULL);
CREATE TABLE search_pending (pk INTEGER PRIMARY KEY);
CREATE TABLE search_deferred (deferred INTEGER PRIMARY KEY CHECK (deferred = 1));
DROP TRIGGER patients_fts_insert;
DROP TRIGGER patients_fts_delete;
DROP TRIGGER patients_fts_update;
"#,
        search_triggers!()
    ),
    // 22 → 23: the compact entity tables (`sql`): ids as their 16 bytes, instants as
    // integer microseconds. At 1 M rows an appointment took ~315 bytes, most of it four
    // hyphenated ids and four RFC 3339 times, repeated in its indexes. Each table is
    // renamed aside, created again, copied with its values converted, and dropped; `pk` is
    // kept, so the search index stays valid, and its triggers come back after the copy so
    // that nothing is indexed twice. Children are dropped before their parents, whose
    // implicit delete would otherwise cascade into them. Every index is created here, so
    // nothing is left for a fill that was cut off to build. The CHECKs make a stray text
    // id or time fail loudly instead of never matching.
    concat!(
        r#"
DROP TRIGGER patients_fts_insert;
DROP TRIGGER patients_fts_delete;
DROP TRIGGER patients_fts_update;
DROP INDEX IF EXISTS patients_number;
DROP INDEX IF EXISTS patients_phone;
DROP INDEX IF EXISTS patients_abha;
DROP INDEX IF EXISTS appointments_starts;
DROP INDEX IF EXISTS appointments_doctor;
DROP INDEX IF EXISTS appointments_patient;
DROP INDEX IF EXISTS invoices_patient;
DROP INDEX IF EXISTS invoice_lines_invoice;
DROP INDEX IF EXISTS invoice_payments_invoice;
DROP INDEX IF EXISTS allergies_patient;
DELETE FROM deferred_indexes;
ALTER TABLE patients RENAME TO patients_v22;
ALTER TABLE appointments RENAME TO appointments_v22;
ALTER TABLE invoices RENAME TO invoices_v22;
ALTER TABLE invoice_lines RENAME TO invoice_lines_v22;
ALTER TABLE invoice_payments RENAME TO invoice_payments_v22;
ALTER TABLE allergies RENAME TO allergies_v22;
ALTER TABLE catalogue_items RENAME TO catalogue_items_v22;

CREATE TABLE patients (
    pk             INTEGER PRIMARY KEY,
    id             BLOB NOT NULL UNIQUE CHECK (length(id) = 16),
    clinic_id      BLOB NOT NULL CHECK (length(clinic_id) = 16),
    patient_number INTEGER NOT NULL,
    name           TEXT NOT NULL,
    sex            TEXT NOT NULL,
    date_of_birth  TEXT,
    phone          TEXT,
    address        TEXT,
    abha_number    TEXT,
    version        INTEGER NOT NULL,
    created_at     INTEGER NOT NULL CHECK (typeof(created_at) = 'integer'),
    updated_at     INTEGER NOT NULL CHECK (typeof(updated_at) = 'integer'),
    -- Digits-only forms for search, derived on write; not part of the wire entity.
    phone_search   TEXT NOT NULL DEFAULT '',
    abha_search    TEXT NOT NULL DEFAULT ''
);
CREATE TABLE appointments (
    id          BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    clinic_id   BLOB NOT NULL CHECK (length(clinic_id) = 16),
    patient_id  BLOB NOT NULL CHECK (length(patient_id) = 16),
    doctor_id   BLOB NOT NULL CHECK (length(doctor_id) = 16),
    starts_at   INTEGER NOT NULL CHECK (typeof(starts_at) = 'integer'),
    ends_at     INTEGER NOT NULL CHECK (typeof(ends_at) = 'integer'),
    status      TEXT NOT NULL,
    reason      TEXT,
    version     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL CHECK (typeof(created_at) = 'integer'),
    updated_at  INTEGER NOT NULL CHECK (typeof(updated_at) = 'integer')
);
CREATE TABLE invoices (
    id              BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    clinic_id       BLOB NOT NULL CHECK (length(clinic_id) = 16),
    patient_id      BLOB NOT NULL CHECK (length(patient_id) = 16),
    doctor_id       BLOB CHECK (doctor_id IS NULL OR length(doctor_id) = 16),
    series          TEXT NOT NULL,
    number          INTEGER NOT NULL,
    invoice_number  TEXT NOT NULL,
    issued_at       INTEGER NOT NULL CHECK (typeof(issued_at) = 'integer'),
    place_of_supply TEXT NOT NULL,
    supply_kind     TEXT NOT NULL,
    taxable_paise   INTEGER NOT NULL,
    cgst_paise      INTEGER NOT NULL,
    sgst_paise      INTEGER NOT NULL,
    igst_paise      INTEGER NOT NULL,
    total_paise     INTEGER NOT NULL,
    paid_paise      INTEGER NOT NULL,
    version         INTEGER NOT NULL,
    supplier        TEXT,
    recipient       TEXT CHECK (recipient IS NULL OR json_valid(recipient)),
    cancellation    TEXT CHECK (cancellation IS NULL OR json_valid(cancellation)),
    credit_notes    TEXT CHECK (credit_notes IS NULL OR json_valid(credit_notes)),
    -- A GST invoice number is unique within its series.
    UNIQUE (series, number)
);
CREATE TABLE invoice_lines (
    id               BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    invoice_id       BLOB NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    position         INTEGER NOT NULL,
    description      TEXT NOT NULL,
    sac_hsn          TEXT NOT NULL,
    quantity         INTEGER NOT NULL,
    unit_price_paise INTEGER NOT NULL,
    discount_paise   INTEGER NOT NULL,
    gst_rate_bp      INTEGER NOT NULL,
    taxable_paise    INTEGER NOT NULL,
    cgst_paise       INTEGER NOT NULL,
    sgst_paise       INTEGER NOT NULL,
    igst_paise       INTEGER NOT NULL,
    total_paise      INTEGER NOT NULL,
    treatment        TEXT,
    unit             TEXT
);
CREATE TABLE invoice_payments (
    id           BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    invoice_id   BLOB NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    amount_paise INTEGER NOT NULL,
    method       TEXT NOT NULL,
    reference    TEXT,
    received_at  INTEGER NOT NULL CHECK (typeof(received_at) = 'integer')
);
CREATE TABLE allergies (
    id          BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    clinic_id   BLOB NOT NULL CHECK (length(clinic_id) = 16),
    patient_id  BLOB NOT NULL CHECK (length(patient_id) = 16),
    substance   TEXT NOT NULL,
    reaction    TEXT NOT NULL,
    severity    TEXT NOT NULL,
    status      TEXT NOT NULL,
    noted_by    BLOB NOT NULL CHECK (length(noted_by) = 16),
    version     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL CHECK (typeof(created_at) = 'integer'),
    updated_at  INTEGER NOT NULL CHECK (typeof(updated_at) = 'integer')
);
CREATE TABLE catalogue_items (
    id          BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    clinic_id   BLOB NOT NULL CHECK (length(clinic_id) = 16),
    name        TEXT NOT NULL,
    sac_hsn     TEXT NOT NULL,
    treatment   TEXT NOT NULL,
    gst_rate_bp INTEGER NOT NULL,
    unit        TEXT NOT NULL,
    price_paise INTEGER NOT NULL,
    active      INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL CHECK (typeof(created_at) = 'integer'),
    updated_at  INTEGER NOT NULL CHECK (typeof(updated_at) = 'integer')
);

INSERT INTO patients
SELECT pk, unhex(replace(id, '-', '')), unhex(replace(clinic_id, '-', '')), patient_number,
       name, sex, date_of_birth, phone, address, abha_number, version,
       unixepoch(substr(created_at, 1, 19)) * 1000000 + CAST(substr(created_at, 21, 6) AS INTEGER),
       unixepoch(substr(updated_at, 1, 19)) * 1000000 + CAST(substr(updated_at, 21, 6) AS INTEGER),
       phone_search, abha_search
FROM patients_v22;
INSERT INTO appointments
SELECT unhex(replace(id, '-', '')), unhex(replace(clinic_id, '-', '')),
       unhex(replace(patient_id, '-', '')), unhex(replace(doctor_id, '-', '')),
       unixepoch(substr(starts_at, 1, 19)) * 1000000 + CAST(substr(starts_at, 21, 6) AS INTEGER),
       unixepoch(substr(ends_at, 1, 19)) * 1000000 + CAST(substr(ends_at, 21, 6) AS INTEGER),
       status, reason, version,
       unixepoch(substr(created_at, 1, 19)) * 1000000 + CAST(substr(created_at, 21, 6) AS INTEGER),
       unixepoch(substr(updated_at, 1, 19)) * 1000000 + CAST(substr(updated_at, 21, 6) AS INTEGER)
FROM appointments_v22;
INSERT INTO invoices
SELECT unhex(replace(id, '-', '')), unhex(replace(clinic_id, '-', '')),
       unhex(replace(patient_id, '-', '')), unhex(replace(doctor_id, '-', '')),
       series, number, invoice_number,
       unixepoch(substr(issued_at, 1, 19)) * 1000000 + CAST(substr(issued_at, 21, 6) AS INTEGER),
       place_of_supply, supply_kind, taxable_paise, cgst_paise, sgst_paise, igst_paise,
       total_paise, paid_paise, version, supplier, recipient, cancellation, credit_notes
FROM invoices_v22;
INSERT INTO invoice_lines
SELECT unhex(replace(id, '-', '')), unhex(replace(invoice_id, '-', '')), position, description,
       sac_hsn, quantity, unit_price_paise, discount_paise, gst_rate_bp, taxable_paise,
       cgst_paise, sgst_paise, igst_paise, total_paise, treatment, unit
FROM invoice_lines_v22;
INSERT INTO invoice_payments
SELECT unhex(replace(id, '-', '')), unhex(replace(invoice_id, '-', '')), amount_paise, method,
       reference,
       unixepoch(substr(received_at, 1, 19)) * 1000000 + CAST(substr(received_at, 21, 6) AS INTEGER)
FROM invoice_payments_v22;
INSERT INTO allergies
SELECT unhex(replace(id, '-', '')), unhex(replace(clinic_id, '-', '')),
       unhex(replace(patient_id, '-', '')), substance, reaction, severity, status,
       unhex(replace(noted_by, '-', '')), version,
       unixepoch(substr(created_at, 1, 19)) * 1000000 + CAST(substr(created_at, 21, 6) AS INTEGER),
       unixepoch(substr(updated_at, 1, 19)) * 1000000 + CAST(substr(updated_at, 21, 6) AS INTEGER)
FROM allergies_v22;
INSERT INTO catalogue_items
SELECT unhex(replace(id, '-', '')), unhex(replace(clinic_id, '-', '')), name, sac_hsn,
       treatment, gst_rate_bp, unit, price_paise, active, version,
       unixepoch(substr(created_at, 1, 19)) * 1000000 + CAST(substr(created_at, 21, 6) AS INTEGER),
       unixepoch(substr(updated_at, 1, 19)) * 1000000 + CAST(substr(updated_at, 21, 6) AS INTEGER)
FROM catalogue_items_v22;

DROP TABLE invoice_lines_v22;
DROP TABLE invoice_payments_v22;
DROP TABLE invoices_v22;
DROP TABLE appointments_v22;
DROP TABLE allergies_v22;
DROP TABLE catalogue_items_v22;
DROP TABLE patients_v22;

CREATE INDEX patients_number ON patients (patient_number);
CREATE INDEX patients_phone ON patients (phone) WHERE phone IS NOT NULL;
CREATE INDEX patients_abha ON patients (abha_number) WHERE abha_number IS NOT NULL;
CREATE INDEX appointments_starts ON appointments (starts_at);
CREATE INDEX appointments_doctor ON appointments (doctor_id, starts_at);
CREATE INDEX appointments_patient ON appointments (patient_id, starts_at);
CREATE INDEX invoices_patient ON invoices (patient_id, issued_at);
CREATE INDEX invoice_lines_invoice ON invoice_lines (invoice_id, position);
CREATE INDEX invoice_payments_invoice ON invoice_payments (invoice_id, received_at);
CREATE INDEX allergies_patient ON allergies (patient_id);
"#,
        search_triggers!()
    ),
    // 23 → 24: the device that made a change, signed with it (`Mutation::device`): a change
    // relayed by the clinic hub is checked against it (its device invoice series).
    r#"
ALTER TABLE outbox ADD COLUMN device TEXT;
"#,
    // 24 → 25: a search index a third smaller (issue 15). Search asks only for prefixes of
    // words, in any order, so the words' positions were never read: the index keeps which
    // column a word is in and no more (`detail = column`), and no per-row column sizes
    // (`columnsize = 0`; bm25 ranks the few matches it ranks from the rows themselves).
    // The rebuild indexes every patient, those a fill had queued included, so the queue
    // is emptied with it; the triggers name the table and carry over.
    r#"
DROP TABLE patients_fts;
CREATE VIRTUAL TABLE patients_fts USING fts5 (
    name, phone_search, patient_number, abha_search,
    content = 'patients', content_rowid = 'pk',
    prefix = '1 2 3',
    detail = column,
    columnsize = 0,
    tokenize = "unicode61 remove_diacritics 2 categories 'L* N* Co M*'"
);
INSERT INTO patients_fts (patients_fts) VALUES ('rebuild');
DELETE FROM search_pending;
"#,
    // 25 → 26: rows that keep only what they alone know (issue 15, the file's size). A
    // clinic file is one clinic's, so no entity row repeats the clinic's id (16 bytes a row;
    // readers take it from `vaidya_clinic_id()`), and the digits-only search forms are
    // computed from the phone and ABHA number when read (virtual generated columns over the
    // shared rule, see `functions`) instead of stored beside them. `pk` is copied and the
    // search index is rebuilt from the computed forms (rows indexed by an older build's
    // forms included); its triggers are dropped for the copy and come back unchanged. The patients are copied into a new
    // table (a stored column cannot become a generated one); the other tables drop the
    // column in place (DROP COLUMN rewrites each). Two indexes no statement of the device
    // reads go (a doctor's appointments: a day's are found by time, then filtered; patients
    // by number: search finds a number through the FTS index); 19 MB at 1 M rows. The
    // patients' other lookup indexes are built here, even when a fill cut off had deferred
    // them.
    concat!(
        r#"
DROP TRIGGER patients_fts_insert;
DROP TRIGGER patients_fts_delete;
DROP TRIGGER patients_fts_update;
DROP INDEX IF EXISTS appointments_doctor;
DELETE FROM deferred_indexes
WHERE name IN ('appointments_doctor', 'patients_number', 'patients_phone', 'patients_abha');
ALTER TABLE patients RENAME TO patients_v25;
CREATE TABLE patients (
    pk             INTEGER PRIMARY KEY,
    id             BLOB NOT NULL UNIQUE CHECK (length(id) = 16),
    patient_number INTEGER NOT NULL,
    name           TEXT NOT NULL,
    sex            TEXT NOT NULL,
    date_of_birth  TEXT,
    phone          TEXT,
    address        TEXT,
    abha_number    TEXT,
    version        INTEGER NOT NULL,
    created_at     INTEGER NOT NULL CHECK (typeof(created_at) = 'integer'),
    updated_at     INTEGER NOT NULL CHECK (typeof(updated_at) = 'integer'),
    -- What search indexes the numbers by (not part of the wire entity), computed on read.
    phone_search   TEXT GENERATED ALWAYS AS (vaidya_phone_search(phone)) VIRTUAL,
    abha_search    TEXT GENERATED ALWAYS AS (vaidya_digits(abha_number)) VIRTUAL
);
INSERT INTO patients (pk, id, patient_number, name, sex, date_of_birth, phone, address,
                      abha_number, version, created_at, updated_at)
SELECT pk, id, patient_number, name, sex, date_of_birth, phone, address, abha_number, version,
       created_at, updated_at
FROM patients_v25 ORDER BY pk;
DROP TABLE patients_v25;
CREATE INDEX patients_phone ON patients (phone) WHERE phone IS NOT NULL;
CREATE INDEX patients_abha ON patients (abha_number) WHERE abha_number IS NOT NULL;
ALTER TABLE appointments DROP COLUMN clinic_id;
ALTER TABLE invoices DROP COLUMN clinic_id;
ALTER TABLE allergies DROP COLUMN clinic_id;
ALTER TABLE catalogue_items DROP COLUMN clinic_id;
-- The index is rebuilt from the computed forms: a row an older build indexed by other
-- forms would otherwise keep stale terms its delete can no longer name.
INSERT INTO patients_fts (patients_fts) VALUES ('rebuild');
DELETE FROM search_pending;
"#,
        search_triggers!()
    ),
    // 26 → 27: a change the clinic hub took in stays in the outbox, marked with when and by
    // which hub (its certificate pin), until the group server's answer comes back through
    // that hub (`outbox::STILL_TO_SEND`).
    r#"
ALTER TABLE outbox ADD COLUMN relayed_at TEXT;
ALTER TABLE outbox ADD COLUMN relayed_by TEXT;
"#,
];

/// The version whose files keep clinical rows in the clinical store.
pub(crate) const CLINICAL_STORE_VERSION: i64 = 18;

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub(crate) fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
}

/// Brings the file up to [`SCHEMA_VERSION`], one transaction per migration, so a crash
/// leaves the file at a whole version. `user_version` is part of the database header and
/// commits or rolls back with the migration. The version is read inside an IMMEDIATE
/// transaction, so two processes opening the same file at once cannot both apply a step.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), PartitionError> {
    let mut upgrade: Option<Upgrade> = None;
    let mut created = false;
    loop {
        let tx: Transaction<'_> = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found = user_version(&tx)?;
        if found > SCHEMA_VERSION {
            return Err(PartitionError::NewerSchema {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if found == SCHEMA_VERSION {
            return Ok(());
        }
        // user_version is never negative in files we wrote; treat one that is as empty.
        let step = found.max(0);
        // A file that already held data (not one being created) is being converted.
        created |= step == 0;
        if !created && upgrade.is_none() {
            upgrade = Some(Upgrade::start());
        }
        tx.execute_batch(MIGRATIONS[step as usize])?;
        tx.pragma_update(None, "user_version", step + 1)?;
        tx.commit()?;
    }
}

/// A clinic file's schema in memory, with the partition's functions (tests of the table
/// modules' statements).
#[cfg(test)]
pub(crate) fn migrated_test_db() -> Connection {
    let mut conn = Connection::open_in_memory().unwrap();
    super::functions::register_sql_functions(&conn, uuid::Uuid::nil()).unwrap();
    migrate(&mut conn).unwrap();
    conn
}

/// SQLite's plan for a statement, one step a line (tests that a screen's query keeps its
/// index).
#[cfg(test)]
pub(crate) fn query_plan(conn: &Connection, sql: &str) -> String {
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    let count = stmt.parameter_count();
    let nulls: Vec<rusqlite::types::Null> = vec![rusqlite::types::Null; count];
    let steps: Vec<String> = stmt
        .query_map(rusqlite::params_from_iter(nulls), |r| r.get(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    steps.join("\n")
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use uuid::Uuid;

    use super::*;
    use crate::partition::functions::register_sql_functions;

    /// The clinic whose file the tests' in-memory databases stand for.
    const CLINIC: &str = "0b9d6b5e-7f3a-4c52-9a51-1f0e2d3c4b5a";

    /// An in-memory database with the functions a partition connection has.
    fn memory_db() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        register_sql_functions(&conn, Uuid::parse_str(CLINIC).unwrap()).unwrap();
        conn
    }

    /// A clinic file in memory as a build of schema `version` left it.
    fn db_at(version: usize) -> Connection {
        let conn = memory_db();
        conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
        for step in &MIGRATIONS[..version] {
            conn.execute_batch(step).unwrap();
        }
        conn.pragma_update(None, "user_version", version as i64)
            .unwrap();
        conn
    }

    #[test]
    fn migrates_an_empty_database_to_the_latest_version() {
        let mut conn = memory_db();
        migrate(&mut conn).unwrap();
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION);
        // Running again is a no-op, not a "table already exists" error.
        migrate(&mut conn).unwrap();
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION);
    }

    /// A file of schema 22 holds its entity rows as text; after the step to 23 the same
    /// rows read back through the table modules, the search index still finds them, and the
    /// children still cascade with their invoice.
    #[test]
    fn version_23_converts_the_entity_tables_in_place() {
        use crate::partition::sql::{ts_at, uuid_at};

        let mut conn = db_at(22);
        let (clinic, patient, appt, invoice, line, payment) = (
            "0b9d6b5e-7f3a-4c52-9a51-1f0e2d3c4b5a",
            "01a24fc0-6fca-70c2-9f8e-34bea3e51e06",
            "5e1c0a7b-2d4f-4e68-8b9a-0c1d2e3f4a5b",
            "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d",
            "8b9c0d1e-2f3a-4b4c-9d5e-6f7a8b9c0d1e",
            "9c0d1e2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f",
        );
        conn.execute_batch(&format!(
            "INSERT INTO patients (pk, id, clinic_id, patient_number, name, sex, phone, version,
                                   created_at, updated_at, phone_search)
             VALUES (7, '{patient}', '{clinic}', 42, 'Meera Sharma', 'female', '9876543210', 3,
                     '2026-11-30T04:05:06.123456Z', '2026-12-01T10:00:00.000001Z', '9876543210');
             INSERT INTO appointments VALUES ('{appt}', '{clinic}', '{patient}', '{clinic}',
                 '1969-12-31T23:59:59.500000Z', '2026-12-01T10:15:00.000000Z', 'booked', NULL, 1,
                 '2026-11-30T04:05:06.123456Z', '2026-11-30T04:05:06.123456Z');
             INSERT INTO invoices (id, clinic_id, patient_id, series, number, invoice_number,
                                   issued_at, place_of_supply, supply_kind, taxable_paise,
                                   cgst_paise, sgst_paise, igst_paise, total_paise, paid_paise,
                                   version, doctor_id)
             VALUES ('{invoice}', '{clinic}', '{patient}', 'A', 1, 'A/1',
                     '2026-12-01T10:20:00.000000Z', '29', 'intra_state', 100, 9, 9, 0, 118, 118,
                     1, NULL);
             INSERT INTO invoice_lines VALUES ('{line}', '{invoice}', 0, 'Consultation', '999312',
                 1, 100, 0, 1800, 100, 9, 9, 0, 118, NULL, NULL);
             INSERT INTO invoice_payments VALUES ('{payment}', '{invoice}', 118, 'cash', NULL,
                 '2026-12-01T10:21:00.000000Z');"
        ))
        .unwrap();

        migrate(&mut conn).unwrap();
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION);

        let (id, created, updated): (Uuid, _, _) = conn
            .query_row(
                "SELECT id, created_at, updated_at FROM patients WHERE pk = 7",
                [],
                |r| Ok((uuid_at(r, 0)?, ts_at(r, 1)?, ts_at(r, 2)?)),
            )
            .unwrap();
        assert_eq!(id, Uuid::parse_str(patient).unwrap());
        assert_eq!(
            (created.to_rfc3339(), updated.to_rfc3339()),
            (
                "2026-11-30T04:05:06.123456+00:00".to_owned(),
                "2026-12-01T10:00:00.000001+00:00".to_owned()
            )
        );
        let kinds: String = conn
            .query_row(
                "SELECT typeof(id) || typeof(patient_id) || typeof(starts_at) FROM appointments",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(kinds, "blobblobinteger");
        // A time before 1970 keeps its fraction.
        let starts: i64 = conn
            .query_row("SELECT starts_at FROM appointments", [], |r| r.get(0))
            .unwrap();
        assert_eq!(starts, -500_000);
        // The search index still points at the same rows, and follows an edit.
        let hit: i64 = conn
            .query_row(
                "SELECT rowid FROM patients_fts WHERE patients_fts MATCH '\"meer\"*'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(hit, 7);
        conn.execute("UPDATE patients SET name = 'Meera Sarma' WHERE pk = 7", [])
            .unwrap();
        conn.execute(
            "INSERT INTO patients_fts (patients_fts) VALUES ('integrity-check')",
            [],
        )
        .unwrap();
        // Lines and payments still belong to their invoice.
        let ok: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
        let orphans: i64 = conn
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(orphans, 0);
        conn.execute("DELETE FROM invoices", []).unwrap();
        let left: i64 = conn
            .query_row(
                "SELECT (SELECT count(*) FROM invoice_lines) + (SELECT count(*) FROM invoice_payments)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(left, 0, "the children cascade with their invoice");
        // A text id is refused rather than stored where it would never match.
        assert!(conn
            .execute(
                "INSERT INTO allergies VALUES (?1, ?2, ?2, 'x', 'y', 'mild', 'active', ?2, 1, 0, 0)",
                rusqlite::params![appt, Uuid::nil().as_bytes()],
            )
            .is_err());
    }

    /// How long the step to 23 takes on a big encrypted file, the one-time cost of the
    /// update at the first open (figures in docs/benchmarks.md):
    /// `cargo test --release -p vaidya-client --lib -- --ignored --nocapture converting_a_big`
    /// `VAIDYA_BENCH_PATIENTS` sets the size (400,000 patients, as many appointments and a
    /// quarter as many invoices with a line each: bench-client's 1 M-row clinic).
    #[test]
    #[ignore = "a measurement: prints how long converting a big file takes"]
    fn converting_a_big_file_to_version_23() {
        let patients: i64 = std::env::var("VAIDYA_BENCH_PATIENTS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(400_000);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.sqlite");
        let mut conn = Connection::open(&path).unwrap();
        register_sql_functions(&conn, Uuid::new_v4()).unwrap();
        // As a partition opens: keyed, WAL, foreign keys, its usual page cache.
        conn.execute_batch(&format!(
            "PRAGMA key = \"x'{}'\"; PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;
             PRAGMA temp_store = MEMORY; PRAGMA cache_size = -65536;",
            "ab".repeat(32)
        ))
        .unwrap();
        for step in &MIGRATIONS[..22] {
            conn.execute_batch(step).unwrap();
        }
        conn.pragma_update(None, "user_version", 22).unwrap();
        let id = |prefix: &str, n: &str| {
            format!("printf('{prefix}%07x-0000-4000-8000-%012x', {n}, {n})")
        };
        let at = "strftime('%Y-%m-%dT%H:%M:%S.000000Z', 1700000000 + n * 60, 'unixepoch')";
        let (patient, appointment, invoice, line, clinic) = (
            id("1", "n"),
            id("2", "n"),
            id("3", "n"),
            id("4", "n"),
            id("5", "0"),
        );
        let doctor = id("6", "0");
        let patient_of = id("1", "n % ?1");
        let invoice_of = id("3", "n");
        let setup = Instant::now();
        let tx = conn.transaction().unwrap();
        // Patients queue for search as a fill's do; the conversion keeps the queue.
        tx.execute_batch("INSERT INTO search_deferred (deferred) VALUES (1)")
            .unwrap();
        tx.execute(
            &format!(
                "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < ?1)
                 INSERT INTO patients (id, clinic_id, patient_number, name, sex, date_of_birth,
                                       phone, address, version, created_at, updated_at,
                                       phone_search)
                 SELECT {patient}, {clinic}, n, 'Patient ' || n || ' Sharma', 'female',
                        '1980-01-01', '98' || printf('%08d', n), n || ' MG Road, Bengaluru', 1,
                        {at}, {at}, '98' || printf('%08d', n)
                 FROM c"
            ),
            [patients],
        )
        .unwrap();
        tx.execute_batch("DELETE FROM search_deferred").unwrap();
        tx.execute(
            &format!(
                "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < ?1)
                 INSERT INTO appointments
                 SELECT {appointment}, {clinic}, {patient_of}, {doctor}, {at}, {at}, 'completed',
                        'Follow-up', 1, {at}, {at}
                 FROM c"
            ),
            [patients],
        )
        .unwrap();
        tx.execute(
            &format!(
                "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < ?1 / 4)
                 INSERT INTO invoices (id, clinic_id, patient_id, series, number,
                                       invoice_number, issued_at, place_of_supply, supply_kind,
                                       taxable_paise, cgst_paise, sgst_paise, igst_paise,
                                       total_paise, paid_paise, version, doctor_id)
                 SELECT {invoice}, {clinic}, {patient_of}, 'A', n, 'A/' || n, {at}, '29',
                        'intra_state', 50000, 0, 0, 0, 50000, 50000, 1, {doctor}
                 FROM c;"
            ),
            [patients],
        )
        .unwrap();
        tx.execute(
            &format!(
                "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < ?1 / 4)
                 INSERT INTO invoice_lines (id, invoice_id, position, description, sac_hsn,
                                            quantity, unit_price_paise, discount_paise,
                                            gst_rate_bp, taxable_paise, cgst_paise, sgst_paise,
                                            igst_paise, total_paise)
                 SELECT {line}, {invoice_of}, 0, 'Consultation', '999312', 1, 50000, 0, 0,
                        50000, 0, 0, 0, 50000
                 FROM c"
            ),
            [patients],
        )
        .unwrap();
        tx.commit().unwrap();
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .unwrap();
        let rows = patients * 2 + patients / 2;
        let before = std::fs::metadata(&path).unwrap().len();
        println!(
            "schema 22 file: {rows} rows, {:.0} MB, made in {:.1}s",
            before as f64 / 1e6,
            setup.elapsed().as_secs_f64()
        );

        let t = Instant::now();
        migrate(&mut conn).unwrap();
        let secs = t.elapsed().as_secs_f64();
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .unwrap();
        let after = std::fs::metadata(&path).unwrap().len();
        let free: i64 = conn
            .query_row("PRAGMA freelist_count", [], |r| r.get(0))
            .unwrap();
        // SQLCipher answers this pragma as text.
        let page: String = conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap();
        let page: i64 = page.parse().unwrap();
        println!(
            "converted to schema {SCHEMA_VERSION} in {secs:.1}s ({:.0} rows/s); file {:.0} MB, \
             of which {:.0} MB free pages (reused as the cache grows)",
            rows as f64 / secs,
            after as f64 / 1e6,
            (free * page) as f64 / 1e6
        );
        let n: i64 = conn
            .query_row("SELECT count(*) FROM appointments", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, patients);
    }

    /// The step to 25 rebuilds the search index in its smaller form: a patient indexed
    /// before and one a cut-off fill had queued are both found after it, the queue is
    /// empty, later edits follow, and the index checks out against its rows.
    #[test]
    fn version_25_rebuilds_the_search_index_with_the_queued_patients() {
        let mut conn = db_at(24);
        let row = |pk: i64, name: &str| {
            format!(
                "INSERT INTO patients (pk, id, clinic_id, patient_number, name, sex, phone,
                                       version, created_at, updated_at, phone_search)
                 VALUES ({pk}, randomblob(16), randomblob(16), {pk}, '{name}', 'female',
                         '98450{pk}', 1, 0, 0, '98450{pk}')"
            )
        };
        conn.execute_batch(&row(1, "Meera Sharma")).unwrap();
        // A fill cut off with this patient queued, not indexed.
        conn.execute_batch("INSERT INTO search_deferred VALUES (1)")
            .unwrap();
        conn.execute_batch(&row(2, "Meena Iyer")).unwrap();
        conn.execute_batch("DELETE FROM search_deferred").unwrap();

        migrate(&mut conn).unwrap();
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION);
        let hits = |conn: &Connection, q: &str| -> Vec<i64> {
            let mut stmt = conn
                .prepare(
                    "SELECT rowid FROM patients_fts WHERE patients_fts MATCH ?1 ORDER BY rowid",
                )
                .unwrap();
            stmt.query_map([q], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        assert_eq!(hits(&conn, "\"mee\"*"), vec![1, 2]);
        assert_eq!(hits(&conn, "\"iyer\"* \"98450\"*"), vec![2]);
        let queued: i64 = conn
            .query_row("SELECT count(*) FROM search_pending", [], |r| r.get(0))
            .unwrap();
        assert_eq!(queued, 0);
        conn.execute_batch("UPDATE patients SET name = 'Meena Nair' WHERE pk = 2")
            .unwrap();
        assert!(hits(&conn, "\"iyer\"*").is_empty());
        assert_eq!(hits(&conn, "\"nair\"*"), vec![2]);
        conn.execute_batch("INSERT INTO patients_fts (patients_fts) VALUES ('integrity-check')")
            .unwrap();
        // Ranking still works on the smaller index.
        let score: f64 = conn
            .query_row(
                "SELECT bm25(patients_fts) FROM patients_fts WHERE patients_fts MATCH '\"nair\"*'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(score < 0.0, "bm25 ranks a match ({score})");
    }

    /// The step to 26 takes out what every row repeated: the clinic's id (read back from
    /// the file's clinic) and the stored search forms (computed from the numbers now; the
    /// index is rebuilt from them, so a row an older build indexed by other forms loses its
    /// stale terms and the index checks out). A fill cut off with the patients' lookup
    /// indexes deferred gets them back here.
    #[test]
    fn version_26_keeps_no_clinic_id_and_no_stored_search_forms() {
        use crate::partition::cache::Cached;
        use vaidya_shared::entity::kinds;

        let mut conn = db_at(25);
        let clinic = Uuid::parse_str(CLINIC).unwrap();
        let patient = Uuid::new_v4();
        conn.execute(
            "INSERT INTO patients (pk, id, clinic_id, patient_number, name, sex, phone,
                                   abha_number, version, created_at, updated_at, phone_search,
                                   abha_search)
             VALUES (7, ?2, ?1, 42, 'Meera Sharma', 'female', '+91 98450 12345',
                     '12-3456-7890-1234', 3, 0, 0, '98450 12345', '12345678901234')",
            [clinic.as_bytes(), patient.as_bytes()],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO appointments VALUES (randomblob(16), ?1, randomblob(16), randomblob(16),
                                              0, 1, 'booked', NULL, 1, 0, 0)",
            [clinic.as_bytes()],
        )
        .unwrap();
        // A fill cut off after deferring the patients' lookup indexes.
        conn.execute_batch(
            "INSERT INTO deferred_indexes SELECT name, sql FROM sqlite_master
             WHERE name = 'patients_phone';
             DROP INDEX patients_phone;",
        )
        .unwrap();

        migrate(&mut conn).unwrap();
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION);

        for table in [
            "patients",
            "appointments",
            "invoices",
            "allergies",
            "catalogue_items",
        ] {
            let has: bool = conn
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM pragma_table_xinfo(?1) WHERE name = 'clinic_id')",
                    [table],
                    |r| r.get(0),
                )
                .unwrap();
            assert!(!has, "{table} still keeps a clinic id");
        }
        // The forms are computed, not stored: the same values as before.
        let (phone, abha, hidden): (String, String, i64) = conn
            .query_row(
                "SELECT phone_search, abha_search,
                        (SELECT count(*) FROM pragma_table_xinfo('patients') WHERE hidden = 2)
                 FROM patients WHERE pk = 7",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(
            (phone.as_str(), abha.as_str(), hidden),
            ("919845012345 9845012345", "12345678901234", 2)
        );
        conn.execute_batch("INSERT INTO patients_fts (patients_fts) VALUES ('integrity-check')")
            .unwrap();
        let hit: i64 = conn
            .query_row(
                "SELECT rowid FROM patients_fts WHERE patients_fts MATCH '\"98450\"*'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(hit, 7);
        let stale: i64 = conn
            .query_row(
                "SELECT count(*) FROM patients_fts WHERE patients_fts MATCH 'phone_search : \"12345\"*'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stale, 0, "an older build's form is still indexed");
        // Read back through the table module, the patient is this file's clinic's.
        let read = kinds::Patient::peek(&conn, patient).unwrap().unwrap();
        assert_eq!((read.clinic_id, read.patient_number), (clinic, 42));
        let deferred: i64 = conn
            .query_row("SELECT count(*) FROM deferred_indexes", [], |r| r.get(0))
            .unwrap();
        assert_eq!(deferred, 0);
        let indexes: String = conn
            .query_row(
                "SELECT group_concat(name, ' ') FROM (
                     SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL
                     AND tbl_name IN ('patients', 'appointments') ORDER BY name)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            indexes,
            "appointments_patient appointments_starts patients_abha patients_phone"
        );
        let ok: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
    }

    /// Other tests convert files in parallel, so only what holds whatever they do is
    /// asserted: an upgrade under way is visible until its last guard goes.
    #[test]
    fn an_upgrade_is_visible_while_it_runs() {
        let first = Upgrade::start();
        let second = Upgrade::start();
        assert!(upgrading());
        drop(first);
        assert!(upgrading(), "one file is still converting");
        drop(second);
    }

    #[test]
    fn refuses_a_newer_schema() {
        let mut conn = memory_db();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let err = migrate(&mut conn).unwrap_err();
        assert_eq!(err.code(), "partition_newer_schema");
        assert!(matches!(
            err,
            PartitionError::NewerSchema { found, supported }
                if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION
        ));
    }

    #[test]
    fn version_3_keeps_the_access_log_and_accepts_prints() {
        let mut conn = db_at(2);
        conn.execute(
            "INSERT INTO local_reads (seq, read_id, action, entity, entity_ids, patient_ids, at)
             VALUES (7, 'r1', 'read', 'patient', '[]', '[]', '2025-01-01T00:00:00.000000Z')",
            [],
        )
        .unwrap();
        assert!(conn
            .execute(
                "INSERT INTO local_reads (read_id, action, entity, entity_ids, patient_ids, at)
                 VALUES ('r2', 'print', 'invoice', '[]', '[]', '2025-01-01T00:00:00.000000Z')",
                [],
            )
            .is_err());
        migrate(&mut conn).unwrap();
        let kept: (i64, String) = conn
            .query_row("SELECT seq, read_id FROM local_reads", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(kept, (7, "r1".to_owned()));
        let seq: i64 = conn
            .query_row(
                "INSERT INTO local_reads (read_id, action, entity, entity_ids, patient_ids, at)
                 VALUES ('r2', 'print', 'invoice', '[]', '[]', '2025-01-01T00:00:00.000000Z')
                 RETURNING seq",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(seq > 7, "sequence numbers keep growing");
        assert!(conn
            .execute(
                "INSERT INTO local_reads (read_id, action, entity, entity_ids, patient_ids, at)
                 VALUES ('r3', 'export', 'invoice', '[]', '[]', '2025-01-01T00:00:00.000000Z')",
                [],
            )
            .is_err());
    }
}
