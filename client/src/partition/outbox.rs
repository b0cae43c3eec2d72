//! The outbox: local changes waiting to be pushed, and the local-write API that changes a
//! cached row and appends its outbox entry in one SQLite transaction.
//!
//! Because row and entry commit together, a crash or an error can never leave a change
//! that is visible locally but will never reach the server, nor an entry for a change that
//! was never made. Entries keep the order they were made in (`seq`), which the push keeps.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde_json::{Map, Value};
use uuid::Uuid;
use vaidya_shared::api::{Appointment, Encounter, Invoice, Patient, Prescription};

use super::sql::{enum_at, now, ts_at, uuid_at};
use super::{appointments, encounters, invoices, patients, prescriptions, sync_state};
use super::{ClinicPartition, PartitionError};

/// The kinds of entity that mutations, reads and conflicts refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntityKind {
    Patient,
    Appointment,
    Encounter,
    Addendum,
    Prescription,
    Invoice,
    Payment,
}

impl EntityKind {
    pub const ALL: [EntityKind; 7] = [
        EntityKind::Patient,
        EntityKind::Appointment,
        EntityKind::Encounter,
        EntityKind::Addendum,
        EntityKind::Prescription,
        EntityKind::Invoice,
        EntityKind::Payment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Patient => "patient",
            EntityKind::Appointment => "appointment",
            EntityKind::Encounter => "encounter",
            EntityKind::Addendum => "addendum",
            EntityKind::Prescription => "prescription",
            EntityKind::Invoice => "invoice",
            EntityKind::Payment => "payment",
        }
    }

    pub fn parse(s: &str) -> Option<EntityKind> {
        EntityKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Create,
    Update,
    Delete,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Delete => "delete",
        }
    }

    pub fn parse(s: &str) -> Option<Operation> {
        [Operation::Create, Operation::Update, Operation::Delete]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

/// Where an outbox entry stands. Entries leave the outbox when the server acknowledges them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboxState {
    /// Not pushed yet, or pushed without an answer.
    Pending,
    /// The last push failed for a reason worth retrying (network, server error).
    Failed,
    /// The server answered with a conflict that waits in the conflict inbox.
    Conflict,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Failed => "failed",
            OutboxState::Conflict => "conflict",
        }
    }

    pub fn parse(s: &str) -> Option<OutboxState> {
        [
            OutboxState::Pending,
            OutboxState::Failed,
            OutboxState::Conflict,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }
}

/// One change to push: what it applies to, the version it was based on, and the changed
/// fields (the body of the matching `New…` or `…Patch` request).
#[derive(Debug, Clone, PartialEq)]
pub struct Mutation {
    /// Chosen by the client, so a push that is retried is applied once.
    pub mutation_id: Uuid,
    pub entity: EntityKind,
    pub entity_id: Uuid,
    pub operation: Operation,
    pub base_version: Option<i64>,
    pub fields: Map<String, Value>,
}

impl Mutation {
    /// A mutation with a fresh id. `fields` must serialize to a JSON object.
    pub fn new(
        entity: EntityKind,
        entity_id: Uuid,
        operation: Operation,
        base_version: Option<i64>,
        fields: &impl serde::Serialize,
    ) -> Result<Mutation, PartitionError> {
        let fields = match serde_json::to_value(fields) {
            Ok(Value::Object(map)) => map,
            Ok(other) => {
                return Err(PartitionError::InvalidMutation(format!(
                    "fields must be a JSON object, not {other}"
                )))
            }
            Err(err) => return Err(PartitionError::InvalidMutation(err.to_string())),
        };
        Ok(Mutation {
            // Time-ordered ids make server logs and outbox dumps easy to read.
            mutation_id: Uuid::now_v7(),
            entity,
            entity_id,
            operation,
            base_version,
            fields,
        })
    }
}

/// A stored outbox entry.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    /// Position in the outbox; pushes go in this order.
    pub seq: i64,
    pub mutation: Mutation,
    pub created_at: DateTime<Utc>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub state: OutboxState,
}

/// A cached entity to write, borrowed from the caller.
#[derive(Debug, Clone, Copy)]
pub enum Record<'a> {
    Patient(&'a Patient),
    Appointment(&'a Appointment),
    Encounter(&'a Encounter),
    Prescription(&'a Prescription),
    Invoice(&'a Invoice),
}

impl Record<'_> {
    fn clinic_id(&self) -> Uuid {
        match self {
            Record::Patient(p) => p.clinic_id,
            Record::Appointment(a) => a.clinic_id,
            Record::Encounter(e) => e.clinic_id,
            Record::Prescription(p) => p.clinic_id,
            Record::Invoice(i) => i.clinic_id,
        }
    }

    fn upsert(&self, conn: &Connection) -> rusqlite::Result<()> {
        match self {
            Record::Patient(p) => patients::upsert(conn, p),
            Record::Appointment(a) => appointments::upsert(conn, a),
            Record::Encounter(e) => encounters::upsert(conn, e),
            Record::Prescription(p) => prescriptions::upsert(conn, p),
            Record::Invoice(i) => invoices::upsert(conn, i),
        }
    }
}

const COLUMNS: &str = "seq, mutation_id, entity, entity_id, operation, base_version, fields, \
                       created_at, attempts, last_error, state";

fn entry_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxEntry> {
    let fields: Map<String, Value> = super::sql::json_at(row, 6)?;
    Ok(OutboxEntry {
        seq: row.get(0)?,
        mutation: Mutation {
            mutation_id: uuid_at(row, 1)?,
            entity: enum_at(row, 2, EntityKind::parse)?,
            entity_id: uuid_at(row, 3)?,
            operation: enum_at(row, 4, Operation::parse)?,
            base_version: row.get(5)?,
            fields,
        },
        created_at: ts_at(row, 7)?,
        attempts: row.get(8)?,
        last_error: row.get(9)?,
        state: enum_at(row, 10, OutboxState::parse)?,
    })
}

/// Appends one entry at the end of the outbox. Runs inside the caller's transaction.
fn append(conn: &Connection, mutation: &Mutation) -> Result<i64, PartitionError> {
    let fields = Value::Object(mutation.fields.clone()).to_string();
    let result = conn.query_row(
        "INSERT INTO outbox (mutation_id, seq, entity, entity_id, operation, base_version,
                             fields, created_at)
         VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM outbox), ?2, ?3, ?4, ?5, ?6, ?7)
         RETURNING seq",
        params![
            mutation.mutation_id.to_string(),
            mutation.entity.as_str(),
            mutation.entity_id.to_string(),
            mutation.operation.as_str(),
            mutation.base_version,
            fields,
            now(),
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

impl ClinicPartition {
    /// Writes a cached row and appends its outbox entry in ONE transaction: both or neither.
    pub fn write_local(
        &mut self,
        record: Record<'_>,
        mutation: &Mutation,
    ) -> Result<OutboxEntry, PartitionError> {
        self.check_clinic(record.clinic_id())?;
        // IMMEDIATE takes the write lock up front, so a concurrent writer makes us wait
        // (busy timeout) instead of failing half-way with SQLITE_BUSY.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        record.upsert(&tx)?;
        let seq = append(&tx, mutation)?;
        let entry = tx.query_row(
            &format!("SELECT {COLUMNS} FROM outbox WHERE seq = ?1"),
            [seq],
            entry_from_row,
        )?;
        tx.commit()?;
        Ok(entry)
    }

    pub fn upsert_patient_local(
        &mut self,
        patient: &Patient,
        mutation: &Mutation,
    ) -> Result<OutboxEntry, PartitionError> {
        self.write_local(Record::Patient(patient), mutation)
    }

    pub fn upsert_appointment_local(
        &mut self,
        appointment: &Appointment,
        mutation: &Mutation,
    ) -> Result<OutboxEntry, PartitionError> {
        self.write_local(Record::Appointment(appointment), mutation)
    }

    /// Also used for a new addendum: the encounter with the addendum added, and a
    /// mutation on [`EntityKind::Addendum`].
    pub fn upsert_encounter_local(
        &mut self,
        encounter: &Encounter,
        mutation: &Mutation,
    ) -> Result<OutboxEntry, PartitionError> {
        self.write_local(Record::Encounter(encounter), mutation)
    }

    pub fn upsert_prescription_local(
        &mut self,
        prescription: &Prescription,
        mutation: &Mutation,
    ) -> Result<OutboxEntry, PartitionError> {
        self.write_local(Record::Prescription(prescription), mutation)
    }

    /// Also used for a new payment: the invoice with the payment added, and a mutation on
    /// [`EntityKind::Payment`].
    pub fn upsert_invoice_local(
        &mut self,
        invoice: &Invoice,
        mutation: &Mutation,
    ) -> Result<OutboxEntry, PartitionError> {
        self.write_local(Record::Invoice(invoice), mutation)
    }

    /// Stores rows pulled from the server and, in the same transaction, the cursor that
    /// follows them, so an interrupted pull resumes exactly after the last stored page.
    /// Deciding what to do with rows that still have outbox entries is the sync engine's job
    /// (see [`ClinicPartition::has_outbox_entries`]).
    pub fn apply_pulled(
        &mut self,
        records: &[Record<'_>],
        next_cursor: Option<&str>,
    ) -> Result<(), PartitionError> {
        for record in records {
            self.check_clinic(record.clinic_id())?;
        }
        // IMMEDIATE takes the write lock up front, so a concurrent writer makes us wait
        // (busy timeout) instead of failing half-way with SQLITE_BUSY.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for record in records {
            record.upsert(&tx)?;
        }
        if let Some(cursor) = next_cursor {
            sync_state::set(&tx, sync_state::PULL_CURSOR, cursor)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The whole outbox, oldest first, whatever the state.
    pub fn outbox(&self) -> Result<Vec<OutboxEntry>, PartitionError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM outbox ORDER BY seq"))?;
        let rows = stmt.query_map([], entry_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Entries to push next, oldest first: pending and failed ones (conflicts wait for a person).
    pub fn pushable_outbox(&self, limit: i64) -> Result<Vec<OutboxEntry>, PartitionError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM outbox WHERE state IN ('pending', 'failed') ORDER BY seq LIMIT ?1"
        ))?;
        let rows = stmt.query_map([limit.max(0)], entry_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Number of entries the server has not acknowledged. "Synced" only when this is 0.
    pub fn outbox_len(&self) -> Result<i64, PartitionError> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM outbox", [], |row| row.get(0))?)
    }

    pub fn has_outbox_entries(
        &self,
        entity: EntityKind,
        entity_id: Uuid,
    ) -> Result<bool, PartitionError> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM outbox WHERE entity = ?1 AND entity_id = ?2 LIMIT 1",
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

    /// Records a failed push attempt. [`OutboxState::Pending`] is not a failure state.
    pub fn mark_mutation(
        &mut self,
        mutation_id: Uuid,
        state: OutboxState,
        error: &str,
    ) -> Result<bool, PartitionError> {
        if state == OutboxState::Pending {
            return Err(PartitionError::InvalidMutation(
                "a push attempt is marked failed or conflict, not pending".to_owned(),
            ));
        }
        let changed = self.conn.execute(
            "UPDATE outbox SET state = ?2, attempts = attempts + 1, last_error = ?3
             WHERE mutation_id = ?1",
            params![mutation_id.to_string(), state.as_str(), error],
        )?;
        Ok(changed > 0)
    }

    fn check_clinic(&self, clinic_id: Uuid) -> Result<(), PartitionError> {
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
