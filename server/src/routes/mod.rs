//! REST routes under `/v1`. Each module owns one resource: its SQL, its row mapping and its
//! handlers. Every handler runs in one [`RequestTx`](crate::http::RequestTx): authorize,
//! work, audit, commit.

pub mod allergies;
pub mod appointments;
pub mod audit;
pub mod auth;
pub mod catalogue;
pub mod clinical_store;
pub mod clinics;
pub mod desktop;
pub mod device_keys;
pub mod encounters;
pub mod hubs;
pub mod invitations;
pub mod invoices;
pub mod members;
pub mod patients;
pub mod prescriptions;
pub mod reports;

use vaidya_shared::api::Page;

use uuid::Uuid;

use crate::http::{AppError, RequestTx};

/// The branches of a group the caller administers, by name: what a group-wide view (the
/// collections roll-up, the group's catalogue) may cover. Decided here: a group admin is an
/// admin of each branch, so nothing reaches a branch its caller could not open. None: the
/// group is not found, as for a stranger.
pub async fn administered_branches(
    tx: &RequestTx,
    group: Uuid,
) -> Result<Vec<vaidya_shared::api::GroupBranch>, AppError> {
    let branches: Vec<_> = tx
        .query(
            "SELECT c.id, c.name FROM vaidya.clinics c
             JOIN vaidya.memberships m ON m.clinic_id = c.id
             WHERE c.group_id = $1 AND m.user_id = vaidya.current_user_id()
               AND m.role = 'admin' AND m.revoked_at IS NULL
             ORDER BY c.name, c.id",
            &[&group],
        )
        .await?
        .iter()
        .map(|r| vaidya_shared::api::GroupBranch {
            clinic_id: r.get(0),
            name: r.get(1),
        })
        .collect();
    if branches.is_empty() {
        return Err(AppError::not_found());
    }
    Ok(branches)
}

/// An enum stored as text, read back strictly: text this build does not know (a newer
/// schema, a hand edit) is an error, never a silent default.
pub fn db_enum<T>(
    r: &tokio_postgres::Row,
    column: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, AppError> {
    let text: &str = r.try_get(column)?;
    parse(text).ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!("unknown {column} {text:?} in the database"))
    })
}

/// The server's date for the shared rules that need one (dates of birth).
pub fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

/// Validated paging: limit 1–200 (default 50), offset ≥ 0.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub limit: i64,
    pub offset: i64,
}

impl Paging {
    pub fn new(limit: Option<i64>, offset: Option<i64>) -> Result<Paging, AppError> {
        let limit = limit.unwrap_or(50);
        let offset = offset.unwrap_or(0);
        if !(1..=200).contains(&limit) {
            return Err(AppError::field("limit", "limit must be between 1 and 200."));
        }
        if !(0..=10_000_000).contains(&offset) {
            return Err(AppError::field("offset", "offset must not be negative."));
        }
        Ok(Paging { limit, offset })
    }

    /// The LIMIT to query: one more than the page, to learn whether another page follows.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }

    pub fn page<T>(&self, mut items: Vec<T>) -> Page<T> {
        let more = items.len() as i64 > self.limit;
        items.truncate(self.limit as usize);
        Page {
            items,
            next_offset: more.then_some(self.offset + self.limit),
            next_after: None,
        }
    }
}

/// A clinic file's device id as a request names it (`partition_id`): 32 lowercase hex
/// digits, else a field error.
pub fn check_partition_id(partition: &str) -> Result<(), AppError> {
    if partition.len() == 32
        && partition
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        Ok(())
    } else {
        Err(AppError::field(
            "partition_id",
            "32 lowercase hexadecimal digits.",
        ))
    }
}

/// Next value of a per-clinic counter (patient numbers, invoice series). The upsert runs
/// under the same policies as everything else.
pub async fn next_counter(tx: &RequestTx, clinic: Uuid, counter: &str) -> Result<i64, AppError> {
    Ok(tx
        .query_one(
            "INSERT INTO vaidya.clinic_counters (clinic_id, counter, value) VALUES ($1, $2, 1)
             ON CONFLICT (clinic_id, counter) DO UPDATE SET value = vaidya.clinic_counters.value + 1
             RETURNING value",
            &[&clinic, &counter],
        )
        .await?
        .get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_bounds() {
        assert!(Paging::new(Some(0), None).is_err());
        assert!(Paging::new(Some(201), None).is_err());
        assert!(Paging::new(None, Some(-1)).is_err());
        let p = Paging::new(Some(2), Some(4)).unwrap();
        let page = p.page(vec![1, 2, 3]);
        assert_eq!(page.items, vec![1, 2]);
        assert_eq!(page.next_offset, Some(6));
        assert_eq!(p.page(vec![1]).next_offset, None);
    }
}
