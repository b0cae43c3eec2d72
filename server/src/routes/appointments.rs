//! Appointments and the day's queue: book, move, cancel, and move a visit through
//! booked → checked in → in consultation → completed (or cancelled / no-show).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::Value;
use tokio_postgres::Row;
use uuid::Uuid;
use vaidya_shared::api::{
    Appointment, AppointmentPatch, AppointmentQuery, AppointmentStatus, AuditAction,
    NewAppointment, Page, Role,
};
use vaidya_shared::{ApiError, ErrorCode};

use vaidya_shared::rules::validation::appointment_change;
use vaidya_shared::rules::{Action, Resource, Valid, Validate};

use super::{today, Paging};
use crate::app::App;
use crate::http::{ApiJson, ApiPath, ApiQuery, AppError, RequestMeta, RequestTx};
use crate::store::Store;
use crate::sync::conflicts::{self, NewConflict};
use vaidya_shared::entity::kinds;
use vaidya_shared::sync::{ConflictKind, EntityKind, FieldConflict};

pub const COLUMNS: &str = "id, clinic_id, patient_id, doctor_id, starts_at, ends_at, status, reason, version, created_at, updated_at";
const ENTITY: &str = "appointment";

pub fn from_row(r: &Row) -> Result<Appointment, AppError> {
    Ok(Appointment {
        id: r.get("id"),
        clinic_id: r.get("clinic_id"),
        patient_id: r.get("patient_id"),
        doctor_id: r.get("doctor_id"),
        starts_at: r.get("starts_at"),
        ends_at: r.get("ends_at"),
        status: super::db_enum(r, "status", AppointmentStatus::parse)?,
        reason: r.get("reason"),
        version: r.get("version"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
    })
}

/// The doctor must be an active doctor of this clinic.
async fn check_doctor(tx: &RequestTx, clinic: Uuid, doctor: Uuid) -> Result<(), AppError> {
    let ok = tx
        .query_opt(
            "SELECT 1 FROM vaidya.memberships WHERE clinic_id = $1 AND user_id = $2 AND role = $3 AND revoked_at IS NULL",
            &[&clinic, &doctor, &Role::Doctor.as_str()],
        )
        .await?
        .is_some();
    if ok {
        Ok(())
    } else {
        Err(AppError::field(
            "doctor_id",
            "No such doctor in this clinic.",
        ))
    }
}

pub async fn load(tx: &RequestTx, clinic: Uuid, id: Uuid) -> Result<Appointment, AppError> {
    tx.query_opt(
        &format!("SELECT {COLUMNS} FROM vaidya.appointments WHERE clinic_id = $1 AND id = $2 AND deleted_at IS NULL"),
        &[&clinic, &id],
    )
    .await?
    .map(|r| from_row(&r))
    .transpose()?
    .ok_or_else(AppError::not_found)
}

#[utoipa::path(get, path = "/v1/clinics/{clinic_id}/appointments", tag = "appointments", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), AppointmentQuery),
    responses((status = 200, body = Page<Appointment>), (status = 404, body = ApiError)))]
pub async fn list(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<AppointmentQuery>,
) -> Result<Json<Page<Appointment>>, AppError> {
    let paging = Paging::new(q.limit, q.offset)?;
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Appointment, Action::Read)
                .await?;
            let rows = tx
                .query(
                    &format!(
                        "SELECT {COLUMNS} FROM vaidya.appointments
                         WHERE clinic_id = $1 AND deleted_at IS NULL
                           AND ($2::uuid IS NULL OR doctor_id = $2)
                           AND ($3::uuid IS NULL OR patient_id = $3)
                           AND ($4::text IS NULL OR status = $4)
                           AND ($5::timestamptz IS NULL OR starts_at >= $5)
                           AND ($6::timestamptz IS NULL OR starts_at < $6)
                         ORDER BY starts_at, id LIMIT $7 OFFSET $8"
                    ),
                    &[
                        &clinic,
                        &q.doctor_id,
                        &q.patient_id,
                        &q.status.map(AppointmentStatus::as_str),
                        &q.from,
                        &q.to,
                        &paging.fetch(),
                        &paging.offset,
                    ],
                )
                .await?;
            let page = paging.page(rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?);
            let ids: Vec<Uuid> = page.items.iter().map(|a| a.id).collect();
            let patients: Vec<Uuid> = page.items.iter().map(|a| a.patient_id).collect();
            tx.audit(clinic, AuditAction::List, ENTITY, &ids, &patients)
                .await?;
            Ok(Json(page))
        })
        .await
}

#[utoipa::path(get, path = "/v1/clinics/{clinic_id}/appointments/{id}", tag = "appointments", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = Appointment), (status = 404, body = ApiError)))]
pub async fn get(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath((clinic, id)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<Appointment>, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Appointment, Action::Read)
                .await?;
            let a = load(tx, clinic, id).await?;
            tx.audit(clinic, AuditAction::Read, ENTITY, &[id], &[a.patient_id])
                .await?;
            Ok(Json(a))
        })
        .await
}

#[utoipa::path(post, path = "/v1/clinics/{clinic_id}/appointments", tag = "appointments", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)), request_body = NewAppointment,
    responses((status = 201, body = Appointment), (status = 422, body = ApiError), (status = 409, body = ApiError)))]
pub async fn create(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
    ApiJson(new): ApiJson<NewAppointment>,
) -> Result<(StatusCode, Json<Appointment>), AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Appointment, Action::Create)
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

/// Validate and book an appointment with an active doctor of the clinic.
pub async fn insert(
    tx: &RequestTx,
    clinic: Uuid,
    new: Valid<NewAppointment>,
) -> Result<Appointment, AppError> {
    let id = new.id.unwrap_or_else(Uuid::now_v7);
    check_doctor(tx, clinic, new.doctor_id).await?;
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO vaidya.appointments (id, clinic_id, patient_id, doctor_id, starts_at, ends_at, status, reason)
                 VALUES ($1, $2, $3, $4, $5, $6, 'booked', $7) RETURNING {COLUMNS}"
            ),
            &[&id, &clinic, &new.patient_id, &new.doctor_id, &new.starts_at, &new.ends_at, &new.reason],
        )
        .await?;
    from_row(&row)
}

/// Other live bookings of the same doctor that overlap this one (double bookings).
pub async fn overlapping(tx: &RequestTx, a: &Appointment) -> Result<Vec<Uuid>, AppError> {
    let rows = tx
        .query(
            "SELECT id FROM vaidya.appointments
             WHERE clinic_id = $1 AND doctor_id = $2 AND id <> $3 AND deleted_at IS NULL
               AND status NOT IN ('cancelled', 'no_show') AND starts_at < $5 AND ends_at > $4",
            &[&a.clinic_id, &a.doctor_id, &a.id, &a.starts_at, &a.ends_at],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Mark an appointment deleted (sync deletes; the desk cancels instead).
pub async fn tombstone(tx: &RequestTx, clinic: Uuid, id: Uuid) -> Result<(), AppError> {
    let n = tx
        .execute(
            "UPDATE vaidya.appointments SET deleted_at = now() WHERE clinic_id = $1 AND id = $2 AND deleted_at IS NULL",
            &[&clinic, &id],
        )
        .await?;
    if n == 0 {
        return Err(AppError::not_found());
    }
    Ok(())
}

#[utoipa::path(patch, path = "/v1/clinics/{clinic_id}/appointments/{id}", tag = "appointments", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("id" = Uuid, Path)), request_body = AppointmentPatch,
    responses((status = 200, body = Appointment), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn update(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath((clinic, id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(patch): ApiJson<AppointmentPatch>,
) -> Result<Json<Appointment>, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Appointment, Action::Update)
                .await?;
            let a = apply_patch(tx, clinic, id, patch.validate(today())?).await?;
            tx.audit(clinic, AuditAction::Update, ENTITY, &[id], &[a.patient_id])
                .await?;
            Ok(Json(a))
        })
        .await
}

/// Move, re-reason or advance an appointment through the day's queue.
pub async fn apply_patch(
    tx: &RequestTx,
    clinic: Uuid,
    id: Uuid,
    patch: Valid<AppointmentPatch>,
) -> Result<Appointment, AppError> {
    let reason_given = patch.reason.is_some();
    let reason = patch.reason.clone().filter(|r| !r.is_empty());
    let current = load(tx, clinic, id).await?;
    if patch.base_version.is_some_and(|v| v != current.version) {
        return Err(AppError::client(
            ErrorCode::VersionConflict,
            "The appointment was changed by someone else; reload and try again.",
        ));
    }
    let (status, starts, ends) =
        appointment_change(current.status, current.starts_at, current.ends_at, &patch)?;
    let row = tx
        .query_opt(
            &format!(
                "UPDATE vaidya.appointments SET starts_at = $3, ends_at = $4, status = $5,
                        reason = CASE WHEN $6 THEN $7 ELSE reason END
                 WHERE clinic_id = $1 AND id = $2 AND version = $8 RETURNING {COLUMNS}"
            ),
            &[
                &clinic,
                &id,
                &starts,
                &ends,
                &status.as_str(),
                &reason_given,
                &reason,
                &current.version,
            ],
        )
        .await?
        .ok_or_else(|| {
            AppError::client(
                ErrorCode::VersionConflict,
                "The appointment was changed at the same time; please retry.",
            )
        })?;
    from_row(&row)
}

impl Store for kinds::Appointment {
    const COLUMNS: &'static str = COLUMNS;
    fn from_row(r: &Row) -> Result<Appointment, AppError> {
        from_row(r)
    }
    async fn insert(
        tx: &RequestTx,
        clinic: Uuid,
        _parent: Option<Uuid>,
        new: Valid<NewAppointment>,
    ) -> Result<Appointment, AppError> {
        insert(tx, clinic, new).await
    }
    async fn patch(
        tx: &RequestTx,
        clinic: Uuid,
        id: Uuid,
        patch: Valid<AppointmentPatch>,
    ) -> Result<Appointment, AppError> {
        apply_patch(tx, clinic, id, patch).await
    }
    /// A new booking, or one whose times moved, may overlap another: both are kept and the
    /// overlap goes to the conflict inbox.
    async fn after_device_write(
        tx: &RequestTx,
        clinic: Uuid,
        a: &Appointment,
        changed: Option<&[String]>,
    ) -> Result<Vec<FieldConflict>, AppError> {
        let moved =
            changed.is_none_or(|fields| fields.iter().any(|f| f == "starts_at" || f == "ends_at"));
        if !moved {
            return Ok(Vec::new());
        }
        flag_double_booking(tx, clinic, a).await
    }
}

/// Keep both bookings but put the overlap in the conflict inbox.
async fn flag_double_booking(
    tx: &RequestTx,
    clinic: Uuid,
    a: &Appointment,
) -> Result<Vec<FieldConflict>, AppError> {
    let others = overlapping(tx, a).await?;
    if others.is_empty() || a.status == AppointmentStatus::Cancelled {
        return Ok(Vec::new());
    }
    let server_value = serde_json::to_value(&others).map_err(|e| AppError::Internal(e.into()))?;
    let client_value = Value::String(a.id.to_string());
    conflicts::record(
        tx,
        clinic,
        NewConflict {
            kind: ConflictKind::DoubleBooking,
            entity: EntityKind::Appointment,
            entity_id: a.id,
            field: None,
            server_value: server_value.clone(),
            client_value: client_value.clone(),
        },
    )
    .await?;
    Ok(vec![FieldConflict {
        field: "starts_at".into(),
        server_value,
        client_value,
    }])
}
