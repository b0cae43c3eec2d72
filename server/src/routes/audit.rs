//! The audit trail as clinic admins read it, with filters ("who viewed this patient").
//! Reading the trail is itself audited (as an export of audit entries).

use axum::extract::State;
use axum::Json;
use uuid::Uuid;
use vaidya_shared::api::{AuditAction, AuditEntry, AuditQuery, Page};
use vaidya_shared::ApiError;

use vaidya_shared::rules::{Action, Resource};

use super::Paging;
use crate::app::App;
use crate::http::{ApiPath, ApiQuery, AppError, RequestMeta, RequestTx};

#[utoipa::path(get, path = "/v1/clinics/{clinic_id}/audit", tag = "audit", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), AuditQuery),
    responses((status = 200, body = Page<AuditEntry>), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn list(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<Page<AuditEntry>>, AppError> {
    let paging = Paging::new(q.limit, q.offset)?;
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::AuditLog, Action::Read).await?;
            let rows = tx
                .query(
                    "SELECT seq, clinic_id, actor_id, action, entity_type, entity_ids, patient_ids, device, request_id, at, occurred_at
                     FROM vaidya.audit_log
                     WHERE clinic_id = $1
                       AND ($2::uuid IS NULL OR patient_ids @> ARRAY[$2::uuid])
                       AND ($3::uuid IS NULL OR actor_id = $3)
                       AND ($4::text IS NULL OR action = $4)
                       AND ($5::timestamptz IS NULL OR at >= $5)
                       AND ($6::timestamptz IS NULL OR at < $6)
                     ORDER BY seq DESC LIMIT $7 OFFSET $8",
                    &[&clinic, &q.patient_id, &q.user_id, &q.action.map(AuditAction::as_str), &q.from, &q.to, &paging.fetch(), &paging.offset],
                )
                .await?;
            let entries = rows
                .iter()
                .map(|r| -> Result<AuditEntry, AppError> { Ok(AuditEntry {
                    seq: r.get(0),
                    clinic_id: r.get(1),
                    actor_id: r.get(2),
                    action: super::db_enum(r, "action", AuditAction::parse)?,
                    entity_type: r.get(4),
                    entity_ids: r.get(5),
                    patient_ids: r.get(6),
                    device: r.get(7),
                    request_id: r.get(8),
                    at: r.get(9),
                    occurred_at: r.get(10),
                })})
                .collect::<Result<Vec<_>, _>>()?;
            let page = paging.page(entries);
            tx.audit(clinic, AuditAction::Export, "audit_log", &[], &q.patient_id.into_iter().collect::<Vec<_>>()).await?;
            Ok(Json(page))
        })
        .await
}
