//! The clinic (branch) record as its members see it: name, GSTIN and state for invoices.

use axum::extract::State;
use axum::Json;
use uuid::Uuid;
use vaidya_shared::api::Clinic;
use vaidya_shared::ApiError;

use crate::app::App;
use crate::http::{ApiPath, AppError, RequestMeta, RequestTx};

pub async fn load(tx: &RequestTx, clinic: Uuid) -> Result<Clinic, AppError> {
    let r = tx
        .query_opt("SELECT id, group_id, name, gstin, state_code, address FROM vaidya.clinics WHERE id = $1", &[&clinic])
        .await?
        .ok_or_else(AppError::not_found)?;
    Ok(Clinic {
        id: r.get(0),
        group_id: r.get(1),
        name: r.get(2),
        gstin: r.get(3),
        state_code: r.get(4),
        address: r.get(5),
    })
}

#[utoipa::path(get, path = "/v1/clinics/{clinic_id}", tag = "clinics", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)),
    responses((status = 200, body = Clinic), (status = 404, body = ApiError)))]
pub async fn get_clinic(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
) -> Result<Json<Clinic>, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.require_member(clinic, "clinic").await?;
            Ok(Json(load(tx, clinic).await?))
        })
        .await
}
