//! What a first fill defers: the patient search index, filled in batches instead of row by
//! row, and the entity tables' lookup indexes, built once at the fill's end.
//!
//! Indexing each pulled patient as its row is written (the FTS triggers, with their prefix
//! indexes) cost a third of a first fill's apply: FTS5 writes a segment per committed page
//! and keeps merging them. During a bulk load (`ClinicPartition::set_bulk_load`) a fill
//! page's transaction sets `search_deferred`, so the insert trigger queues the new patient
//! in `search_pending`; [`ClinicPartition::index_pending_search`] then indexes everything
//! queued in one statement. The sync engine calls it after a fill's first page (search works
//! within a second on a slow line) and then every few seconds, and the end of a bulk load
//! always does, so what has arrived becomes searchable while the rest arrives. Rows written
//! outside a fill page (edits on this PC, later pulls) are indexed at once, as before.
//!
//! The lookup indexes (an appointment by doctor, day or patient, a patient by number or
//! phone …) cost the fill a random B-tree insert per row and index, and pages left half
//! full; built at the end from the finished table they are one sort each and packed full.
//! Only non-unique indexes of the entity tables (the registry's `device_table`s) are
//! deferred: unique ones are constraints, and the child tables keep the indexes by parent
//! that replacing a parent's children looks up. Their SQL is kept in `deferred_indexes`,
//! written in the same transaction as the drop, so the schema itself stays the one source.
//! While they are away the screens still work, by scanning.
//!
//! A crash mid-fill can leave patients queued or indexes dropped with no fill running;
//! opening the partition finishes both (`finish_left_over`).

use rusqlite::{Connection, TransactionBehavior};
use vaidya_shared::sync::EntityKind;

use super::{ClinicPartition, PartitionError};

/// Makes the insert trigger queue new patients instead of indexing them, until
/// [`stop_deferring`] in the same transaction.
pub(super) fn start_deferring(conn: &Connection) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO search_deferred (deferred) VALUES (1)")?
        .execute([])?;
    Ok(())
}

pub(super) fn stop_deferring(conn: &Connection) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM search_deferred")?
        .execute([])?;
    Ok(())
}

/// Indexes every queued patient (in `pk` order, as FTS5 likes its rowids) and empties the
/// queue; the number indexed.
fn index_queued(conn: &Connection) -> rusqlite::Result<usize> {
    let indexed = conn
        .prepare_cached(
            "INSERT INTO patients_fts (rowid, name, phone_search, patient_number, abha_search)
             SELECT p.pk, p.name, p.phone_search, p.patient_number, p.abha_search
             FROM search_pending AS q JOIN patients AS p ON p.pk = q.pk
             ORDER BY q.pk",
        )?
        .execute([])?;
    conn.prepare_cached("DELETE FROM search_pending")?
        .execute([])?;
    Ok(indexed)
}

fn any_queued(conn: &Connection) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM search_pending)")?
        .query_row([], |row| row.get(0))
}

fn any_index_deferred(conn: &Connection) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM deferred_indexes)")?
        .query_row([], |row| row.get(0))
}

/// The entity tables of this file (main schema) whose lookup indexes a fill defers.
fn entity_tables() -> Vec<&'static str> {
    EntityKind::ALL
        .iter()
        .filter_map(|kind| kind.spec().device_table)
        .collect()
}

impl ClinicPartition {
    /// Makes every patient written so far searchable: indexes those a first fill queued.
    /// One transaction; returns how many were indexed.
    pub fn index_pending_search(&mut self) -> Result<usize, PartitionError> {
        // The write lock first: another connection may be finishing the same work.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if !any_queued(&tx)? {
            return Ok(0);
        }
        let indexed = index_queued(&tx)?;
        tx.commit()?;
        Ok(indexed)
    }

    /// Drops the entity tables' non-unique lookup indexes for a fill, keeping their SQL;
    /// one transaction. Indexes already deferred (a fill resumed) stay so.
    pub(super) fn defer_lookup_indexes(&mut self) -> Result<(), PartitionError> {
        // The write lock first: another connection may be finishing the same work.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let tables = entity_tables();
        let indexes: Vec<(String, String)> = {
            let mut stmt = tx.prepare(
                "SELECT name, tbl_name, sql FROM main.sqlite_master
                 WHERE type = 'index' AND sql IS NOT NULL",
            )?;
            let rows = stmt.query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (name, table, sql) = row?;
                let unique = sql
                    .trim_start()
                    .to_ascii_uppercase()
                    .starts_with("CREATE UNIQUE");
                if tables.contains(&table.as_str()) && !unique {
                    out.push((name, sql));
                }
            }
            out
        };
        for (name, sql) in &indexes {
            tx.execute(
                "INSERT INTO deferred_indexes (name, sql) VALUES (?1, ?2)",
                [name, sql],
            )?;
            // The name comes from sqlite_master, quoted as an identifier.
            tx.execute_batch(&format!(
                "DROP INDEX main.\"{}\"",
                name.replace('"', "\"\"")
            ))?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Builds again the lookup indexes a fill deferred; one transaction.
    pub(super) fn build_deferred_indexes(&mut self) -> Result<(), PartitionError> {
        // The write lock first: another connection may be finishing the same work.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if !any_index_deferred(&tx)? {
            return Ok(());
        }
        let deferred: Vec<(String, String)> = {
            let mut stmt = tx.prepare("SELECT name, sql FROM deferred_indexes ORDER BY name")?;
            let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        for (name, sql) in &deferred {
            // The schema's own statement, as sqlite_master kept it.
            tx.execute_batch(sql)?;
            tx.execute("DELETE FROM deferred_indexes WHERE name = ?1", [name])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Checkpoints the clinic file and its clinical store and cuts their WAL files back to
    /// nothing, once a fill has ended: the fill's big transactions grew them, and SQLite
    /// would otherwise keep them at that size until a later write restarts each log. Disk
    /// hygiene only: a checkpoint that a reader holds back is left to that later write
    /// ([`super::WAL_SIZE_LIMIT`]), and a failure is logged, not returned.
    pub(super) fn shrink_wal_files(&self) {
        let done = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                row.get::<_, i64>(0)
            });
        match done {
            Ok(0) => {}
            Ok(_) => tracing::debug!("a reader held the WAL checkpoint back after a fill"),
            Err(err) => tracing::warn!(%err, "could not checkpoint the WAL after a fill"),
        }
    }

    /// At open: what a fill cut off by a crash left undone (queued patients, dropped
    /// indexes). Two cheap probes when there is nothing.
    pub(super) fn finish_left_over(&mut self) -> Result<(), PartitionError> {
        if any_queued(&self.conn)? {
            let indexed = self.index_pending_search()?;
            tracing::info!(
                indexed,
                "indexed patients a cut-off fill had queued for search"
            );
        }
        if any_index_deferred(&self.conn)? {
            self.build_deferred_indexes()?;
            tracing::info!("built the lookup indexes a cut-off fill had deferred");
        }
        Ok(())
    }
}
