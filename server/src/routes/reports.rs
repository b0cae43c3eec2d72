//! Reports computed on the server under the same forced RLS as everything else: a branch's
//! figures reach only its members whose role may read payments.

use axum::extract::State;
use axum::Json;
use chrono::{NaiveDate, TimeDelta};
use uuid::Uuid;
use vaidya_shared::api::{AuditAction, CollectionsQuery, CollectionsReport, PaymentMethod};
use vaidya_shared::rules::clock::india_day_start;
use vaidya_shared::rules::{Action, Resource, Validate};
use vaidya_shared::ApiError;

use super::{db_enum, today};
use crate::app::App;
use crate::http::{ApiPath, ApiQuery, AppError, RequestMeta, RequestTx};

#[utoipa::path(get, path = "/v1/clinics/{clinic_id}/reports/collections", tag = "reports", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), CollectionsQuery),
    responses((status = 200, body = CollectionsReport),
        (status = 400, description = "`invalid_parameter`: a day is not a date (YYYY-MM-DD)", body = ApiError),
        (status = 401, body = ApiError),
        (status = 403, description = "`forbidden`: the member's role may not read payments", body = ApiError),
        (status = 404, description = "`not_found`: not a member of this clinic", body = ApiError),
        (status = 422, description = "`invalid_field`: the last day is before the first, or the period is longer than a year", body = ApiError)))]
/// What the clinic collected per day (India time) and payment mode, both ends of the period
/// included. Audited as an export of the clinic's payments.
pub async fn collections(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<CollectionsQuery>,
) -> Result<Json<CollectionsReport>, AppError> {
    let q = q.validate(today())?.into_inner();
    let (start, end) = (
        india_day_start(q.from),
        india_day_start(q.to) + TimeDelta::days(1),
    );
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Payment, Action::Read)
                .await?;
            let rows = tx
                .query(
                    "SELECT (received_at AT TIME ZONE 'Asia/Kolkata')::date AS day, method,
                            count(*) AS payments, sum(amount_paise)::bigint AS amount
                     FROM vaidya.payments
                     WHERE clinic_id = $1 AND deleted_at IS NULL
                       AND received_at >= $2 AND received_at < $3
                     GROUP BY 1, 2 ORDER BY 1, 2",
                    &[&clinic, &start, &end],
                )
                .await?;
            let sums = rows
                .iter()
                .map(|r| {
                    Ok((
                        r.get::<_, NaiveDate>("day"),
                        db_enum(r, "method", PaymentMethod::parse)?,
                        r.get::<_, i64>("payments"),
                        r.get::<_, i64>("amount"),
                    ))
                })
                .collect::<Result<Vec<_>, AppError>>()?;
            tx.audit(clinic, AuditAction::Export, "collections_report", &[], &[])
                .await?;
            Ok(Json(CollectionsReport::from_sums(clinic, &q, sums)))
        })
        .await
}
