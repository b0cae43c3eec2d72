//! The clinic hub's copy of its clinic (issue 11, ARCHITECTURE.md "The clinic hub"): the
//! group server's feed (`sync::hub_feed`) written into the hub's own database, which runs
//! the same migrations, so the hub can serve the clinic's PCs from it when the internet
//! line is down.
//!
//! Rows are written as the group server stored them (ids, versions, numbers, merges,
//! tombstones), each stamped with a change of the hub's own, so the hub's pulls hand them
//! to its PCs in its own order. They are replica writes: the triggers that check a person's
//! change (signed notes stay as signed, a merge is followed, a child touches its parent)
//! decided upstream already, and a page may hold a child before its parent, so the page is
//! written with `session_replication_role = replica`, which needs the cluster's superuser:
//! the hub process owns its embedded cluster. Nothing is taken on faith, though: a page of
//! another schema, another clinic or an unknown table is refused whole, and a page commits
//! together with its cursor, so a crash never skips or half-writes one.

use std::collections::HashMap;

use chrono::Utc;
use serde_json::Value;
use tokio_postgres::Client;
use uuid::Uuid;
use vaidya_client::ServerApi;
use vaidya_shared::api::Directory;
use vaidya_shared::authorship::decode_public_key;
use vaidya_shared::sync::HubFeedPage;

use super::HubError;

/// Rows per feed page.
const PAGE: i64 = 1000;
/// How often one catch-up waits for rows held back by an older transaction upstream.
const MAX_SETTLING_WAITS: u32 = 5;
/// How often the directory is read again while the copy follows the group server: a PC
/// signed in for the first time can sign in to the hub about a minute later, and a revoked
/// key stops working there as soon. Each read is one audited access upstream (1,440 a day,
/// against the clinic's thousands of audited pulls).
const DIRECTORY_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// The hub's database, as the writer of its clinic's copy.
pub struct Replica {
    db: Client,
    clinic: Uuid,
    /// Per fed table, the statement that writes one row given as JSON.
    upserts: HashMap<String, String>,
    /// Per fed table, the statements that remove a row of the hub's own the incoming one
    /// displaces (see [`displace_sql`]).
    displaces: HashMap<String, Vec<String>>,
    /// When this process last wrote the directory, and how often it reads it again.
    directory_read: Option<std::time::Instant>,
    directory_every: std::time::Duration,
}

/// What a catch-up brought.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CatchUp {
    pub pages: usize,
    pub rows: usize,
}

impl Replica {
    /// The hub's database for `clinic`, through `db`: a superuser connection to a database
    /// migrated by this binary.
    pub async fn open(db: Client, clinic: Uuid) -> Result<Replica, HubError> {
        let mut upserts = HashMap::new();
        // Every change-stamped table, with the columns a row is written with: all but the
        // stamps (each database keeps its own) and generated ones (computed here).
        for r in db
            .query(
                "SELECT c.relname::text,
                        array_agg(a.attname::text ORDER BY a.attnum)
                          FILTER (WHERE a.attname NOT IN ('change_xid', 'change_seq')
                                    AND a.attgenerated = '')
                 FROM pg_class c
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                 WHERE n.nspname = 'vaidya' AND c.relkind = 'r'
                 GROUP BY c.relname
                 HAVING bool_or(a.attname = 'change_xid')",
                &[],
            )
            .await?
        {
            let table: String = r.get(0);
            let columns: Vec<String> = r.get(1);
            upserts.insert(table.clone(), upsert_sql(&table, &columns));
        }
        let mut displaces: HashMap<String, Vec<String>> = HashMap::new();
        for r in db
            .query(
                "SELECT c.relname::text,
                        array_agg(a.attname::text ORDER BY k.ord)
                 FROM pg_index x
                 JOIN pg_class c ON c.oid = x.indrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 CROSS JOIN LATERAL unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
                 WHERE n.nspname = 'vaidya' AND x.indisunique AND NOT x.indisprimary
                   -- An index over an expression cannot be matched column by column.
                   AND NOT (0 = ANY (x.indkey::int2[]))
                 GROUP BY c.relname, x.indexrelid",
                &[],
            )
            .await?
        {
            let table: String = r.get(0);
            let columns: Vec<String> = r.get(1);
            if upserts.contains_key(&table) {
                displaces
                    .entry(table.clone())
                    .or_default()
                    .push(displace_sql(&table, &columns));
            }
        }
        db.execute(
            "INSERT INTO vaidya.hub_replica (clinic_id, schema) VALUES ($1, $2)
             ON CONFLICT (clinic_id) DO NOTHING",
            &[&clinic, &crate::migrate::schema_version()],
        )
        .await?;
        Ok(Replica {
            db,
            clinic,
            upserts,
            displaces,
            directory_read: None,
            directory_every: DIRECTORY_EVERY,
        })
    }

    /// Reads the directory again this often (default a minute).
    pub fn with_directory_every(mut self, every: std::time::Duration) -> Replica {
        self.directory_every = every;
        self
    }

    /// Whether the directory is to be read again at the next catch-up.
    pub fn directory_due(&self) -> bool {
        self.directory_read
            .is_none_or(|at| at.elapsed() >= self.directory_every)
    }

    pub(super) fn db(&self) -> &Client {
        &self.db
    }

    pub(super) fn db_mut(&mut self) -> &mut Client {
        &mut self.db
    }

    pub fn clinic(&self) -> Uuid {
        self.clinic
    }

    /// Where the copy has reached: the sealed feed cursor of the last page applied.
    pub async fn cursor(&self) -> Result<Option<String>, HubError> {
        Ok(self
            .db
            .query_one(
                "SELECT feed_cursor FROM vaidya.hub_replica WHERE clinic_id = $1",
                &[&self.clinic],
            )
            .await?
            .get(0))
    }

    /// Writes the clinic, its people and their device keys as the directory gives them, in
    /// one transaction: whom the hub's RLS and signature checks know. `group_name` is the
    /// clinic group's name as the hub's session names it.
    pub async fn write_directory(
        &mut self,
        group_name: &str,
        directory: &Directory,
    ) -> Result<(), HubError> {
        let clinic = &directory.clinic;
        if clinic.id != self.clinic {
            return Err(HubError::FeedInvalid(format!(
                "the directory is of clinic {}",
                clinic.id
            )));
        }
        let tx = self.db.transaction().await?;
        tx.execute(
            "INSERT INTO vaidya.clinic_groups (id, name) VALUES ($1, $2)
             ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name",
            &[&clinic.group_id, &group_name],
        )
        .await?;
        tx.execute(
            "INSERT INTO vaidya.clinics (id, group_id, name, gstin, state_code, address)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (id) DO UPDATE SET group_id = EXCLUDED.group_id, name = EXCLUDED.name,
                 gstin = EXCLUDED.gstin, state_code = EXCLUDED.state_code,
                 address = EXCLUDED.address",
            &[
                &clinic.id,
                &clinic.group_id,
                &clinic.name,
                &clinic.gstin,
                &clinic.state_code,
                &clinic.address,
            ],
        )
        .await?;
        for m in &directory.members {
            if m.clinic_id != self.clinic {
                return Err(HubError::FeedInvalid(format!(
                    "the directory lists a member of clinic {}",
                    m.clinic_id
                )));
            }
            // No password here: a person signs in to the hub with their PC's device key,
            // and '!' is no hash any password matches (as for hub accounts upstream).
            tx.execute(
                "INSERT INTO vaidya.users (id, email, display_name, password_hash, kind)
                 VALUES ($1, $2, $3, '!', 'person')
                 ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email,
                     display_name = EXCLUDED.display_name",
                &[&m.user.id, &m.user.email, &m.user.display_name],
            )
            .await?;
            let registration = m.registration.as_ref();
            tx.execute(
                "INSERT INTO vaidya.memberships (id, clinic_id, user_id, role, created_at,
                     revoked_at, registration_number, qualifications)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (clinic_id, id) DO UPDATE SET role = EXCLUDED.role,
                     revoked_at = EXCLUDED.revoked_at,
                     registration_number = EXCLUDED.registration_number,
                     qualifications = EXCLUDED.qualifications",
                &[
                    &m.id,
                    &m.clinic_id,
                    &m.user.id,
                    &m.role.as_str(),
                    &m.created_at,
                    &m.revoked_at,
                    &registration.map(|r| r.number.as_str()),
                    &registration.map(|r| r.qualifications.as_str()),
                ],
            )
            .await?;
        }
        for k in &directory.device_keys {
            let key = decode_public_key(&k.public_key).ok_or_else(|| {
                HubError::FeedInvalid(format!("device key {} is not an Ed25519 key", k.key_id))
            })?;
            tx.execute(
                "INSERT INTO vaidya.device_keys (id, user_id, public_key, created_at, revoked_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (id) DO UPDATE SET revoked_at = EXCLUDED.revoked_at",
                &[
                    &k.key_id,
                    &k.user_id,
                    &key.as_slice(),
                    &k.registered_at,
                    &k.revoked_at,
                ],
            )
            .await?;
        }
        for series in &directory.invoice_series {
            // An allocation never changes upstream: kept as first written.
            tx.execute(
                "INSERT INTO vaidya.invoice_device_series
                     (clinic_id, code, partition_id, device, allocated_by, allocated_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (clinic_id, code) DO NOTHING",
                &[
                    &self.clinic,
                    &series.code,
                    &series.partition_id,
                    &series.device,
                    &series.allocated_by,
                    &series.allocated_at,
                ],
            )
            .await?;
        }
        tx.execute(
            "UPDATE vaidya.hub_replica SET directory_at = $2 WHERE clinic_id = $1",
            &[&self.clinic, &Utc::now()],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Writes one feed page and its cursor in one transaction; returns the rows written. A
    /// page of another schema, another clinic or an unknown table is refused whole.
    pub async fn apply(&mut self, page: &HubFeedPage) -> Result<usize, HubError> {
        let ours = crate::migrate::schema_version();
        if page.schema != ours {
            return Err(HubError::SchemaMismatch {
                ours: ours.to_owned(),
                theirs: page.schema.clone(),
            });
        }
        let tx = self.db.transaction().await?;
        tx.batch_execute("SET LOCAL session_replication_role = replica")
            .await?;
        for row in &page.rows {
            let upsert = self.upserts.get(&row.table).ok_or_else(|| {
                HubError::FeedInvalid(format!("no table {} is fed here", row.table))
            })?;
            let clinic = row.row.get("clinic_id").and_then(Value::as_str);
            if clinic != Some(self.clinic.to_string().as_str()) {
                return Err(HubError::FeedInvalid(format!(
                    "a row of {} is not of clinic {}",
                    row.table, self.clinic
                )));
            }
            for displace in self.displaces.get(&row.table).into_iter().flatten() {
                tx.execute(displace.as_str(), &[&row.row]).await?;
            }
            tx.execute(upsert.as_str(), &[&row.row]).await?;
        }
        tx.execute(
            "UPDATE vaidya.hub_replica SET feed_cursor = $2, fed_at = $3 WHERE clinic_id = $1",
            &[&self.clinic, &page.cursor, &Utc::now()],
        )
        .await?;
        if !page.rows.is_empty() {
            // What the notify triggers would have said: the hub's PCs pull at once.
            tx.execute(
                "SELECT pg_notify('vaidya_changes', $1)",
                &[&self.clinic.to_string()],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(page.rows.len())
    }

    /// Fetches and writes pages from the group server until none is left: the directory
    /// first when it is due (the people the rows name), then the feed from the kept cursor.
    pub async fn catch_up(
        &mut self,
        api: &ServerApi,
        group_name: &str,
    ) -> Result<CatchUp, HubError> {
        if self.directory_due() {
            let directory = api.directory(self.clinic).await?;
            self.write_directory(group_name, &directory).await?;
            self.directory_read = Some(std::time::Instant::now());
        }
        let mut done = CatchUp::default();
        let mut settling_waits = 0u32;
        loop {
            let cursor = self.cursor().await?;
            let page = api
                .hub_feed(self.clinic, cursor.as_deref(), Some(PAGE))
                .await?;
            done.rows += self.apply(&page).await?;
            done.pages += 1;
            if page.has_more {
                continue;
            }
            if page.settling && settling_waits < MAX_SETTLING_WAITS {
                // Rows wait for an older transaction upstream: shortly, not never. After a
                // few tries the next catch-up (a live event, the backstop) comes back for them.
                settling_waits += 1;
                tokio::time::sleep(std::time::Duration::from_millis(
                    50 * u64::from(settling_waits),
                ))
                .await;
                continue;
            }
            return Ok(done);
        }
    }
}

/// The statement that removes the row of `table` that holds the incoming row's (`$1`) values
/// of the unique index over `columns` under another id: a child the hub made when it took
/// in a PC's change (a prescription's item, a bill's line: their ids are made by each
/// server), now replaced by the group server's, which is the clinic's record. A partial
/// index's rows are matched by equality alone; its predicates here only leave NULLs out,
/// which equality never matches.
fn displace_sql(table: &str, columns: &[String]) -> String {
    let matched: Vec<String> = columns
        .iter()
        .map(|c| {
            let c = crate::migrate::quote_ident(c);
            format!("x.{c} = r.{c}")
        })
        .collect();
    format!(
        "DELETE FROM vaidya.{table} x
         USING jsonb_populate_record(NULL::vaidya.{table}, $1::jsonb) r
         WHERE x.id <> r.id AND {}",
        matched.join(" AND ")
    )
}

/// The statement that writes one row of `table`, given as JSON (`$1`), with the columns
/// `columns`, stamped as a change of this database.
fn upsert_sql(table: &str, columns: &[String]) -> String {
    let quoted: Vec<String> = columns
        .iter()
        .map(|c| crate::migrate::quote_ident(c))
        .collect();
    let list = quoted.join(", ");
    let excluded: Vec<String> = quoted.iter().map(|c| format!("EXCLUDED.{c}")).collect();
    format!(
        "INSERT INTO vaidya.{table} ({list}, change_xid, change_seq)
         SELECT {list}, pg_current_xact_id(), nextval('vaidya.change_seq')
         FROM jsonb_populate_record(NULL::vaidya.{table}, $1::jsonb)
         ON CONFLICT (clinic_id, id) DO UPDATE SET ({list}, change_xid, change_seq)
             = ({}, EXCLUDED.change_xid, EXCLUDED.change_seq)",
        excluded.join(", ")
    )
}
