//! Who uses this clinic's file on this PC. A clinic PC is shared: the file (one per clinic)
//! holds the cache and the pending work of every member who signs in here, so losing one
//! member (a revoked nurse) must never wipe what the others still use.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use uuid::Uuid;

use super::sql::now;
use super::{ClinicPartition, PartitionError};

/// What is left in the file once a member is forgotten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remaining {
    /// Other members who used the file on this PC.
    pub other_members: usize,
    /// Pending changes not signed by the forgotten member (colleagues', or unsigned ones
    /// from before changes were signed, which whoever pushes vouches for).
    pub others_pending: usize,
}

impl Remaining {
    /// Nobody else needs the file: it may be wiped.
    pub fn nobody(&self) -> bool {
        self.other_members == 0 && self.others_pending == 0
    }
}

/// Changes waiting on this PC, by whose they are (the status bar's "whose work is waiting").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaitingWork {
    /// The signing author; `None` for changes made before changes were signed.
    pub author_id: Option<Uuid>,
    /// From the clinic's member list kept for offline use, when the author is on it.
    pub author_name: Option<String>,
    /// Still to push (waiting for the network or retrying).
    pub pending: i64,
    /// Refused by the server, waiting for a person on the Unsent changes screen.
    pub rejected: i64,
}

impl ClinicPartition {
    /// The display name of a member, from the member list kept for offline use.
    pub fn member_name(&self, user: Uuid) -> Result<Option<String>, PartitionError> {
        Ok(self.cached_members()?.and_then(|members| {
            members
                .into_iter()
                .find(|m| m.user.id == user)
                .map(|m| m.user.display_name)
        }))
    }

    /// Pending and rejected changes by author, oldest author first.
    pub fn waiting_work(&self) -> Result<Vec<WaitingWork>, PartitionError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT json_extract(author, '$.user_id') AS who,
                    count(*) FILTER (WHERE state IN ('pending', 'failed')),
                    count(*) FILTER (WHERE state = 'rejected')
             FROM outbox WHERE state IN ('pending', 'failed', 'rejected')
             GROUP BY who ORDER BY min(seq)",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((super::sql::opt_uuid_at(r, 0)?, r.get(1)?, r.get(2)?))
        })?;
        let counts: Vec<(Option<Uuid>, i64, i64)> = rows.collect::<Result<_, _>>()?;
        let members = if counts.is_empty() {
            None
        } else {
            self.cached_members()?
        };
        Ok(counts
            .into_iter()
            .map(|(author_id, pending, rejected)| WaitingWork {
                author_id,
                author_name: author_id.and_then(|id| {
                    members
                        .iter()
                        .flatten()
                        .find(|m| m.user.id == id)
                        .map(|m| m.user.display_name.clone())
                }),
                pending,
                rejected,
            })
            .collect())
    }

    /// Records that `user` opened the file on this PC.
    pub fn note_member(&self, user: Uuid) -> Result<(), PartitionError> {
        self.conn.execute(
            "INSERT INTO device_members (user_id, first_seen, last_seen) VALUES (?1, ?2, ?2)
             ON CONFLICT (user_id) DO UPDATE SET last_seen = excluded.last_seen",
            params![user.to_string(), now()],
        )?;
        Ok(())
    }

    /// The members who used the file on this PC.
    pub fn members(&self) -> Result<Vec<Uuid>, PartitionError> {
        let mut stmt = self
            .conn
            .prepare("SELECT user_id FROM device_members ORDER BY first_seen")?;
        let rows = stmt.query_map([], |r| super::sql::uuid_at(r, 0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Forgets `user` (no longer a member of the clinic) and tells what the others still
    /// have here. Their pending changes stay: pushed by a colleague they are refused (the
    /// author is no longer a member) and wait on the Unsent changes screen for a person to
    /// discard them, so nothing leaves the device unseen.
    pub fn forget_member(&mut self, user: Uuid) -> Result<Remaining, PartitionError> {
        self.conn.execute(
            "DELETE FROM device_members WHERE user_id = ?1",
            [user.to_string()],
        )?;
        let other_members: i64 =
            self.conn
                .query_row("SELECT count(*) FROM device_members", [], |r| r.get(0))?;
        let others_pending: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM outbox
                 WHERE author IS NULL OR json_extract(author, '$.user_id') <> ?1",
                [user.to_string()],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        Ok(Remaining {
            other_members: other_members as usize,
            others_pending: others_pending as usize,
        })
    }
}
