//! Small key/value state of the sync engine: the pull cursor and the last successful sync.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use vaidya_shared::api::{Clinic, HubEndpoint, Member};
use vaidya_shared::numbering;

use super::sql::ts;
use super::{ClinicPartition, PartitionError};

/// Opaque position in the server's change feed after the last stored page.
pub(crate) const PULL_CURSOR: &str = "pull_cursor";
/// When a push and pull last both completed.
const LAST_SYNCED_AT: &str = "last_synced_at";

pub(crate) fn set(conn: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO sync_state (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, value])?;
    Ok(())
}

/// [`set`] into a named sync-state table (`main.sync_state` or `clinical.sync_state`, see
/// `ClinicPartition::cursor_table`; never input).
pub(crate) fn set_in(
    conn: &Connection,
    table: &str,
    key: &str,
    value: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO {table} (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value"
    ))?
    .execute(params![key, value])?;
    Ok(())
}

/// [`get`] from a named sync-state table (see [`set_in`]).
pub(crate) fn get_in(
    conn: &Connection,
    table: &str,
    key: &str,
) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        &format!("SELECT value FROM {table} WHERE key = ?1"),
        [key],
        |row| row.get(0),
    )
    .optional()
}

pub(crate) fn get(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT value FROM sync_state WHERE key = ?1",
        [key],
        |row| row.get(0),
    )
    .optional()
}

impl ClinicPartition {
    /// Who pulls with this connection: their role's visibility class names the pull cursor
    /// (`rules::permissions::visibility_class`). The file is shared by every member who
    /// signs in on the PC, and the server's RLS shows each class other rows, so one cursor
    /// for all would leave a doctor who signs in after the front desk without the older
    /// notes. Unset (tools, tests): the one cursor of a single-user file.
    pub fn set_reader(&mut self, role: vaidya_shared::api::Role) {
        self.visibility = Some(vaidya_shared::rules::permissions::visibility_class(role));
    }

    /// Pulls (and their cursors) from now on are of `source` (the clinic's hub, issue 11),
    /// or of the group server again (`None`). Each server seals cursors of its own feed: a
    /// PC keeps one per source and reader, so going from the hub to the group server and
    /// back resumes each feed where it stopped; a row met on both is written twice with the
    /// same state.
    pub fn set_source(&mut self, source: Option<&'static str>) {
        self.source = source;
    }

    /// The sync-state key of the reader's cursor (`base`: the cursor or its completeness).
    pub(crate) fn reader_key(&self, base: &str) -> String {
        let base = match self.source {
            Some(source) => format!("{base}@{source}"),
            None => base.to_owned(),
        };
        match &self.visibility {
            Some(class) => format!("{base}:{class}"),
            None => base,
        }
    }

    pub fn pull_cursor(&self) -> Result<Option<String>, PartitionError> {
        self.lagging(PULL_CURSOR)
    }

    /// Usually set together with the pulled rows by [`ClinicPartition::apply_pull_page`].
    pub fn set_pull_cursor(&mut self, cursor: &str) -> Result<(), PartitionError> {
        let tables = self.cursor_tables();
        let page = next_page(&self.conn, tables, &self.reader_key(PULL_PAGE))?;
        for table in tables {
            set_in(&self.conn, table, &self.reader_key(PULL_CURSOR), cursor)?;
            set_in(
                &self.conn,
                table,
                &self.reader_key(PULL_PAGE),
                &page.to_string(),
            )?;
        }
        Ok(())
    }

    /// Forgets the reader's cursor (the server refused it): their next pull starts from
    /// the beginning.
    pub fn forget_pull_cursor(&mut self) -> Result<(), PartitionError> {
        for table in self.cursor_tables() {
            self.conn.execute(
                &format!("DELETE FROM {table} WHERE key IN (?1, ?2, ?3)"),
                [
                    self.reader_key(PULL_CURSOR),
                    self.reader_key(PULL_COMPLETE),
                    self.reader_key(PULL_PAGE),
                ],
            )?;
        }
        Ok(())
    }

    /// The value of the reader's `base` key (cursor or completeness) in the sync-state table
    /// that is behind (see [`cursor_tables`](Self::cursor_tables)); `None` when any table
    /// has none.
    fn lagging(&self, base: &str) -> Result<Option<String>, PartitionError> {
        let (key, page_key) = (self.reader_key(base), self.reader_key(PULL_PAGE));
        let mut behind: Option<(i64, Option<String>)> = None;
        for table in self.cursor_tables() {
            let page: i64 = get_in(&self.conn, table, &page_key)?
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            let value = get_in(&self.conn, table, &key)?;
            if behind.as_ref().is_none_or(|(p, _)| page < *p) {
                behind = Some((page, value));
            }
        }
        Ok(behind.and_then(|(_, value)| value))
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

/// How far a partition's first fill has come (rows and bytes pulled, the server's estimate
/// of all rows), kept while it is under way so that a fill cut off mid-way (a dropped line,
/// the app closed) goes on counting where it stopped, and is still treated as a first fill.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InitialFill {
    pub rows: u64,
    pub bytes: u64,
    pub estimated_total: Option<i64>,
}

/// The reader's [`InitialFill`] while their first fill is under way.
const INITIAL_FILL: &str = "initial_fill";

impl ClinicPartition {
    /// The reader's first fill, while it is under way (see [`InitialFill`]).
    pub fn initial_fill(&self) -> Result<Option<InitialFill>, PartitionError> {
        self.cached_json(&self.reader_key(INITIAL_FILL))
    }

    /// Records how far the first fill has come. Written after each page's own transaction:
    /// the figures only feed the progress bar, so a crash between the two costs one page
    /// of count, never a row.
    pub fn set_initial_fill(&mut self, fill: &InitialFill) -> Result<(), PartitionError> {
        let key = self.reader_key(INITIAL_FILL);
        self.cache_json(&key, fill)
    }

    /// The first fill reached the end of the feed.
    pub fn end_initial_fill(&mut self) -> Result<(), PartitionError> {
        self.conn.execute(
            "DELETE FROM sync_state WHERE key = ?1",
            [self.reader_key(INITIAL_FILL)],
        )?;
        Ok(())
    }
}

/// "1" when the last stored pull page said `has_more = false`.
pub(crate) const PULL_COMPLETE: &str = "pull_complete";
/// The number of the last pull page a sync-state table committed (see
/// `ClinicPartition::cursor_tables`).
pub(crate) const PULL_PAGE: &str = "pull_page";

/// The number the next stored page takes: one past the furthest of `tables`.
pub(crate) fn next_page(
    conn: &Connection,
    tables: &[&str],
    page_key: &str,
) -> rusqlite::Result<i64> {
    let mut furthest = 0i64;
    for table in tables {
        let page: i64 = get_in(conn, table, page_key)?
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        furthest = furthest.max(page);
    }
    Ok(furthest + 1)
}
/// Random id of this device's copy of the partition; names its invoice series.
const DEVICE_ID: &str = "device_id";
/// The next number of this device's invoice series.
const NEXT_INVOICE_NUMBER: &str = "next_invoice_number";
/// The invoice series code the server allocated to this file (`numbering`).
const INVOICE_SERIES_CODE: &str = "invoice_series_code";

/// Forgets the pull cursors (and their completeness) of every visibility class that reads
/// one of `resources`, and the single cursor of a file without classes: the rows they
/// vouched for were removed, so the next pull of such a class starts from the beginning.
pub(crate) fn forget_cursors_reading(
    conn: &Connection,
    resources: &[&str],
) -> rusqlite::Result<()> {
    let keys: Vec<String> = conn
        .prepare(
            "SELECT key FROM sync_state WHERE key IN (?1, ?2)
             OR substr(key, 1, length(?1) + 1) = ?1 || ':'
             OR substr(key, 1, length(?2) + 1) = ?2 || ':'",
        )?
        .query_map([PULL_CURSOR, PULL_COMPLETE], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for key in keys {
        let reads_removed = match key.split_once(':') {
            Some((_, class)) => class.split(',').any(|r| resources.contains(&r)),
            None => true,
        };
        if reads_removed {
            conn.execute("DELETE FROM sync_state WHERE key = ?1", [&key])?;
        }
    }
    Ok(())
}

impl ClinicPartition {
    /// Whether the last pull reached the end of the change feed.
    pub fn pull_complete(&self) -> Result<bool, PartitionError> {
        Ok(self.lagging(PULL_COMPLETE)?.as_deref() == Some("1"))
    }

    /// This partition's device id, created on first use. It is random rather than derived
    /// from the machine, so a restored backup or a re-created partition starts a new series
    /// instead of reusing numbers another copy may already have issued.
    pub fn device_id(&mut self) -> Result<String, PartitionError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let id = match get(&tx, DEVICE_ID)? {
            Some(id) => id,
            None => {
                let id = uuid::Uuid::new_v4().simple().to_string();
                set(&tx, DEVICE_ID, &id)?;
                id
            }
        };
        tx.commit()?;
        Ok(id)
    }

    /// The series code the server allocated to this file (`D3`), once it has.
    pub fn invoice_series_code(&self) -> Result<Option<String>, PartitionError> {
        Ok(get(&self.conn, INVOICE_SERIES_CODE)?)
    }

    /// Keeps the series code the server allocated to this file. It never changes: a file
    /// that already has one keeps it, and a different code is refused.
    pub fn set_invoice_series_code(&mut self, code: &str) -> Result<(), PartitionError> {
        match self.invoice_series_code()? {
            Some(kept) if kept == code => Ok(()),
            Some(kept) => Err(PartitionError::InvalidPulled(format!(
                "the server named series code {code}, but this file numbers under {kept}"
            ))),
            None if numbering::is_device_code(code) => {
                Ok(set(&self.conn, INVOICE_SERIES_CODE, code)?)
            }
            None => Err(PartitionError::InvalidPulled(format!(
                "{code} is not a device series code"
            ))),
        }
    }

    /// This device's GST invoice series for an invoice issued at `at`: its allocated code
    /// in the financial year of `at` (`2526-D3`), or, before the server allocated one (a
    /// file from an older version that has not been online since), its old series of `D`
    /// and six hex digits of the device id, without a year.
    pub fn invoice_series_at(&mut self, at: DateTime<Utc>) -> Result<String, PartitionError> {
        if let Some(code) = self.invoice_series_code()? {
            return Ok(numbering::device_series(
                numbering::Document::Invoice,
                &code,
                at,
            ));
        }
        let id = self.device_id()?;
        Ok(format!("D{}", id[..6].to_uppercase()))
    }

    /// This device's series for an invoice issued now.
    pub fn invoice_series(&mut self) -> Result<String, PartitionError> {
        self.invoice_series_at(Utc::now())
    }

    /// Takes the next number of `series`. Runs in the caller's transaction, so a number is
    /// used only when the invoice that carries it is stored: consecutive, no gaps. Each
    /// series of a year starts at 1.
    pub(crate) fn take_invoice_number(
        conn: &Connection,
        series: &str,
    ) -> Result<i64, PartitionError> {
        // The old series (no year) kept its counter under the bare key.
        let key = match numbering::Series::parse(series).year() {
            Some(_) => format!("{NEXT_INVOICE_NUMBER}:{series}"),
            None => NEXT_INVOICE_NUMBER.to_owned(),
        };
        let next = match get(conn, &key)? {
            Some(text) => text
                .parse::<i64>()
                .map_err(|e| PartitionError::InvalidRow(format!("{key}: {e}")))?,
            None => 1,
        };
        set(conn, &key, &(next + 1).to_string())?;
        Ok(next)
    }
}

/// The clinic's members as last fetched online (JSON): the doctor picker works offline.
const MEMBERS: &str = "members";
/// The clinic's details as last fetched online (JSON): GSTIN and state code for invoices.
const CLINIC: &str = "clinic";
/// The clinic's hubs as last fetched online (JSON).
const HUB_ENDPOINTS: &str = "hub_endpoints";

impl ClinicPartition {
    fn cached_json<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, PartitionError> {
        match get(&self.conn, key)? {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| PartitionError::InvalidRow(format!("{key}: {e}"))),
        }
    }

    fn cache_json(
        &mut self,
        key: &str,
        value: &impl serde::Serialize,
    ) -> Result<(), PartitionError> {
        let text = serde_json::to_string(value)
            .map_err(|e| PartitionError::InvalidRow(format!("{key}: {e}")))?;
        Ok(set(&self.conn, key, &text)?)
    }

    /// The clinic's hubs as the group server last gave them (addresses, pinned
    /// certificates): how this PC finds the hub when the group server cannot be reached.
    pub fn hub_endpoints(&self) -> Result<Vec<HubEndpoint>, PartitionError> {
        Ok(self.cached_json(HUB_ENDPOINTS)?.unwrap_or_default())
    }

    pub fn set_hub_endpoints(&mut self, endpoints: &[HubEndpoint]) -> Result<(), PartitionError> {
        self.cache_json(HUB_ENDPOINTS, &endpoints)
    }

    /// The member list last fetched from the server; `None` before the first fetch.
    pub fn cached_members(&self) -> Result<Option<Vec<Member>>, PartitionError> {
        self.cached_json(MEMBERS)
    }

    /// Keeps the member list for offline use (replacing the previous one). Members of
    /// another clinic are refused.
    pub fn set_cached_members(&mut self, members: &[Member]) -> Result<(), PartitionError> {
        for m in members {
            self.check_clinic(m.clinic_id)?;
        }
        self.cache_json(MEMBERS, &members)
    }

    /// The clinic's details last fetched from the server; `None` before the first fetch.
    pub fn cached_clinic(&self) -> Result<Option<Clinic>, PartitionError> {
        self.cached_json(CLINIC)
    }

    pub fn set_cached_clinic(&mut self, clinic: &Clinic) -> Result<(), PartitionError> {
        self.check_clinic(clinic.id)?;
        self.cache_json(CLINIC, clinic)
    }
}
