//! Small key/value state of the sync engine: the pull cursor and the last successful sync.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::sql::ts;
use super::{ClinicPartition, PartitionError};

/// Opaque position in the server's change feed after the last stored page.
pub(crate) const PULL_CURSOR: &str = "pull_cursor";
/// When a push and pull last both completed.
const LAST_SYNCED_AT: &str = "last_synced_at";

pub(crate) fn set(conn: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO sync_state (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

fn get(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT value FROM sync_state WHERE key = ?1",
        [key],
        |row| row.get(0),
    )
    .optional()
}

impl ClinicPartition {
    pub fn pull_cursor(&self) -> Result<Option<String>, PartitionError> {
        Ok(get(&self.conn, PULL_CURSOR)?)
    }

    /// Usually set together with the pulled rows by [`ClinicPartition::apply_pulled`].
    pub fn set_pull_cursor(&mut self, cursor: &str) -> Result<(), PartitionError> {
        Ok(set(&self.conn, PULL_CURSOR, cursor)?)
    }

    pub fn last_synced_at(&self) -> Result<Option<DateTime<Utc>>, PartitionError> {
        match get(&self.conn, LAST_SYNCED_AT)? {
            None => Ok(None),
            Some(text) => DateTime::parse_from_rfc3339(&text)
                .map(|at| Some(at.with_timezone(&Utc)))
                .map_err(|e| PartitionError::InvalidRow(format!("{LAST_SYNCED_AT}: {e}"))),
        }
    }

    pub fn set_last_synced_at(&mut self, at: DateTime<Utc>) -> Result<(), PartitionError> {
        Ok(set(&self.conn, LAST_SYNCED_AT, &ts(&at))?)
    }
}
