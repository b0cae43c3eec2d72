//! Pull: whole entities changed after a cursor, in commit-safe order.
//!
//! Every tenant row carries the id of the transaction that last changed it (`change_xid`)
//! and a sequence number (`change_seq`). A pull hands out only rows whose transaction is
//! older than the oldest transaction still running (`pg_snapshot_xmin`), ordered by
//! `(change_xid, change_seq)`. Any transaction that commits later has a larger xid than
//! everything already handed out, so it sorts after the cursor: no change is ever skipped,
//! however transactions interleave. A long transaction only delays pulls, never loses rows.

use axum::extract::State;
use axum::Json;
use serde_json::Value;
use uuid::Uuid;
use vaidya_shared::api::AuditAction;
use vaidya_shared::compact_pull::{CompactPullResponse, PullFormat};
use vaidya_shared::sync::{Change, EntityKind, PullQuery, PullResponse, MAX_PULL_LIMIT};
use vaidya_shared::{ApiError, ErrorCode};

use crate::app::App;
use crate::http::{ApiPath, ApiQuery, AppError, RequestMeta, RequestTx};
use crate::store::{self, Store};
use crate::sync::cursor::{Cursor, CursorKey};
use vaidya_shared::entity::Stored;
use vaidya_shared::for_each_kind;

/// The kinds whose rows pulls hand out, with their tables: every kind with a table of its
/// own in the entity registry (children travel inside their parents).
fn tables() -> &'static [(EntityKind, &'static str)] {
    static TABLES: std::sync::OnceLock<Vec<(EntityKind, &'static str)>> =
        std::sync::OnceLock::new();
    TABLES.get_or_init(|| {
        EntityKind::ALL
            .into_iter()
            .filter_map(|kind| Some((kind, kind.spec().server_table?)))
            .collect()
    })
}

/// The pull's tables by name, in the order of [`tables`].
fn table_names() -> &'static [&'static str] {
    static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| tables().iter().map(|(_, table)| *table).collect())
}

/// One position in a clinic's change feed: a row of the `table`-th table of the list the
/// query was built over, and the stamp it was changed at.
pub(super) struct Changed {
    pub table: usize,
    pub id: Uuid,
    pub at: Cursor,
}

/// A pull page in the layout the client asked for (`PullQuery::format`).
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum PullPage {
    Changes(PullResponse),
    Compact(CompactPullResponse),
}

#[utoipa::path(get, path = "/v1/clinics/{clinic_id}/sync/pull", tag = "sync", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), PullQuery),
    responses((status = 200, body = PullPage,
        description = "`PullResponse`, or `CompactPullResponse` with `format=compact`"),
        (status = 404, body = ApiError)))]
pub async fn pull(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<PullQuery>,
) -> Result<Json<PullPage>, AppError> {
    let limit = page_limit(q.limit)?;
    let key = cursor_key(&app).await?;
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.require_member(clinic, "sync").await?;
            // Another clinic's, altered or from before cursors were sealed: the device
            // starts its pull again from the beginning.
            let after = opened(
                key,
                clinic,
                q.cursor.as_deref(),
                "The sync cursor is not valid; start an initial sync.",
            )?;
            let response = page(tx, key, clinic, after, limit, q.cursor.is_none()).await?;
            Ok(Json(match q.format.unwrap_or_default() {
                PullFormat::Changes => PullPage::Changes(response),
                // Every change's data is an entity object (`store::to_json`).
                PullFormat::Compact => PullPage::Compact(
                    CompactPullResponse::from_page(clinic, response)
                        .map_err(|e| AppError::from(anyhow::anyhow!("compact pull page: {e}")))?,
                ),
            }))
        })
        .await
}

/// A page size asked for, within 1..=[`MAX_PULL_LIMIT`] (default 1000).
pub(super) fn page_limit(limit: Option<i64>) -> Result<i64, AppError> {
    let limit = limit.unwrap_or(1000);
    if !(1..=MAX_PULL_LIMIT).contains(&limit) {
        return Err(AppError::field(
            "limit",
            format!("limit must be between 1 and {MAX_PULL_LIMIT}."),
        ));
    }
    Ok(limit)
}

/// Where a feed continues: the start without a cursor, else the position `cursor` seals for
/// `clinic`, or a clear refusal (`invalid`) when it does not open.
pub(super) fn opened(
    key: &CursorKey,
    clinic: Uuid,
    cursor: Option<&str>,
    invalid: &str,
) -> Result<Cursor, AppError> {
    match cursor {
        None => Ok(Cursor::default()),
        Some(c) => key
            .open(clinic, c)
            .ok_or_else(|| AppError::client(ErrorCode::InvalidParameter, invalid)),
    }
}

/// The deployment's cursor key, read (or first stored) once per server. On a connection of
/// its own, outside any request's transaction: the key is committed before this instance
/// seals anything with it, so a request that rolls back can never leave an instance sealing
/// with a key no other instance has.
pub(super) async fn cursor_key(app: &App) -> Result<&CursorKey, AppError> {
    app.cursor_key
        .get_or_try_init(async || {
            let proposed = CursorKey::random_secret()?;
            let conn = app.pool.get().await?;
            // In a transaction of its own, so that through a transaction-mode pooler the
            // statement is prepared and run on one backend.
            conn.batch_execute("BEGIN").await?;
            let secret: Vec<u8> = conn
                .query_one("SELECT vaidya.cursor_key($1)", &[&proposed.as_slice()])
                .await?
                .get(0);
            conn.batch_execute("COMMIT").await?;
            CursorKey::new(&secret).ok_or_else(|| {
                AppError::from(anyhow::anyhow!("the stored cursor key is not a key"))
            })
        })
        .await
}

/// One page of changes after `after`, audited as list reads of what was sent; its cursor
/// sealed with `key`.
pub async fn page(
    tx: &RequestTx,
    key: &CursorKey,
    clinic: Uuid,
    after: Cursor,
    limit: i64,
    initial: bool,
) -> Result<PullResponse, AppError> {
    // RLS decides what this user may see (a front desk gets no encounters).
    let (pending, has_more) = changed_after(tx, pull_sql(), clinic, after, limit).await?;
    let cursor = pending.last().map(|p| p.at).unwrap_or(after);

    let mut changes = Vec::with_capacity(pending.len());
    let mut patient_ids = Vec::new();
    for &(entity, _) in tables() {
        let ids: Vec<Uuid> = pending
            .iter()
            .filter(|p| tables()[p.table].0 == entity)
            .map(|p| p.id)
            .collect();
        if ids.is_empty() {
            continue;
        }
        let loaded = load_entities(tx, clinic, entity, &ids).await?;
        for (id, version, deleted, patient, data) in loaded {
            patient_ids.extend(patient);
            changes.push((
                id,
                Change {
                    entity,
                    id,
                    version,
                    deleted,
                    data,
                },
            ));
        }
        tx.audit(
            clinic,
            AuditAction::List,
            entity.as_str(),
            &ids,
            &patient_ids,
        )
        .await?;
        patient_ids.clear();
    }
    // Hand out in cursor order.
    let order: std::collections::HashMap<Uuid, Cursor> =
        pending.iter().map(|p| (p.id, p.at)).collect();
    changes.sort_by_key(|(id, _)| order.get(id).copied().unwrap_or_default());
    let estimated_total = if initial {
        Some(estimate_total(tx, clinic).await?)
    } else {
        None
    };
    let settling = !has_more && settling(tx, table_names(), clinic, cursor).await?;
    Ok(PullResponse {
        changes: changes.into_iter().map(|(_, c)| c).collect(),
        cursor: key.seal(clinic, cursor)?,
        has_more,
        estimated_total,
        settling,
    })
}

/// The pull's change-feed query over every entity table, built once.
fn pull_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| changes_sql(table_names()))
}

/// The change-feed query over `tables`: one statement (one round trip), each branch an index
/// scan in change order (`<table>_changes` on clinic_id, change_xid, change_seq) that stops
/// after `$4` rows; the union's first `$4` rows in change order are then the page plus, if
/// there is one, proof that more follows. Only rows of transactions older than every one
/// still running (module doc).
pub(super) fn changes_sql(tables: &[&str]) -> String {
    let branches: Vec<String> = tables
        .iter()
        .enumerate()
        .map(|(index, table)| {
            format!(
                "(SELECT {index} AS t, id, change_xid, change_seq FROM vaidya.{table}
                  WHERE clinic_id = $1 AND (change_xid, change_seq) > ($2::text::xid8, $3)
                    AND change_xid < pg_snapshot_xmin(pg_current_snapshot())
                  ORDER BY change_xid, change_seq LIMIT $4)"
            )
        })
        .collect();
    format!(
        // Ordered by the xid8 itself (its text would sort "1000" before "999").
        "SELECT c.t, c.id, c.change_xid::text AS xid, c.change_seq FROM ({}) AS c
         ORDER BY c.change_xid, c.change_seq LIMIT $4",
        branches.join(" UNION ALL ")
    )
}

/// Up to `limit` positions after `after` in change order, by a query of [`changes_sql`], and
/// whether more follow.
pub(super) async fn changed_after(
    tx: &RequestTx,
    sql: &str,
    clinic: Uuid,
    after: Cursor,
    limit: i64,
) -> Result<(Vec<Changed>, bool), AppError> {
    let rows = tx
        .query(
            sql,
            &[&clinic, &after.xid.to_string(), &after.seq, &(limit + 1)],
        )
        .await?;
    let mut changed: Vec<Changed> = rows
        .iter()
        .map(|r| {
            let table: i32 = r.get(0);
            let xid: String = r.get(2);
            Changed {
                table: table as usize,
                id: r.get(1),
                at: Cursor {
                    xid: xid.parse().unwrap_or(0),
                    seq: r.get(3),
                },
            }
        })
        .collect();
    changed.sort_by_key(|c| c.at);
    let has_more = changed.len() as i64 > limit;
    changed.truncate(limit as usize);
    Ok((changed, has_more))
}

type Loaded = (Uuid, i64, bool, Option<Uuid>, Value);

/// Current state of entities by id, tombstones included, through the kind's own `Store`.
async fn load_entities(
    tx: &RequestTx,
    clinic: Uuid,
    entity: EntityKind,
    ids: &[Uuid],
) -> Result<Vec<Loaded>, AppError> {
    for_each_kind!(entity, E => loaded::<E>(tx, clinic, ids).await)
}

async fn loaded<E: Store>(
    tx: &RequestTx,
    clinic: Uuid,
    ids: &[Uuid],
) -> Result<Vec<Loaded>, AppError> {
    store::load_many::<E>(tx, clinic, ids)
        .await?
        .into_iter()
        .map(|l| {
            let r = &l.record;
            Ok((
                r.id(),
                r.version(),
                l.deleted,
                r.patient_id(),
                store::to_json(r)?,
            ))
        })
        .collect()
}

/// Whether changes of `tables` after `after` exist that are held back until older
/// transactions end.
pub(super) async fn settling(
    tx: &RequestTx,
    tables: &[&str],
    clinic: Uuid,
    after: Cursor,
) -> Result<bool, AppError> {
    for table in tables {
        let held: bool = tx
            .query_one(
                &format!(
                    "SELECT EXISTS (SELECT 1 FROM vaidya.{table}
                     WHERE clinic_id = $1 AND (change_xid, change_seq) > ($2::text::xid8, $3)
                       AND change_xid >= pg_snapshot_xmin(pg_current_snapshot()))"
                ),
                &[&clinic, &after.xid.to_string(), &after.seq],
            )
            .await?
            .get(0);
        if held {
            return Ok(true);
        }
    }
    Ok(false)
}

/// How many entities an initial sync will bring, for the progress bar.
async fn estimate_total(tx: &RequestTx, clinic: Uuid) -> Result<i64, AppError> {
    let mut total = 0;
    for (_, table) in tables() {
        let n: i64 = tx
            .query_one(
                &format!("SELECT count(*) FROM vaidya.{table} WHERE clinic_id = $1"),
                &[&clinic],
            )
            .await?
            .get(0);
        total += n;
    }
    Ok(total)
}
