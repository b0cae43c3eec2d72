//! Allergies: noted by clinicians (doctors and nurses), seen by every member of the clinic.
//! Every read is audited with the patient it concerns.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use tokio_postgres::Row;
use uuid::Uuid;
use vaidya_shared::api::{
    Allergy, AllergyPatch, AllergySeverity, AllergyStatus, AuditAction, NewAllergy,
};
use vaidya_shared::rules::{Action, Resource, Valid, Validate};
use vaidya_shared::{ApiError, ErrorCode};

use super::today;
use crate::app::App;
use crate::http::{ApiJson, ApiPath, AppError, RequestMeta, RequestTx};
use crate::store::Store;
use vaidya_shared::entity::kinds;

pub const COLUMNS: &str = "id, clinic_id, patient_id, substance, reaction, severity, status, noted_by, version, created_at, updated_at";
const ENTITY: &str = "allergy";

/// A row as the API shows it. Enum text the code does not know is an error, never a
/// silent default: a newer schema than this server must not be misread.
pub fn from_row(r: &Row) -> Result<Allergy, AppError> {
    let severity: &str = r.get("severity");
    let status: &str = r.get("status");
    Ok(Allergy {
        id: r.get("id"),
        clinic_id: r.get("clinic_id"),
        patient_id: r.get("patient_id"),
        substance: r.get("substance"),
        reaction: r.get("reaction"),
        severity: AllergySeverity::parse(severity)
            .ok_or_else(|| anyhow::anyhow!("unknown allergy severity {severity:?}"))?,
        status: AllergyStatus::parse(status)
            .ok_or_else(|| anyhow::anyhow!("unknown allergy status {status:?}"))?,
        noted_by: r.get("noted_by"),
        version: r.get("version"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
    })
}

pub async fn load(tx: &RequestTx, clinic: Uuid, id: Uuid) -> Result<Allergy, AppError> {
    let row = tx
        .query_opt(
            &format!("SELECT {COLUMNS} FROM vaidya.allergies WHERE clinic_id = $1 AND id = $2 AND deleted_at IS NULL"),
            &[&clinic, &id],
        )
        .await?
        .ok_or_else(AppError::not_found)?;
    from_row(&row)
}

#[utoipa::path(get, path = "/v1/clinics/{clinic_id}/patients/{patient_id}/allergies", tag = "allergies", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("patient_id" = Uuid, Path)),
    responses((status = 200, body = Vec<Allergy>), (status = 404, body = ApiError)))]
pub async fn list(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath((clinic, patient)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<Vec<Allergy>>, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Allergy, Action::Read)
                .await?;
            let list = for_patient(tx, clinic, patient).await?;
            let ids: Vec<Uuid> = list.iter().map(|a| a.id).collect();
            tx.audit(clinic, AuditAction::List, ENTITY, &ids, &[patient])
                .await?;
            Ok(Json(list))
        })
        .await
}

#[utoipa::path(get, path = "/v1/clinics/{clinic_id}/allergies/{id}", tag = "allergies", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = Allergy), (status = 404, body = ApiError)))]
pub async fn get(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath((clinic, id)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<Allergy>, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Allergy, Action::Read)
                .await?;
            let a = load(tx, clinic, id).await?;
            tx.audit(clinic, AuditAction::Read, ENTITY, &[a.id], &[a.patient_id])
                .await?;
            Ok(Json(a))
        })
        .await
}

#[utoipa::path(post, path = "/v1/clinics/{clinic_id}/allergies", tag = "allergies", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)), request_body = NewAllergy,
    responses((status = 201, body = Allergy), (status = 403, body = ApiError), (status = 422, body = ApiError), (status = 409, body = ApiError)))]
pub async fn create(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
    ApiJson(new): ApiJson<NewAllergy>,
) -> Result<(StatusCode, Json<Allergy>), AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Allergy, Action::Create)
                .await?;
            let a = insert(tx, clinic, new.validate(today())?).await?;
            tx.audit(
                clinic,
                AuditAction::Create,
                ENTITY,
                &[a.id],
                &[a.patient_id],
            )
            .await?;
            Ok((StatusCode::CREATED, Json(a)))
        })
        .await
}

/// Record an allergy noted by the current clinician.
pub async fn insert(
    tx: &RequestTx,
    clinic: Uuid,
    new: Valid<NewAllergy>,
) -> Result<Allergy, AppError> {
    let id = new.id.unwrap_or_else(Uuid::now_v7);
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO vaidya.allergies (id, clinic_id, patient_id, substance, reaction, severity, status, noted_by)
                 VALUES ($1, $2, $3, $4, $5, $6, 'active', $7) RETURNING {COLUMNS}"
            ),
            &[&id, &clinic, &new.patient_id, &new.substance, &new.reaction, &new.severity.as_str(), &tx.user_id()],
        )
        .await?;
    from_row(&row)
}

#[utoipa::path(patch, path = "/v1/clinics/{clinic_id}/allergies/{id}", tag = "allergies", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("id" = Uuid, Path)), request_body = AllergyPatch,
    responses((status = 200, body = Allergy), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn update(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath((clinic, id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(patch): ApiJson<AllergyPatch>,
) -> Result<Json<Allergy>, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Allergy, Action::Update)
                .await?;
            let a = apply_patch(tx, clinic, id, patch.validate(today())?).await?;
            tx.audit(clinic, AuditAction::Update, ENTITY, &[id], &[a.patient_id])
                .await?;
            Ok(Json(a))
        })
        .await
}

/// Change what is known of an allergy (or mark it inactive). With `base_version`, a row
/// changed since is a conflict.
pub async fn apply_patch(
    tx: &RequestTx,
    clinic: Uuid,
    id: Uuid,
    patch: Valid<AllergyPatch>,
) -> Result<Allergy, AppError> {
    let row = tx
        .query_opt(
            &format!(
                "UPDATE vaidya.allergies SET substance = coalesce($3, substance), reaction = coalesce($4, reaction),
                        severity = coalesce($5, severity), status = coalesce($6, status)
                 WHERE clinic_id = $1 AND id = $2 AND deleted_at IS NULL
                   AND ($7::bigint IS NULL OR version = $7)
                 RETURNING {COLUMNS}"
            ),
            &[
                &clinic,
                &id,
                &patch.substance,
                &patch.reaction,
                &patch.severity.map(AllergySeverity::as_str),
                &patch.status.map(AllergyStatus::as_str),
                &patch.base_version,
            ],
        )
        .await?;
    match row {
        Some(row) => from_row(&row),
        None => {
            load(tx, clinic, id).await?; // 404 when missing
            Err(AppError::client(
                ErrorCode::VersionConflict,
                "The allergy was changed by someone else; reload and try again.",
            ))
        }
    }
}

/// The patient's allergies (active and inactive) in the order they were noted: the list
/// endpoint and the prescribing check.
pub async fn for_patient(
    tx: &RequestTx,
    clinic: Uuid,
    patient: Uuid,
) -> Result<Vec<Allergy>, AppError> {
    tx.query(
        &format!("SELECT {COLUMNS} FROM vaidya.allergies WHERE clinic_id = $1 AND patient_id = $2 AND deleted_at IS NULL ORDER BY created_at, id"),
        &[&clinic, &patient],
    )
    .await?
    .iter()
    .map(from_row)
    .collect()
}

impl Store for kinds::Allergy {
    const COLUMNS: &'static str = COLUMNS;
    fn from_row(r: &Row) -> Result<Allergy, AppError> {
        from_row(r)
    }
    async fn insert(
        tx: &RequestTx,
        clinic: Uuid,
        _parent: Option<Uuid>,
        new: Valid<NewAllergy>,
    ) -> Result<Allergy, AppError> {
        insert(tx, clinic, new).await
    }
    async fn patch(
        tx: &RequestTx,
        clinic: Uuid,
        id: Uuid,
        patch: Valid<AllergyPatch>,
    ) -> Result<Allergy, AppError> {
        apply_patch(tx, clinic, id, patch).await
    }
}
