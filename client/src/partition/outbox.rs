//! The outbox: local changes waiting to be pushed, and the local-write API that changes a
//! cached row and appends its outbox entry in one SQLite transaction.
//!
//! Because row and entry commit together, a crash or an error can never leave a change
//! that is visible locally but will never reach the server, nor an entry for a change that
//! was never made. Entries keep the order they were made in (`seq`), which the push keeps.
//! Each entry is exactly one wire [`Mutation`] of the sync protocol, stored column by column.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde_json::{Map, Value};
use uuid::Uuid;
pub use vaidya_shared::sync::{EntityKind, Mutation, Operation};

use super::sql::{enum_at, json_at, now, opt_json_at, opt_uuid_at, ts, ts_at, uuid_at};
use super::{ClinicPartition, ClinicalKey, PartitionError};
use vaidya_shared::rules::permissions::{in_clinical_store, Resource};

/// Whether a change to `entity` keeps its values sealed under the clinical store's key
/// (see `clinical_store`): the records only clinicians read.
pub(crate) fn is_sealed_entity(entity: EntityKind) -> bool {
    in_clinical_store(Resource::from(entity))
}

/// The names of the [`is_sealed_entity`] kinds as a JSON array, for SQL's `json_each`.
pub(crate) fn sealed_kinds_json() -> String {
    let kinds: Vec<&str> = EntityKind::ALL
        .into_iter()
        .filter(|k| is_sealed_entity(*k))
        .map(EntityKind::as_str)
        .collect();
    serde_json::to_string(&kinds).expect("names serialize")
}

/// An outbox entry's `data`, `changes` and `sealed` columns.
pub(crate) type PayloadColumns = (Option<String>, String, Option<Vec<u8>>);

/// The `data`, `changes` and `sealed` columns that store `m`: for a clinical record, its
/// values sealed under `key` (and none without it: `ClinicalLocked`); otherwise as JSON.
pub(crate) fn payload_columns(
    m: &Mutation,
    key: Option<&ClinicalKey>,
) -> Result<PayloadColumns, PartitionError> {
    if !is_sealed_entity(m.entity) {
        return Ok((
            m.data.as_ref().map(Value::to_string),
            Value::Object(m.changes.clone()).to_string(),
            None,
        ));
    }
    let key = key.ok_or(PartitionError::ClinicalLocked)?;
    let plain = serde_json::json!({"data": m.data, "changes": m.changes}).to_string();
    Ok((
        None,
        "{}".to_owned(),
        Some(key.seal(plain.as_bytes(), m.mutation_id.as_bytes())),
    ))
}

/// Opens a sealed entry's values with `key`; an entry this session cannot open stays
/// sealed (`OutboxEntry::is_sealed`), its values absent.
pub(crate) fn unseal(
    entry: &mut OutboxEntry,
    key: Option<&ClinicalKey>,
) -> Result<(), PartitionError> {
    let (Some(blob), Some(key)) = (&entry.sealed, key) else {
        return Ok(());
    };
    let id = entry.mutation.mutation_id;
    let plain = key.open(blob, id.as_bytes()).ok_or_else(|| {
        PartitionError::InvalidRow(format!(
            "the sealed change {id} does not open with this file's clinical key"
        ))
    })?;
    #[derive(serde::Deserialize)]
    struct Payload {
        data: Option<Value>,
        changes: Map<String, Value>,
    }
    let payload: Payload =
        serde_json::from_slice(&plain).map_err(|e| PartitionError::InvalidRow(e.to_string()))?;
    entry.mutation.data = payload.data;
    entry.mutation.changes = payload.changes;
    entry.sealed = None;
    Ok(())
}

pub(crate) fn operation_str(op: Operation) -> &'static str {
    match op {
        Operation::Create => "create",
        Operation::Update => "update",
        Operation::Delete => "delete",
    }
}

pub(crate) fn parse_operation(s: &str) -> Option<Operation> {
    [Operation::Create, Operation::Update, Operation::Delete]
        .into_iter()
        .find(|o| operation_str(*o) == s)
}

/// The cached entity a mutation changes: the parent for children that travel inside their
/// parent (an addendum inside its encounter, a payment inside its invoice).
pub fn cache_target(mutation: &Mutation) -> (EntityKind, Uuid) {
    match (mutation.entity, mutation.parent_id) {
        (EntityKind::Addendum, Some(parent)) => (EntityKind::Encounter, parent),
        (EntityKind::Payment, Some(parent)) => (EntityKind::Invoice, parent),
        (entity, _) => (entity, mutation.entity_id),
    }
}

/// Where an entry stands. Entries leave the outbox when the server acknowledges them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboxState {
    /// Not pushed yet, or pushed without an answer.
    Pending,
    /// The last push failed for a reason worth retrying (network, server error).
    Failed,
    /// The server answered with a conflict that waits in the conflict inbox.
    Conflict,
    /// The server refused it for good (bad data, no permission); kept for a person to fix
    /// or discard, never pushed again as is.
    Rejected,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Failed => "failed",
            OutboxState::Conflict => "conflict",
            OutboxState::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<OutboxState> {
        [
            OutboxState::Pending,
            OutboxState::Failed,
            OutboxState::Conflict,
            OutboxState::Rejected,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }

    /// Whether the sync engine still pushes entries in this state.
    pub fn is_pushable(self) -> bool {
        matches!(self, OutboxState::Pending | OutboxState::Failed)
    }
}

/// Signs `mutation` as `author`, naming `device` inside what is signed (so a relay can
/// show the server which device made it); unsigned without an author.
pub(crate) fn sign_with(
    author: Option<&vaidya_shared::authorship::DeviceSigner>,
    device: Option<&str>,
    clinic: Uuid,
    mutation: &mut Mutation,
) {
    if let Some(author) = author {
        mutation.device = device.map(str::to_owned);
        author.sign(clinic, mutation);
    }
}

/// A mutation with a fresh, time-ordered id (server logs and outbox dumps read in order).
pub fn new_mutation(
    entity: EntityKind,
    entity_id: Uuid,
    op: Operation,
    base_version: Option<i64>,
) -> Mutation {
    Mutation {
        mutation_id: Uuid::now_v7(),
        entity,
        entity_id,
        op,
        base_version,
        parent_id: None,
        data: None,
        changes: Map::new(),
        // Stored with microseconds; truncating here keeps the stored entry equal to this.
        made_at: chrono::SubsecRound::trunc_subsecs(Utc::now(), 6),
        author: None,
        device: None,
    }
}

/// Checks the shape the protocol requires before anything is stored: creates carry a data
/// object, updates at least one `{value, base}` change, deletes neither.
pub fn check_mutation(m: &Mutation) -> Result<(), PartitionError> {
    let bad = |why: &str| Err(PartitionError::InvalidMutation(why.to_owned()));
    match m.op {
        Operation::Create => {
            if !matches!(m.data, Some(Value::Object(_))) {
                return bad("a create carries its data as a JSON object");
            }
            if !m.changes.is_empty() {
                return bad("a create carries no field changes");
            }
        }
        Operation::Update => {
            if m.changes.is_empty() || m.data.is_some() {
                return bad("an update carries field changes and no data");
            }
            for (field, change) in &m.changes {
                let ok = change.as_object().is_some_and(|c| {
                    c.len() == 2 && c.contains_key("value") && c.contains_key("base")
                });
                if !ok {
                    return bad(&format!("change of {field} is not {{value, base}}"));
                }
            }
        }
        Operation::Delete => {
            if m.data.is_some() || !m.changes.is_empty() {
                return bad("a delete carries neither data nor changes");
            }
            if !m.entity.spec().deletable {
                return bad(&format!("a {} is never deleted", m.entity.as_str()));
            }
        }
    }
    if let (Some(parent), None) = (m.entity.spec().parent, m.parent_id) {
        return bad(&format!(
            "a {} names its {} as parent",
            m.entity.as_str(),
            parent.as_str()
        ));
    }
    Ok(())
}

/// A stored outbox entry.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    /// Position in the outbox; pushes go in this order.
    pub seq: i64,
    pub mutation: Mutation,
    pub created_at: DateTime<Utc>,
    pub attempts: i64,
    /// Machine code of the last failure (an `ErrorCode` in snake_case, or a client code).
    pub error_code: Option<String>,
    pub last_error: Option<String>,
    /// The field the server blamed for a rejection, when it named one.
    pub error_field: Option<String>,
    /// The server's conflict inbox entry, for entries in [`OutboxState::Conflict`].
    pub conflict_id: Option<Uuid>,
    pub state: OutboxState,
    /// A clinical change's values, still sealed: this session has no clinical store key,
    /// so `mutation.data` and `mutation.changes` are absent (see [`is_sealed`](Self::is_sealed)).
    pub(crate) sealed: Option<Vec<u8>>,
}

impl OutboxEntry {
    /// Whether the change's values are sealed from this session (a clinician's change seen
    /// by a session without the clinical store key): never pushed or shown by it.
    pub fn is_sealed(&self) -> bool {
        self.sealed.is_some()
    }
}

pub(crate) const COLUMNS: &str =
    "seq, mutation_id, entity, entity_id, operation, base_version, parent_id, data, changes, \
     made_at, created_at, attempts, error_code, last_error, conflict_id, state, error_field, \
     author, sealed, device";

pub(crate) fn entry_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxEntry> {
    let data: Option<String> = row.get(7)?;
    let data = data
        .map(|text| {
            serde_json::from_str(&text).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(7, rusqlite::types::Type::Text, e.into())
            })
        })
        .transpose()?;
    Ok(OutboxEntry {
        seq: row.get(0)?,
        mutation: Mutation {
            mutation_id: uuid_at(row, 1)?,
            entity: enum_at(row, 2, EntityKind::parse)?,
            entity_id: uuid_at(row, 3)?,
            op: enum_at(row, 4, parse_operation)?,
            base_version: row.get(5)?,
            parent_id: opt_uuid_at(row, 6)?,
            data,
            changes: json_at(row, 8)?,
            made_at: ts_at(row, 9)?,
            author: opt_json_at(row, 17)?,
            device: row.get(19)?,
        },
        created_at: ts_at(row, 10)?,
        attempts: row.get(11)?,
        error_code: row.get(12)?,
        last_error: row.get(13)?,
        conflict_id: opt_uuid_at(row, 14)?,
        state: enum_at(row, 15, OutboxState::parse)?,
        error_field: row.get(16)?,
        sealed: row.get(18)?,
    })
}

/// One entry by its mutation id (the one just appended, without reading the whole outbox),
/// opened with `key` when sealed.
pub(crate) fn entry(
    conn: &Connection,
    mutation_id: Uuid,
    key: Option<&ClinicalKey>,
) -> Result<OutboxEntry, PartitionError> {
    let mut entry = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM outbox WHERE mutation_id = ?1"
        ))?
        .query_row([mutation_id.to_string()], entry_from_row)
        .optional()?
        .ok_or(PartitionError::InvalidMutation("entry vanished".to_owned()))?;
    unseal(&mut entry, key)?;
    Ok(entry)
}

/// Appends one entry at the end of the outbox. Runs inside the caller's transaction. The
/// mutation is stored as given, its authorship included (see [`ClinicPartition::sign`]); a
/// clinical record's values sealed under `key` ([`payload_columns`]).
pub(crate) fn append(
    conn: &Connection,
    mutation: &Mutation,
    key: Option<&ClinicalKey>,
) -> Result<i64, PartitionError> {
    check_mutation(mutation)?;
    let (data, changes, sealed) = payload_columns(mutation, key)?;
    let author = mutation
        .author
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| PartitionError::InvalidMutation(e.to_string()))?;
    let result = conn.query_row(
        "INSERT INTO outbox (mutation_id, seq, entity, entity_id, operation, base_version,
                             parent_id, data, changes, made_at, created_at, author, sealed,
                             device)
         VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM outbox), ?2, ?3, ?4, ?5, ?6, ?7,
                 ?8, ?9, ?10, ?11, ?12, ?13)
         RETURNING seq",
        params![
            mutation.mutation_id.to_string(),
            mutation.entity.as_str(),
            mutation.entity_id.to_string(),
            operation_str(mutation.op),
            mutation.base_version,
            mutation.parent_id.map(|p| p.to_string()),
            data,
            changes,
            ts(&mutation.made_at),
            now(),
            author,
            sealed,
            mutation.device,
        ],
        |row| row.get(0),
    );
    match result {
        Ok(seq) => Ok(seq),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            Err(PartitionError::DuplicateMutation(mutation.mutation_id))
        }
        Err(err) => Err(err.into()),
    }
}

/// The outbox entries still to send: pending or failed, and not taken in by the clinic hub.
/// An entry the hub took in (`relayed_at`) is the hub's to forward, in the order it took
/// its PCs' changes in; this PC never sends it again (its own push could overtake a
/// colleague's earlier change in the hub's queue). It stays in the outbox until the group
/// server's answer comes back through the hub (`SyncEngine`'s relay answers): applied, it
/// goes; refused or in conflict, it waits for a person like any other.
pub(crate) const STILL_TO_SEND: &str = "state IN ('pending', 'failed') AND relayed_at IS NULL";

/// The outbox entries a clinic hub took in whose group server answer has not come back.
const AT_THE_HUB: &str = "state IN ('pending', 'failed') AND relayed_at IS NOT NULL";

/// Whether the cached entity still has local changes the server has not seen. Pulled rows
/// never overwrite such an entity: the edit is pushed and the server merges it. (A change
/// the hub took in is in the hub's feed already, and the group server's rows catch up with
/// it once the hub has forwarded it.)
pub(crate) fn has_pushable(
    conn: &Connection,
    entity: EntityKind,
    id: Uuid,
) -> rusqlite::Result<bool> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT 1 FROM outbox
             WHERE {STILL_TO_SEND}
               AND ((entity = ?1 AND entity_id = ?2) OR parent_id = ?2)
             LIMIT 1"
        ))?
        .query_row(params![entity.as_str(), id.to_string()], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Whether the outbox holds anything still to push (one probe for a whole pulled page).
pub(crate) fn any_pushable(conn: &Connection) -> rusqlite::Result<bool> {
    conn.prepare_cached(&format!(
        "SELECT EXISTS (SELECT 1 FROM outbox WHERE {STILL_TO_SEND})"
    ))?
    .query_row([], |row| row.get(0))
}

impl ClinicPartition {
    /// Who makes the changes from now on: their device key signs every change written to the
    /// outbox (`None`: changes go unsigned, and the pushing user vouches for them).
    pub fn set_author(&mut self, author: Option<vaidya_shared::authorship::DeviceSigner>) {
        self.author = author;
    }

    /// Forgets the author key unless it is `user`'s (a change is never signed as someone
    /// other than the member making it).
    pub fn keep_author_only_for(&mut self, user: Uuid) {
        if self.author.as_ref().is_some_and(|a| a.user_id != user) {
            self.author = None;
        }
    }

    /// Names this device to the server for the changes signed from now on (see
    /// [`Mutation::device`]). Set when the partition is opened for a session.
    pub fn set_device(&mut self, device: Option<String>) {
        self.device = device;
    }

    /// Signs `mutation` as the current author (the last step before it enters the outbox).
    pub(crate) fn sign(&self, mutation: &mut Mutation) {
        sign_with(
            self.author.as_ref(),
            self.device.as_deref(),
            self.clinic_id,
            mutation,
        );
    }

    /// The whole outbox, oldest first, whatever the state; clinical changes opened when
    /// this session holds the clinical store key, else left sealed.
    pub fn outbox(&self) -> Result<Vec<OutboxEntry>, PartitionError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM outbox ORDER BY seq"))?;
        let rows = stmt.query_map([], entry_from_row)?;
        let mut entries: Vec<OutboxEntry> = rows.collect::<Result<_, _>>()?;
        for entry in &mut entries {
            unseal(entry, self.clinical.as_ref())?;
        }
        Ok(entries)
    }

    /// Entries to push next, oldest first: pending and failed ones (conflicts wait for a
    /// person, rejected ones for a fix). A session without the clinical store key skips
    /// clinicians' sealed changes: a clinician's sync carries them. (Nothing else depends
    /// on them: clinical records refer to patients and appointments, never the reverse.)
    pub fn pushable_outbox(&self, limit: i64) -> Result<Vec<OutboxEntry>, PartitionError> {
        self.pushable_where("TRUE", limit)
    }

    /// [`pushable_outbox`](Self::pushable_outbox) for the clinic hub: signed entries only
    /// (the hub forwards each change as its author's, so it takes nothing else; the rest
    /// waits for the group server). Chosen before the limit, so unsigned entries ahead of
    /// them never leave a batch empty.
    pub fn hub_pushable_outbox(&self, limit: i64) -> Result<Vec<OutboxEntry>, PartitionError> {
        self.pushable_where("author IS NOT NULL", limit)
    }

    /// Entries the clinic hub with certificate pin `hub` took in whose group server answer
    /// has not come back yet, oldest first (see [`STILL_TO_SEND`]).
    pub fn relayed_outbox(
        &self,
        hub: &str,
        limit: i64,
    ) -> Result<Vec<OutboxEntry>, PartitionError> {
        self.outbox_where(AT_THE_HUB, Some(hub), limit)
    }

    /// Pushable entries that also match `filter` (SQL of this module, never input).
    fn pushable_where(&self, filter: &str, limit: i64) -> Result<Vec<OutboxEntry>, PartitionError> {
        self.outbox_where(&format!("{STILL_TO_SEND} AND {filter}"), None, limit)
    }

    /// Entries matching `filter` (SQL of this module, never input), taken in by the hub
    /// `relayed_by` when one is named, that this session can read, oldest first.
    fn outbox_where(
        &self,
        filter: &str,
        relayed_by: Option<&str>,
        limit: i64,
    ) -> Result<Vec<OutboxEntry>, PartitionError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM outbox WHERE {filter}
               AND (?3 IS NULL OR relayed_by = ?3)
               AND (sealed IS NULL OR ?2) ORDER BY seq LIMIT ?1"
        ))?;
        let rows = stmt.query_map(
            params![limit.max(0), self.clinical.is_some(), relayed_by],
            entry_from_row,
        )?;
        let mut entries: Vec<OutboxEntry> = rows.collect::<Result<_, _>>()?;
        for entry in &mut entries {
            unseal(entry, self.clinical.as_ref())?;
        }
        Ok(entries)
    }

    /// Seals the clinical changes still stored in the clear (written before the outbox
    /// sealed them, schema 19): run when a clinician opens the clinical store.
    pub(crate) fn seal_plain_clinical_entries(&mut self) -> Result<(), PartitionError> {
        let plain: Vec<OutboxEntry> = {
            let mut stmt = self.conn.prepare(&format!(
                "SELECT {COLUMNS} FROM outbox WHERE sealed IS NULL
                   AND entity IN (SELECT value FROM json_each(?1))"
            ))?;
            let rows = stmt.query_map([sealed_kinds_json()], entry_from_row)?;
            rows.collect::<Result<_, _>>()?
        };
        if plain.is_empty() {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for entry in &plain {
            let (data, changes, sealed) = payload_columns(&entry.mutation, self.clinical.as_ref())?;
            tx.execute(
                "UPDATE outbox SET data = ?2, changes = ?3, sealed = ?4 WHERE mutation_id = ?1",
                params![
                    entry.mutation.mutation_id.to_string(),
                    data,
                    changes,
                    sealed
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Number of entries the server has not acknowledged. "Synced" only when this is 0.
    pub fn outbox_len(&self) -> Result<i64, PartitionError> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM outbox", [], |row| row.get(0))?)
    }

    /// Entries per state: (still to send, rejected, conflict). Changes the clinic hub took
    /// in are counted apart ([`relayed_count`](Self::relayed_count)).
    pub fn outbox_counts(&self) -> Result<(i64, i64, i64), PartitionError> {
        Ok(self.conn.query_row(
            &format!(
                "SELECT count(*) FILTER (WHERE {STILL_TO_SEND}),
                        count(*) FILTER (WHERE state = 'rejected'),
                        count(*) FILTER (WHERE state = 'conflict')
                 FROM outbox"
            ),
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )?)
    }

    /// Changes the clinic hub took in whose group server answer has not come back yet.
    pub fn relayed_count(&self) -> Result<i64, PartitionError> {
        Ok(self.conn.query_row(
            &format!("SELECT count(*) FROM outbox WHERE {AT_THE_HUB}"),
            [],
            |row| row.get(0),
        )?)
    }

    /// Changes taken in by a hub whose certificate pin is none of `hubs` (the clinic's hubs
    /// the group server lists now), whose group server answer has not come back: that hub
    /// was revoked or registered afresh, and will never forward them or answer for them.
    pub fn relayed_by_other_hubs(&self, hubs: &[String]) -> Result<Vec<Uuid>, PartitionError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT mutation_id, relayed_by FROM outbox WHERE {AT_THE_HUB} ORDER BY seq"
        ))?;
        let rows = stmt.query_map([], |row| {
            Ok((uuid_at(row, 0)?, row.get::<_, Option<String>>(1)?))
        })?;
        let mut orphaned = Vec::new();
        for row in rows {
            let (id, hub) = row?;
            if !hub.is_some_and(|hub| hubs.iter().any(|h| h.eq_ignore_ascii_case(&hub))) {
                orphaned.push(id);
            }
        }
        Ok(orphaned)
    }

    /// Sends again, itself, the changes the clinic hub that took them in says it does not
    /// hold (that hub set up again from scratch, say): no queue of its can be overtaken by a
    /// change it lacks, and nothing the person did is lost.
    pub fn send_again_unrelayed(&mut self, mutation_ids: &[Uuid]) -> Result<(), PartitionError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for id in mutation_ids {
            tx.execute(
                "UPDATE outbox SET relayed_at = NULL, relayed_by = NULL WHERE mutation_id = ?1",
                [id.to_string()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Whether any entry (in any state) concerns this cached entity or its children.
    pub fn has_outbox_entries(
        &self,
        entity: EntityKind,
        entity_id: Uuid,
    ) -> Result<bool, PartitionError> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM outbox
                 WHERE (entity = ?1 AND entity_id = ?2) OR parent_id = ?2 LIMIT 1",
                params![entity.as_str(), entity_id.to_string()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// The server applied (or had already applied) the mutation: drop it from the outbox.
    /// Returns whether it was there.
    pub fn acknowledge_mutation(&mut self, mutation_id: Uuid) -> Result<bool, PartitionError> {
        let removed = self.conn.execute(
            "DELETE FROM outbox WHERE mutation_id = ?1",
            [mutation_id.to_string()],
        )?;
        Ok(removed > 0)
    }

    /// Records a push attempt that did not apply. [`OutboxState::Pending`] is not a
    /// failure state.
    pub fn mark_mutation(
        &mut self,
        mutation_id: Uuid,
        state: OutboxState,
        error: &str,
    ) -> Result<bool, PartitionError> {
        mark(&self.conn, mutation_id, state, None, error, None, None)
    }

    /// A person gave up on a rejected (or conflicting) change: drop it and let the next
    /// sync bring the server's state of the entity back.
    pub fn discard_mutation(&mut self, mutation_id: Uuid) -> Result<bool, PartitionError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let entry = tx
            .query_row(
                &format!("SELECT {COLUMNS} FROM outbox WHERE mutation_id = ?1"),
                [mutation_id.to_string()],
                entry_from_row,
            )
            .optional()?;
        let Some(entry) = entry else {
            return Ok(false);
        };
        if entry.is_sealed() && self.clinical.is_none() {
            return Err(PartitionError::ClinicalLocked);
        }
        tx.execute(
            "DELETE FROM outbox WHERE mutation_id = ?1",
            [mutation_id.to_string()],
        )?;
        let (entity, id) = cache_target(&entry.mutation);
        super::cache::add_refetch(&tx, entity, id)?;
        tx.commit()?;
        Ok(true)
    }

    pub(crate) fn check_clinic(&self, clinic_id: Uuid) -> Result<(), PartitionError> {
        if clinic_id == self.clinic_id {
            Ok(())
        } else {
            Err(PartitionError::WrongClinic {
                partition: self.clinic_id,
                row: clinic_id,
            })
        }
    }
}

pub(crate) fn mark(
    conn: &Connection,
    mutation_id: Uuid,
    state: OutboxState,
    code: Option<&str>,
    error: &str,
    conflict_id: Option<Uuid>,
    field: Option<&str>,
) -> Result<bool, PartitionError> {
    if state == OutboxState::Pending {
        return Err(PartitionError::InvalidMutation(
            "a push attempt is marked failed, conflict or rejected, not pending".to_owned(),
        ));
    }
    let changed = conn.execute(
        "UPDATE outbox SET state = ?2, attempts = attempts + 1, error_code = ?3,
                           last_error = ?4, conflict_id = ?5, error_field = ?6,
                           relayed_at = NULL, relayed_by = NULL
         WHERE mutation_id = ?1",
        params![
            mutation_id.to_string(),
            state.as_str(),
            code,
            error,
            conflict_id.map(|c| c.to_string()),
            field,
        ],
    )?;
    Ok(changed > 0)
}
