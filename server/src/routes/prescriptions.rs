//! Prescriptions with their items. A prescription is issued (signed) by a doctor when it is
//! created and never changes afterwards; the database refuses updates.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use tokio_postgres::Row;
use uuid::Uuid;
use vaidya_shared::api::{
    AuditAction, ClinicalQuery, NewPrescription, Page, Prescription, PrescriptionItem,
};
use vaidya_shared::ApiError;

use vaidya_shared::rules::validation::allergies_acknowledged;
use vaidya_shared::rules::{Action, Resource, Valid, Validate};

use super::{today, Paging};
use crate::app::App;
use crate::http::{ApiJson, ApiPath, ApiQuery, AppError, RequestMeta, RequestTx};
use crate::store::Store;
use vaidya_shared::entity::{kinds, Unchangeable};

pub const COLUMNS: &str =
    "id, clinic_id, patient_id, doctor_id, encounter_id, notes, acknowledged_allergies, issued_at, version";
const ENTITY: &str = "prescription";

pub fn from_row(r: &Row) -> Prescription {
    Prescription {
        id: r.get("id"),
        clinic_id: r.get("clinic_id"),
        patient_id: r.get("patient_id"),
        doctor_id: r.get("doctor_id"),
        encounter_id: r.get("encounter_id"),
        notes: r.get("notes"),
        items: Vec::new(),
        acknowledged_allergies: r.get("acknowledged_allergies"),
        issued_at: r.get("issued_at"),
        version: r.get("version"),
    }
}

/// Attach items to prescriptions with one query for the whole page.
pub async fn with_items(
    tx: &RequestTx,
    clinic: Uuid,
    mut list: Vec<Prescription>,
) -> Result<Vec<Prescription>, AppError> {
    let ids: Vec<Uuid> = list.iter().map(|p| p.id).collect();
    let rows = tx
        .query(
            "SELECT prescription_id, id, position, drug, strength, dose, frequency, duration, instructions
             FROM vaidya.prescription_items WHERE clinic_id = $1 AND prescription_id = ANY($2) AND deleted_at IS NULL
             ORDER BY prescription_id, position",
            &[&clinic, &ids],
        )
        .await?;
    for r in rows {
        let parent: Uuid = r.get(0);
        if let Some(p) = list.iter_mut().find(|p| p.id == parent) {
            p.items.push(PrescriptionItem {
                id: r.get(1),
                position: r.get(2),
                drug: r.get(3),
                strength: r.get(4),
                dose: r.get(5),
                frequency: r.get(6),
                duration: r.get(7),
                instructions: r.get(8),
            });
        }
    }
    Ok(list)
}

pub async fn load(tx: &RequestTx, clinic: Uuid, id: Uuid) -> Result<Prescription, AppError> {
    let p = tx
        .query_opt(
            &format!("SELECT {COLUMNS} FROM vaidya.prescriptions WHERE clinic_id = $1 AND id = $2 AND deleted_at IS NULL"),
            &[&clinic, &id],
        )
        .await?
        .map(|r| from_row(&r))
        .ok_or_else(AppError::not_found)?;
    Ok(with_items(tx, clinic, vec![p]).await?.remove(0))
}

#[utoipa::path(get, path = "/v1/clinics/{clinic_id}/prescriptions", tag = "prescriptions", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ClinicalQuery),
    responses((status = 200, body = Page<Prescription>), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn list(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<ClinicalQuery>,
) -> Result<Json<Page<Prescription>>, AppError> {
    let paging = Paging::new(q.limit, q.offset)?;
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Prescription, Action::Read).await?;
            let rows = tx
                .query(
                    &format!(
                        "SELECT {COLUMNS} FROM vaidya.prescriptions
                         WHERE clinic_id = $1 AND deleted_at IS NULL AND ($2::uuid IS NULL OR patient_id = $2)
                         ORDER BY issued_at DESC, id LIMIT $3 OFFSET $4"
                    ),
                    &[&clinic, &q.patient_id, &paging.fetch(), &paging.offset],
                )
                .await?;
            let mut page = paging.page(rows.iter().map(from_row).collect());
            page.items = with_items(tx, clinic, page.items).await?;
            let ids: Vec<Uuid> = page.items.iter().map(|p| p.id).collect();
            let patients: Vec<Uuid> = page.items.iter().map(|p| p.patient_id).collect();
            tx.audit(clinic, AuditAction::List, ENTITY, &ids, &patients).await?;
            Ok(Json(page))
        })
        .await
}

#[utoipa::path(get, path = "/v1/clinics/{clinic_id}/prescriptions/{id}", tag = "prescriptions", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = Prescription), (status = 404, body = ApiError)))]
pub async fn get(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath((clinic, id)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<Prescription>, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Prescription, Action::Read)
                .await?;
            let p = load(tx, clinic, id).await?;
            tx.audit(clinic, AuditAction::Read, ENTITY, &[id], &[p.patient_id])
                .await?;
            Ok(Json(p))
        })
        .await
}

#[utoipa::path(post, path = "/v1/clinics/{clinic_id}/prescriptions", tag = "prescriptions", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)), request_body = NewPrescription,
    responses((status = 201, body = Prescription), (status = 422, body = ApiError), (status = 403, body = ApiError), (status = 409, body = ApiError)))]
pub async fn create(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
    ApiJson(new): ApiJson<NewPrescription>,
) -> Result<(StatusCode, Json<Prescription>), AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Prescription, Action::Create)
                .await?;
            let new = new.validate(today())?;
            // Online, the server knows the patient's allergies as of now: the same rule as
            // the prescription pad applies. (A prescription pushed from a device was checked
            // there against what the device knew; an allergy noted elsewhere meanwhile does
            // not strand a signed legal document.)
            let allergies = super::allergies::for_patient(tx, clinic, new.patient_id).await?;
            allergies_acknowledged(&new, &allergies)?;
            let p = insert(tx, clinic, new).await?;
            tx.audit(
                clinic,
                AuditAction::Create,
                ENTITY,
                &[p.id],
                &[p.patient_id],
            )
            .await?;
            Ok((StatusCode::CREATED, Json(p)))
        })
        .await
}

/// Validate and issue a prescription with its items, signed by the current doctor.
pub async fn insert(
    tx: &RequestTx,
    clinic: Uuid,
    new: Valid<NewPrescription>,
) -> Result<Prescription, AppError> {
    let id = new.id.unwrap_or_else(Uuid::now_v7);
    tx.execute(
        "INSERT INTO vaidya.prescriptions (id, clinic_id, patient_id, doctor_id, encounter_id, notes, acknowledged_allergies, issued_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[&id, &clinic, &new.patient_id, &tx.user_id(), &new.encounter_id, &new.notes, &new.acknowledged_allergies, &tx.acted_at()],
    )
    .await?;
    for (position, item) in new.items.iter().enumerate() {
        tx.execute(
            "INSERT INTO vaidya.prescription_items (id, clinic_id, prescription_id, position, drug, strength, dose, frequency, duration, instructions)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[&Uuid::now_v7(), &clinic, &id, &(position as i32), &item.drug, &item.strength, &item.dose, &item.frequency, &item.duration, &item.instructions],
        )
        .await?;
    }
    load(tx, clinic, id).await
}

impl Store for kinds::Prescription {
    const COLUMNS: &'static str = COLUMNS;
    fn from_row(r: &Row) -> Result<Prescription, AppError> {
        Ok(from_row(r))
    }
    async fn with_children(
        tx: &RequestTx,
        clinic: Uuid,
        list: Vec<Prescription>,
    ) -> Result<Vec<Prescription>, AppError> {
        with_items(tx, clinic, list).await
    }
    async fn insert(
        tx: &RequestTx,
        clinic: Uuid,
        _parent: Option<Uuid>,
        new: Valid<NewPrescription>,
    ) -> Result<Prescription, AppError> {
        insert(tx, clinic, new).await
    }
    async fn patch(
        _tx: &RequestTx,
        _clinic: Uuid,
        _id: Uuid,
        patch: Valid<Unchangeable>,
    ) -> Result<Prescription, AppError> {
        match patch.into_inner() {}
    }
}
