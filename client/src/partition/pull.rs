//! Applying what the server says: pulled pages (rows, tombstones, conflict records and the
//! cursor, one transaction per page), push results, and entities to fetch again.
//!
//! The rule that keeps local work safe: a pulled row never overwrites an entity that still
//! has pushable outbox entries. The edit is pushed and merged by the server, and the merged
//! row arrives in a later pull. When no later pull will bring the server's state (the
//! change was rejected or lost a conflict, or a pulled row was held back), the entity goes
//! into the `refetch` set and the sync engine fetches it again once nothing is pending.

use rusqlite::{params, Connection, TransactionBehavior};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;
use vaidya_shared::entity::Stored;
use vaidya_shared::for_each_kind;
use vaidya_shared::sync::{Change, ConflictRecord, EntityKind, MutationResult, Operation};

use super::cache::{add_refetch, any_refetch, clear_refetch, remove_row, table, Cached, CachedRow};
use super::conflicts::{self, ConflictKind, NewConflict};
use super::outbox::{self, any_pushable, cache_target, has_pushable, OutboxEntry, OutboxState};
use super::{bulk_load, sync_state, ClinicPartition, PartitionError};

/// What one pulled page did to the cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageOutcome {
    /// Rows written or removed.
    pub applied: usize,
    /// Rows held back because the entity has local changes still to push.
    pub held: usize,
    /// Conflict records stored.
    pub conflicts: usize,
}

/// What one push batch's results did to the outbox.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushOutcome {
    pub applied: usize,
    pub conflicts: usize,
    pub rejected: usize,
}

fn invalid(change: &Change, e: impl std::fmt::Display) -> PartitionError {
    PartitionError::InvalidPulled(format!("{} {}: {e}", change.entity.as_str(), change.id))
}

/// Writes the server's state of one entity (or removes it for a tombstone / `None`).
fn write_server_state(
    conn: &Connection,
    clinic_id: Uuid,
    entity: EntityKind,
    id: Uuid,
    data: Option<&Value>,
    change: &Change,
) -> Result<(), PartitionError> {
    let Some(data) = data else {
        remove_row(conn, entity, id)?;
        return Ok(());
    };
    // Children travel inside their parents; conflicts are handled by the caller.
    if table(entity).is_none() {
        return Ok(());
    }
    for_each_kind!(entity, E => write_pulled::<E>(conn, clinic_id, id, data, change))
}

/// Writes one pulled record of kind `E`, which must be of this clinic and name `id`.
fn write_pulled<E: Cached>(
    conn: &Connection,
    clinic_id: Uuid,
    id: Uuid,
    data: &Value,
    change: &Change,
) -> Result<(), PartitionError> {
    let record = E::Record::deserialize(data).map_err(|e| invalid(change, e))?;
    if record.clinic_id() != clinic_id {
        return Err(PartitionError::WrongClinic {
            partition: clinic_id,
            row: record.clinic_id(),
        });
    }
    if record.id() != id {
        return Err(invalid(change, "the data names another id"));
    }
    record.upsert(conn)?;
    Ok(())
}

fn apply_conflict_record(
    conn: &Connection,
    clinic_id: Uuid,
    change: &Change,
) -> Result<(), PartitionError> {
    let record: ConflictRecord =
        serde_json::from_value(change.data.clone()).map_err(|e| invalid(change, e))?;
    if record.clinic_id != clinic_id {
        return Err(PartitionError::WrongClinic {
            partition: clinic_id,
            row: record.clinic_id,
        });
    }
    conflicts::upsert_record(conn, &record)?;
    if record.resolved_at.is_some() {
        // Resolved (perhaps on another device): the change that waited on it is settled,
        // and the entity's server state is what counts now.
        conn.execute(
            "DELETE FROM outbox WHERE state = 'conflict' AND conflict_id = ?1",
            [record.id.to_string()],
        )?;
        add_refetch(conn, record.entity, record.entity_id)?;
    }
    Ok(())
}

impl ClinicPartition {
    /// Applies one pulled page and stores its cursor in ONE transaction, so a crash leaves
    /// either the whole page and its cursor or neither; a page pulled again is harmless.
    /// A page that cannot be applied (a row of another clinic, malformed data) is refused
    /// whole, cursor included.
    pub fn apply_pull_page(
        &mut self,
        changes: &[Change],
        cursor: &str,
        has_more: bool,
    ) -> Result<PageOutcome, PartitionError> {
        let clinic_id = self.clinic_id;
        let cursor_tables = self.cursor_tables();
        let (cursor_key, complete_key, page_key) = (
            self.reader_key(sync_state::PULL_CURSOR),
            self.reader_key(sync_state::PULL_COMPLETE),
            self.reader_key(sync_state::PULL_PAGE),
        );
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut outcome = PageOutcome::default();
        if self.bulk_load {
            bulk_load::start_deferring(&tx)?;
        }
        // One probe each per page instead of per row: with nothing to push (an initial sync,
        // most live pulls) no row can be held back, and with an empty refetch set there is
        // nothing to clear. Both only change inside this transaction through the rows below,
        // and a conflict record can only empty the outbox, never fill it, and can only add
        // to the refetch set (after which `refetch_pending` is set again).
        let outbox_pending = any_pushable(&tx)?;
        let mut refetch_pending = any_refetch(&tx)?;
        for change in changes {
            if change.entity == EntityKind::Conflict {
                apply_conflict_record(&tx, clinic_id, change)?;
                refetch_pending = true;
                outcome.conflicts += 1;
                continue;
            }
            if table(change.entity).is_none() {
                // A child kind on its own: the protocol sends children inside parents.
                continue;
            }
            if outbox_pending && has_pushable(&tx, change.entity, change.id)? {
                add_refetch(&tx, change.entity, change.id)?;
                refetch_pending = true;
                outcome.held += 1;
                continue;
            }
            let data = (!change.deleted).then_some(&change.data);
            write_server_state(&tx, clinic_id, change.entity, change.id, data, change)?;
            if refetch_pending {
                clear_refetch(&tx, change.entity, change.id)?;
            }
            outcome.applied += 1;
        }
        // The cursor goes into each file the page wrote to, numbered (see
        // `ClinicPartition::cursor_tables`).
        let page = sync_state::next_page(&tx, cursor_tables, &page_key)?;
        for table in cursor_tables {
            sync_state::set_in(&tx, table, &cursor_key, cursor)?;
            sync_state::set_in(&tx, table, &complete_key, if has_more { "0" } else { "1" })?;
            sync_state::set_in(&tx, table, &page_key, &page.to_string())?;
        }
        if self.bulk_load {
            bulk_load::stop_deferring(&tx)?;
        }
        tx.commit()?;
        Ok(outcome)
    }

    /// Entities to fetch from the server again, leaving out those that still have changes
    /// to push (their merged state will be pulled).
    pub fn refetch_targets(&self) -> Result<Vec<(EntityKind, Uuid)>, PartitionError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT entity, id FROM refetch ORDER BY entity, id")?;
        let all: Vec<(EntityKind, Uuid)> = stmt
            .query_map([], |row| {
                Ok((
                    super::sql::enum_at(row, 0, EntityKind::parse)?,
                    super::sql::uuid_at(row, 1)?,
                ))
            })?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        for (entity, id) in all {
            if !has_pushable(&self.conn, entity, id)? {
                out.push((entity, id));
            }
        }
        Ok(out)
    }

    /// Stores the server's current state of an entity fetched again (`None`: the server
    /// has no such row for us, so it leaves the cache).
    pub fn apply_refetched(
        &mut self,
        entity: EntityKind,
        id: Uuid,
        data: Option<Value>,
    ) -> Result<(), PartitionError> {
        let clinic_id = self.clinic_id;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if !has_pushable(&tx, entity, id)? {
            let change = Change {
                entity,
                id,
                version: 0,
                deleted: data.is_none(),
                data: data.clone().unwrap_or(Value::Null),
            };
            write_server_state(&tx, clinic_id, entity, id, data.as_ref(), &change)?;
            clear_refetch(&tx, entity, id)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Applies the group server's results for pushed entries (or its answers the clinic hub
    /// passed on) and forgets the uploaded local reads, in ONE transaction. A result for a
    /// mutation that is not among `entries` is ignored.
    pub fn apply_push_results(
        &mut self,
        entries: &[OutboxEntry],
        results: &[MutationResult],
        reads_through: Option<i64>,
    ) -> Result<PushOutcome, PartitionError> {
        self.apply_results(entries, results, reads_through, None)
    }

    /// [`apply_push_results`](Self::apply_push_results) for a push to the clinic hub whose
    /// certificate pin is `hub`: a change the hub applied stays, marked as taken in by it
    /// (`relayed_at`, `relayed_by`), until the group server's own answer comes back through
    /// that hub (`outbox::STILL_TO_SEND`). The hub's conflicts and refusals are a person's to
    /// see at once, as the group server's are.
    pub fn apply_hub_push_results(
        &mut self,
        entries: &[OutboxEntry],
        results: &[MutationResult],
        reads_through: Option<i64>,
        hub: &str,
    ) -> Result<PushOutcome, PartitionError> {
        self.apply_results(entries, results, reads_through, Some(hub))
    }

    fn apply_results(
        &mut self,
        entries: &[OutboxEntry],
        results: &[MutationResult],
        reads_through: Option<i64>,
        by_hub: Option<&str>,
    ) -> Result<PushOutcome, PartitionError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut outcome = PushOutcome::default();
        for result in results {
            let Some(entry) = entries
                .iter()
                .find(|e| e.mutation.mutation_id == result.mutation_id())
            else {
                continue;
            };
            let m = &entry.mutation;
            let (target, target_id) = cache_target(m);
            match result {
                MutationResult::Applied { version, .. } => {
                    if let Some(hub) = by_hub {
                        tx.execute(
                            "UPDATE outbox SET relayed_at = ?2, relayed_by = ?3, state = 'pending',
                                               error_code = NULL, last_error = NULL
                             WHERE mutation_id = ?1",
                            params![m.mutation_id.to_string(), super::sql::now(), hub],
                        )?;
                    } else {
                        tx.execute(
                            "DELETE FROM outbox WHERE mutation_id = ?1",
                            [m.mutation_id.to_string()],
                        )?;
                    }
                    // The next local edit is based on the version the server now has.
                    if let (Some(t), false) = (table(m.entity), m.op == Operation::Delete) {
                        tx.execute(
                            &format!("UPDATE {t} SET version = max(version, ?2) WHERE id = ?1"),
                            params![super::sql::id_blob(&m.entity_id), version],
                        )?;
                    }
                    outcome.applied += 1;
                }
                MutationResult::Conflict {
                    kind,
                    conflict_id,
                    message,
                    ..
                } => {
                    outbox::mark(
                        &tx,
                        m.mutation_id,
                        OutboxState::Conflict,
                        Some("conflict"),
                        message,
                        Some(*conflict_id),
                        None,
                    )?;
                    let local_value = m
                        .data
                        .clone()
                        .or_else(|| Some(Value::Object(m.changes.clone())));
                    conflicts::note_push_conflict(
                        &tx,
                        *conflict_id,
                        &NewConflict {
                            entity: m.entity,
                            entity_id: m.entity_id,
                            field: None,
                            local_value,
                            server_value: None,
                            kind: ConflictKind::from(*kind),
                        },
                    )?;
                    add_refetch(&tx, target, target_id)?;
                    outcome.conflicts += 1;
                }
                MutationResult::Rejected {
                    code,
                    message,
                    field,
                    ..
                } => {
                    let code = serde_json::to_value(code)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned));
                    outbox::mark(
                        &tx,
                        m.mutation_id,
                        OutboxState::Rejected,
                        code.as_deref(),
                        message,
                        None,
                        field.as_deref(),
                    )?;
                    // The server never had a rejected create: fetching it again would only
                    // delete the person's work from this PC before they could correct it.
                    // It stays until they resend or discard it (discarding refetches).
                    if m.op != Operation::Create {
                        add_refetch(&tx, target, target_id)?;
                    }
                    outcome.rejected += 1;
                }
            }
        }
        if let Some(seq) = reads_through {
            tx.execute("DELETE FROM local_reads WHERE seq <= ?1", [seq])?;
        }
        tx.commit()?;
        Ok(outcome)
    }

    /// Records a retryable push failure (network, server error) on every entry of a batch.
    pub fn note_push_failure(
        &mut self,
        entries: &[OutboxEntry],
        code: &str,
        error: &str,
    ) -> Result<(), PartitionError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for e in entries {
            outbox::mark(
                &tx,
                e.mutation.mutation_id,
                OutboxState::Failed,
                Some(code),
                error,
                None,
                None,
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}
