//! The group server's feed to a clinic hub (issue 11, ARCHITECTURE.md "The clinic hub"):
//! the stored rows of every change-stamped table of the clinic, children too, in the
//! pull's commit-safe change order, for the hub to write into its own database as they are.
//!
//! A PC's pull hands out entities as the API shows them; a hub keeps the clinic's database
//! itself (numbers, merges, tombstones, signing times), so it gets the rows. Which tables is
//! read from the database (every table of `vaidya` with a `change_xid`), so a new table is
//! fed without a list to update. The hub reads under its own identity: forced RLS gives it
//! its one clinic, and every page is audited as list reads, table by table.

use axum::extract::State;
use axum::Json;
use serde_json::Value;
use uuid::Uuid;
use vaidya_shared::api::{AuditAction, Role};
use vaidya_shared::sync::{HubFeedPage, HubFeedQuery, ReplicaRow};
use vaidya_shared::ApiError;

use crate::app::App;
use crate::http::{ApiPath, ApiQuery, AppError, RequestMeta, RequestTx};
use crate::sync::cursor::Cursor;
use crate::sync::pull::{changed_after, changes_sql, cursor_key, opened, page_limit, settling};

#[utoipa::path(get, path = "/v1/clinics/{clinic_id}/hub/feed", tag = "sync", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), HubFeedQuery),
    responses((status = 200, body = HubFeedPage), (status = 403, body = ApiError),
        (status = 404, body = ApiError)))]
/// The clinic's stored rows changed after the cursor, for the clinic's hub only.
pub async fn feed(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<HubFeedQuery>,
) -> Result<Json<HubFeedPage>, AppError> {
    let limit = page_limit(q.limit)?;
    let key = cursor_key(&app).await?;
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.check_role(clinic, &[Role::Hub], "hub_feed").await?;
            let after = opened(
                key,
                clinic,
                q.cursor.as_deref(),
                "The feed cursor is not valid; start the hub's copy again.",
            )?;
            let tables = fed_tables(tx).await?;
            let names: Vec<&str> = tables.iter().map(String::as_str).collect();
            let (changed, has_more) =
                changed_after(tx, &changes_sql(&names), clinic, after, limit).await?;
            let cursor = changed.last().map(|c| c.at).unwrap_or(after);

            let mut rows: Vec<(Cursor, ReplicaRow)> = Vec::with_capacity(changed.len());
            for (index, table) in names.iter().enumerate() {
                let ids: Vec<Uuid> = changed
                    .iter()
                    .filter(|c| c.table == index)
                    .map(|c| c.id)
                    .collect();
                if ids.is_empty() {
                    continue;
                }
                let at: std::collections::HashMap<Uuid, Cursor> = changed
                    .iter()
                    .filter(|c| c.table == index)
                    .map(|c| (c.id, c.at))
                    .collect();
                let mut patients = Vec::new();
                for r in tx
                    .query(
                        &format!(
                            "SELECT id, to_jsonb(t) - 'change_xid' - 'change_seq'
                             FROM vaidya.{table} t WHERE clinic_id = $1 AND id = ANY($2)"
                        ),
                        &[&clinic, &ids],
                    )
                    .await?
                {
                    let id: Uuid = r.get(0);
                    let row: Value = r.get(1);
                    patients.extend(patient_of(table, id, &row));
                    rows.push((
                        at.get(&id).copied().unwrap_or(cursor),
                        ReplicaRow {
                            table: (*table).to_owned(),
                            row,
                        },
                    ));
                }
                tx.audit(clinic, AuditAction::List, table, &ids, &patients)
                    .await?;
            }
            rows.sort_by_key(|(at, _)| *at);
            let settling = !has_more && settling(tx, &names, clinic, cursor).await?;
            Ok(Json(HubFeedPage {
                schema: crate::migrate::schema_version().to_owned(),
                rows: rows.into_iter().map(|(_, row)| row).collect(),
                cursor: key.seal(clinic, cursor)?,
                has_more,
                settling,
            }))
        })
        .await
}

/// Every table of the schema whose rows carry change stamps, by name.
pub async fn fed_tables(tx: &RequestTx) -> Result<Vec<String>, AppError> {
    Ok(tx
        .query(
            "SELECT c.relname::text FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_attribute a ON a.attrelid = c.oid
             WHERE n.nspname = 'vaidya' AND c.relkind = 'r' AND a.attname = 'change_xid'
               AND NOT a.attisdropped
             ORDER BY 1",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// The patient a row is about, for the audit trail: the patient itself, or its `patient_id`.
fn patient_of(table: &str, id: Uuid, row: &Value) -> Option<Uuid> {
    if table == "patients" {
        return Some(id);
    }
    row.get("patient_id")?.as_str()?.parse().ok()
}
