//! Who uses this clinic's file on this PC. A clinic PC is shared: the file (one per clinic)
//! holds the cache and the pending work of every member who signs in here, so losing one
//! member (a revoked nurse) must never wipe what the others still use.

use rusqlite::{params, OptionalExtension, Transaction};
use serde::Serialize;
use uuid::Uuid;
use vaidya_shared::api::Role;
use vaidya_shared::rules::{self, Action, Resource};
use vaidya_shared::sync::EntityKind;

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
    /// Cached rows removed because no remaining member's role may read them.
    pub rows_removed: usize,
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
        // A change the clinic hub took in is safe there: not this member's waiting work.
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT json_extract(author, '$.user_id') AS who,
                    count(*) FILTER (WHERE {STILL_TO_SEND}),
                    count(*) FILTER (WHERE state = 'rejected')
             FROM outbox WHERE ({STILL_TO_SEND}) OR state = 'rejected'
             GROUP BY who ORDER BY min(seq)",
            STILL_TO_SEND = super::outbox::STILL_TO_SEND
        ))?;
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

    /// Records that `user` opened the file on this PC, with their role in the clinic when
    /// it is known (what they may read here).
    pub fn note_member(&self, user: Uuid, role: Option<Role>) -> Result<(), PartitionError> {
        self.conn.execute(
            "INSERT INTO device_members (user_id, role, first_seen, last_seen)
             VALUES (?1, ?2, ?3, ?3)
             ON CONFLICT (user_id) DO UPDATE
             SET last_seen = excluded.last_seen, role = coalesce(excluded.role, role)",
            params![user.to_string(), role.map(Role::as_str), now()],
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

    /// Forgets `user` (no longer a member of the clinic), removes what only they could read
    /// here, and tells what the others still have. In one transaction.
    ///
    /// "Only they could read": the cached rows of every kind that no remaining member's
    /// role may read (a revoked doctor's notes on a PC the front desk keeps using), and the
    /// pull cursors that vouched for those rows, so a clinician who signs in later pulls
    /// them afresh. Rows someone's pending change touches stay (that change still has to
    /// be pushed or shown). A remaining member whose role is not recorded (they have not
    /// opened the file since roles were) counts as reading everything: nothing is removed
    /// on a guess.
    ///
    /// The forgotten member's pending changes stay: pushed by a colleague they are refused
    /// (the author is no longer a member) and wait on the Unsent changes screen for a
    /// person to discard them (audited), so nothing leaves the device unseen and a
    /// colleague's change that builds on one of them is not cut loose.
    pub fn forget_member(&mut self, user: Uuid) -> Result<Remaining, PartitionError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "DELETE FROM device_members WHERE user_id = ?1",
            [user.to_string()],
        )?;
        // What they were typing in a form goes with them.
        tx.execute(
            "DELETE FROM form_drafts WHERE user_id = ?1",
            [user.to_string()],
        )?;
        let other_members: i64 =
            tx.query_row("SELECT count(*) FROM device_members", [], |r| r.get(0))?;
        let others_pending: i64 = tx
            .query_row(
                "SELECT count(*) FROM outbox
                 WHERE author IS NULL OR json_extract(author, '$.user_id') <> ?1",
                [user.to_string()],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        let rows_removed = if other_members == 0 && others_pending == 0 {
            // The caller wipes the whole file.
            0
        } else {
            remove_unreadable(&tx)?
        };
        tx.commit()?;
        // Their wrap of the clinical store key goes; the store itself when nobody else
        // here can open it.
        self.forget_clinical_key_wrap(user)?;
        Ok(Remaining {
            other_members: other_members as usize,
            others_pending: others_pending as usize,
            rows_removed,
        })
    }
}

/// Removes the cached rows no remaining member may read (see
/// [`ClinicPartition::forget_member`]) and the pull cursors of every visibility class that
/// includes them; returns how many rows went.
fn remove_unreadable(tx: &Transaction<'_>) -> Result<usize, PartitionError> {
    let mut roles = Vec::new();
    {
        let mut stmt = tx.prepare("SELECT role FROM device_members")?;
        for role in stmt.query_map([], |r| r.get::<_, Option<String>>(0))? {
            match role?.as_deref().and_then(Role::parse) {
                Some(role) => roles.push(role),
                None => return Ok(0),
            }
        }
    }
    let unread: Vec<EntityKind> = EntityKind::ALL
        .into_iter()
        .filter(|kind| {
            let resource = Resource::from(*kind);
            kind.spec().device_table.is_some()
                && !roles.iter().any(|r| rules::may(*r, resource, Action::Read))
        })
        .collect();
    let mut removed = 0;
    for kind in &unread {
        // Table names come from the registry, never from input.
        let table = kind.spec().device_table.expect("filtered above");
        let untouched = "NOT IN (SELECT entity_id FROM outbox WHERE entity = ?1)
                         AND id NOT IN (SELECT parent_id FROM outbox WHERE parent_id IS NOT NULL)";
        removed += tx.execute(
            &format!("DELETE FROM {table} WHERE id {untouched}"),
            [kind.as_str()],
        )?;
        tx.execute(
            &format!("DELETE FROM refetch WHERE entity = ?1 AND id {untouched}"),
            [kind.as_str()],
        )?;
        // Conflicts hold the record's field values (a diagnosis) on both sides.
        tx.execute(
            &format!("DELETE FROM conflicts WHERE entity = ?1 AND entity_id {untouched}"),
            [kind.as_str()],
        )?;
    }
    if !unread.is_empty() {
        let names: Vec<&str> = unread.iter().map(|k| Resource::from(*k).as_str()).collect();
        super::sync_state::forget_cursors_reading(tx, &names)?;
    }
    Ok(removed)
}
