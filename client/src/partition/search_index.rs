//! The patient search index during a first fill: filled in batches, not row by row.
//!
//! Indexing each pulled patient as its row is written (the FTS triggers, with their prefix
//! indexes) cost a third of a first fill's apply: FTS5 writes a segment per committed page
//! and keeps merging them. During a bulk load (`ClinicPartition::set_bulk_load`) a fill
//! page's transaction sets `search_deferred`, so the insert trigger queues the new patient
//! in `search_pending` instead; [`ClinicPartition::index_pending_search`] then indexes
//! everything queued in one statement. The sync engine calls it after a fill's first page
//! (search works within a second on a slow line) and then every few seconds, and the end
//! of a bulk load always does, so what has arrived becomes searchable while the rest
//! arrives. Rows written outside a fill page (edits on this PC, later pulls) are indexed
//! at once, as before.
//!
//! A crash between a fill's pages can leave rows queued with no fill running; opening the
//! partition indexes them (`index_left_over`).

use rusqlite::Connection;

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

impl ClinicPartition {
    /// Makes every patient written so far searchable: indexes those a first fill queued.
    /// One transaction; returns how many were indexed.
    pub fn index_pending_search(&mut self) -> Result<usize, PartitionError> {
        let tx = self.conn.transaction()?;
        if !any_queued(&tx)? {
            return Ok(0);
        }
        let indexed = index_queued(&tx)?;
        tx.commit()?;
        Ok(indexed)
    }

    /// At open: patients a fill queued before a crash, when it did not come back to index
    /// them. A cheap probe when there are none.
    pub(super) fn index_left_over(&mut self) -> Result<(), PartitionError> {
        if any_queued(&self.conn)? {
            let indexed = self.index_pending_search()?;
            tracing::info!(
                indexed,
                "indexed patients a cut-off fill had queued for search"
            );
        }
        Ok(())
    }
}
