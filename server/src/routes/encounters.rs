//! Encounters: clinical notes and vitals, for clinicians only. A signed note is immutable
//! (the database refuses the update); corrections are addenda.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use tokio_postgres::Row;
use uuid::Uuid;
use vaidya_shared::api::{
    Addendum, AuditAction, ClinicalQuery, Encounter, EncounterPatch, NewAddendum, NewEncounter,
    Page,
};
use vaidya_shared::{ApiError, ErrorCode};

use vaidya_shared::rules::validation::{addendum_allowed, note_editable, note_signable};
use vaidya_shared::rules::{Action, Resource, Valid, Validate};

use super::{today, Paging};
use crate::app::App;
use crate::http::{ApiJson, ApiPath, ApiQuery, AppError, RequestMeta, RequestTx};
use crate::store::Store;
use vaidya_shared::entity::{kinds, Unchangeable};
use vaidya_shared::sync::EntityKind;

pub const COLUMNS: &str = "id, clinic_id, patient_id, doctor_id, appointment_id, chief_complaint, notes, diagnosis, vitals, signed_at, signed_by, version, created_at, updated_at";
const ENTITY: &str = "encounter";

pub fn from_row(r: &Row) -> Encounter {
    let vitals: serde_json::Value = r.get("vitals");
    Encounter {
        id: r.get("id"),
        clinic_id: r.get("clinic_id"),
        patient_id: r.get("patient_id"),
        doctor_id: r.get("doctor_id"),
        appointment_id: r.get("appointment_id"),
        chief_complaint: r.get("chief_complaint"),
        notes: r.get("notes"),
        diagnosis: r.get("diagnosis"),
        vitals: serde_json::from_value(vitals).unwrap_or_default(),
        signed_at: r.get("signed_at"),
        signed_by: r.get("signed_by"),
        addenda: Vec::new(),
        version: r.get("version"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
    }
}

/// Attach addenda to encounters with one query for the whole list.
pub async fn with_addenda(
    tx: &RequestTx,
    clinic: Uuid,
    mut list: Vec<Encounter>,
) -> Result<Vec<Encounter>, AppError> {
    let ids: Vec<Uuid> = list.iter().map(|e| e.id).collect();
    let rows = tx
        .query(
            "SELECT id, encounter_id, author_id, text, created_at FROM vaidya.encounter_addenda
             WHERE clinic_id = $1 AND encounter_id = ANY($2) AND deleted_at IS NULL ORDER BY created_at, id",
            &[&clinic, &ids],
        )
        .await?;
    for r in rows {
        let a = Addendum {
            id: r.get(0),
            encounter_id: r.get(1),
            author_id: r.get(2),
            text: r.get(3),
            created_at: r.get(4),
        };
        if let Some(e) = list.iter_mut().find(|e| e.id == a.encounter_id) {
            e.addenda.push(a);
        }
    }
    Ok(list)
}

pub async fn load(tx: &RequestTx, clinic: Uuid, id: Uuid) -> Result<Encounter, AppError> {
    let mut e = tx
        .query_opt(
            &format!("SELECT {COLUMNS} FROM vaidya.encounters WHERE clinic_id = $1 AND id = $2 AND deleted_at IS NULL"),
            &[&clinic, &id],
        )
        .await?
        .map(|r| from_row(&r))
        .ok_or_else(AppError::not_found)?;
    e.addenda = tx
        .query(
            "SELECT id, encounter_id, author_id, text, created_at FROM vaidya.encounter_addenda
             WHERE clinic_id = $1 AND encounter_id = $2 AND deleted_at IS NULL ORDER BY created_at, id",
            &[&clinic, &id],
        )
        .await?
        .iter()
        .map(|r| Addendum { id: r.get(0), encounter_id: r.get(1), author_id: r.get(2), text: r.get(3), created_at: r.get(4) })
        .collect();
    Ok(e)
}

#[utoipa::path(get, path = "/v1/clinics/{clinic_id}/encounters", tag = "encounters", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ClinicalQuery),
    responses((status = 200, body = Page<Encounter>), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn list(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<ClinicalQuery>,
) -> Result<Json<Page<Encounter>>, AppError> {
    let paging = Paging::new(q.limit, q.offset)?;
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Encounter, Action::Read).await?;
            let rows = tx
                .query(
                    &format!(
                        "SELECT {COLUMNS} FROM vaidya.encounters
                         WHERE clinic_id = $1 AND deleted_at IS NULL AND ($2::uuid IS NULL OR patient_id = $2)
                         ORDER BY created_at DESC, id LIMIT $3 OFFSET $4"
                    ),
                    &[&clinic, &q.patient_id, &paging.fetch(), &paging.offset],
                )
                .await?;
            let page = paging.page(rows.iter().map(from_row).collect());
            let ids: Vec<Uuid> = page.items.iter().map(|e| e.id).collect();
            let patients: Vec<Uuid> = page.items.iter().map(|e| e.patient_id).collect();
            tx.audit(clinic, AuditAction::List, ENTITY, &ids, &patients).await?;
            Ok(Json(page))
        })
        .await
}

#[utoipa::path(get, path = "/v1/clinics/{clinic_id}/encounters/{id}", tag = "encounters", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = Encounter), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn get(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath((clinic, id)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<Encounter>, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Encounter, Action::Read)
                .await?;
            let e = load(tx, clinic, id).await?;
            tx.audit(clinic, AuditAction::Read, ENTITY, &[id], &[e.patient_id])
                .await?;
            Ok(Json(e))
        })
        .await
}

#[utoipa::path(post, path = "/v1/clinics/{clinic_id}/encounters", tag = "encounters", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)), request_body = NewEncounter,
    responses((status = 201, body = Encounter), (status = 422, body = ApiError), (status = 409, body = ApiError)))]
pub async fn create(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
    ApiJson(new): ApiJson<NewEncounter>,
) -> Result<(StatusCode, Json<Encounter>), AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Encounter, Action::Create)
                .await?;
            let e = insert(tx, clinic, new.validate(today())?).await?;
            tx.audit(
                clinic,
                AuditAction::Create,
                ENTITY,
                &[e.id],
                &[e.patient_id],
            )
            .await?;
            Ok((StatusCode::CREATED, Json(e)))
        })
        .await
}

/// Validate and open an encounter by the current clinician.
pub async fn insert(
    tx: &RequestTx,
    clinic: Uuid,
    new: Valid<NewEncounter>,
) -> Result<Encounter, AppError> {
    let vitals = serde_json::to_value(&new.vitals).map_err(|e| AppError::Internal(e.into()))?;
    let id = new.id.unwrap_or_else(Uuid::now_v7);
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO vaidya.encounters (id, clinic_id, patient_id, doctor_id, appointment_id, chief_complaint, notes, diagnosis, vitals)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {COLUMNS}"
            ),
            &[&id, &clinic, &new.patient_id, &tx.user_id(), &new.appointment_id, &new.chief_complaint, &new.notes, &new.diagnosis, &vitals],
        )
        .await?;
    Ok(from_row(&row))
}

#[utoipa::path(patch, path = "/v1/clinics/{clinic_id}/encounters/{id}", tag = "encounters", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("id" = Uuid, Path)), request_body = EncounterPatch,
    responses((status = 200, body = Encounter), (status = 409, body = ApiError), (status = 404, body = ApiError)))]
pub async fn update(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath((clinic, id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(patch): ApiJson<EncounterPatch>,
) -> Result<Json<Encounter>, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Encounter, Action::Update)
                .await?;
            let e = apply_patch(tx, clinic, id, patch.validate(today())?).await?;
            tx.audit(clinic, AuditAction::Update, ENTITY, &[id], &[e.patient_id])
                .await?;
            Ok(Json(e))
        })
        .await
}

/// Edit an unsigned note. A signed note refuses with `invalid_state`.
pub async fn apply_patch(
    tx: &RequestTx,
    clinic: Uuid,
    id: Uuid,
    patch: Valid<EncounterPatch>,
) -> Result<Encounter, AppError> {
    let vitals = patch
        .vitals
        .as_ref()
        .map(serde_json::to_value)
        .transpose()
        .map_err(|e| AppError::Internal(e.into()))?;
    let current = load(tx, clinic, id).await?;
    note_editable(current.signed_at)?;
    tx.query_opt(
        "UPDATE vaidya.encounters SET chief_complaint = coalesce($3, chief_complaint),
                    notes = coalesce($4, notes), diagnosis = coalesce($5, diagnosis), vitals = coalesce($6, vitals)
             WHERE clinic_id = $1 AND id = $2 AND version = $7 RETURNING id",
        &[&clinic, &id, &patch.chief_complaint, &patch.notes, &patch.diagnosis, &vitals, &patch.base_version.unwrap_or(current.version)],
    )
    .await?
    .ok_or_else(|| AppError::client(ErrorCode::VersionConflict, "The note was changed by someone else; reload and try again."))?;
    load(tx, clinic, id).await
}

#[utoipa::path(post, path = "/v1/clinics/{clinic_id}/encounters/{id}/sign", tag = "encounters", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = Encounter), (status = 409, body = ApiError), (status = 403, body = ApiError)))]
pub async fn sign(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath((clinic, id)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<Encounter>, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Encounter, Action::Sign)
                .await?;
            note_signable(load(tx, clinic, id).await?.signed_at)?;
            let e = sign_note(tx, clinic, id).await?;
            tx.audit(clinic, AuditAction::Update, ENTITY, &[id], &[e.patient_id])
                .await?;
            Ok(Json(e))
        })
        .await
}

/// Sign a note as the current doctor, dated `tx.acted_at()`; signing a signed note changes
/// nothing.
pub async fn sign_note(tx: &RequestTx, clinic: Uuid, id: Uuid) -> Result<Encounter, AppError> {
    // Signed when the doctor signed (offline: the device's bounded time); received now.
    tx.execute(
        "UPDATE vaidya.encounters SET signed_at = $4, signed_by = $3, sign_recorded_at = now()
         WHERE clinic_id = $1 AND id = $2 AND signed_at IS NULL",
        &[&clinic, &id, &tx.user_id(), &tx.acted_at()],
    )
    .await?;
    load(tx, clinic, id).await
}

#[utoipa::path(post, path = "/v1/clinics/{clinic_id}/encounters/{id}/addenda", tag = "encounters", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("id" = Uuid, Path)), request_body = NewAddendum,
    responses((status = 201, body = Encounter), (status = 409, body = ApiError)))]
pub async fn add_addendum(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath((clinic, id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(new): ApiJson<NewAddendum>,
) -> Result<(StatusCode, Json<Encounter>), AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Addendum, Action::Create)
                .await?;
            let (addendum_id, e) = insert_addendum(tx, clinic, id, new.validate(today())?).await?;
            tx.audit(
                clinic,
                AuditAction::Create,
                "encounter_addendum",
                &[addendum_id, id],
                &[e.patient_id],
            )
            .await?;
            Ok((StatusCode::CREATED, Json(e)))
        })
        .await
}

/// Add an addendum to a signed note; returns its id and the encounter.
pub async fn insert_addendum(
    tx: &RequestTx,
    clinic: Uuid,
    encounter: Uuid,
    new: Valid<NewAddendum>,
) -> Result<(Uuid, Encounter), AppError> {
    let addendum_id = new.id.unwrap_or_else(Uuid::now_v7);
    addendum_allowed(load(tx, clinic, encounter).await?.signed_at)?;
    tx.execute(
        "INSERT INTO vaidya.encounter_addenda (id, clinic_id, encounter_id, author_id, text) VALUES ($1, $2, $3, $4, $5)",
        &[&addendum_id, &clinic, &encounter, &tx.user_id(), &new.text],
    )
    .await?;
    Ok((addendum_id, load(tx, clinic, encounter).await?))
}

impl Store for kinds::Encounter {
    const COLUMNS: &'static str = COLUMNS;
    fn from_row(r: &Row) -> Result<Encounter, AppError> {
        Ok(from_row(r))
    }
    async fn with_children(
        tx: &RequestTx,
        clinic: Uuid,
        list: Vec<Encounter>,
    ) -> Result<Vec<Encounter>, AppError> {
        with_addenda(tx, clinic, list).await
    }
    async fn insert(
        tx: &RequestTx,
        clinic: Uuid,
        _parent: Option<Uuid>,
        new: Valid<NewEncounter>,
    ) -> Result<Encounter, AppError> {
        insert(tx, clinic, new).await
    }
    async fn patch(
        tx: &RequestTx,
        clinic: Uuid,
        id: Uuid,
        patch: Valid<EncounterPatch>,
    ) -> Result<Encounter, AppError> {
        apply_patch(tx, clinic, id, patch).await
    }
}

/// An addendum travels inside its encounter: it is stored and loaded as the encounter.
impl Store for kinds::Addendum {
    const COLUMNS: &'static str = COLUMNS;
    fn from_row(r: &Row) -> Result<Encounter, AppError> {
        Ok(from_row(r))
    }
    async fn insert(
        tx: &RequestTx,
        clinic: Uuid,
        parent: Option<Uuid>,
        new: Valid<NewAddendum>,
    ) -> Result<Encounter, AppError> {
        let encounter = crate::store::parent_of(EntityKind::Addendum, parent)?;
        Ok(insert_addendum(tx, clinic, encounter, new).await?.1)
    }
    async fn patch(
        _tx: &RequestTx,
        _clinic: Uuid,
        _id: Uuid,
        patch: Valid<Unchangeable>,
    ) -> Result<Encounter, AppError> {
        match patch.into_inner() {}
    }
}
