//! Invitations to join a clinic. A person's own (clinics that invited their email, answered
//! by them) are reached only through the SECURITY DEFINER functions of migration 0016: the
//! invitee is not yet a member, so no clinic policy lets them see the row. A clinic's admins
//! list and withdraw its open invitations under the table's own policy.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use uuid::Uuid;
use vaidya_shared::api::{AuditAction, Invitation, Me, Role};
use vaidya_shared::rules::{Action, Resource};
use vaidya_shared::ApiError;

use super::db_enum;
use crate::app::App;
use crate::http::{ApiPath, AppError, RequestMeta, RequestTx};

/// An invitation as both queries below select it.
fn from_row(r: &tokio_postgres::Row) -> Result<Invitation, AppError> {
    Ok(Invitation {
        id: r.get("id"),
        clinic_id: r.get("clinic_id"),
        clinic_name: r.get("clinic_name"),
        email: r.get("email"),
        role: db_enum(r, "role", Role::parse)?,
        invited_by_name: r.get("invited_by_name"),
        created_at: r.get("created_at"),
        expires_at: r.get("expires_at"),
    })
}

#[utoipa::path(get, path = "/v1/me/invitations", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Vec<Invitation>), (status = 401, body = ApiError)))]
/// The caller's open invitations, matched on their account's email.
pub async fn mine(
    State(app): State<App>,
    meta: RequestMeta,
) -> Result<Json<Vec<Invitation>>, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.require_person().await?;
            let rows = tx
                .query("SELECT * FROM vaidya.my_invitations()", &[])
                .await?;
            let invitations = rows
                .iter()
                .map(from_row)
                .collect::<Result<Vec<_>, AppError>>()?;
            Ok(Json(invitations))
        })
        .await
}

#[utoipa::path(post, path = "/v1/me/invitations/{id}/accept", tag = "auth", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "A member now: the caller's memberships", body = Me),
        (status = 401, body = ApiError),
        (status = 404, description = "`not_found`: not the caller's open invitation", body = ApiError)))]
/// Accepts one of the caller's invitations: they become a member with the invited role.
pub async fn accept(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Me>, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            answer(tx, id, true).await?;
            Ok(Json(super::auth::load_me(tx).await?))
        })
        .await
}

#[utoipa::path(post, path = "/v1/me/invitations/{id}/decline", tag = "auth", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Declined"),
        (status = 401, body = ApiError),
        (status = 404, description = "`not_found`: not the caller's open invitation", body = ApiError)))]
/// Declines one of the caller's invitations.
pub async fn decline(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            answer(tx, id, false).await?;
            Ok(StatusCode::NO_CONTENT)
        })
        .await
}

async fn answer(tx: &RequestTx, id: Uuid, accept: bool) -> Result<(), AppError> {
    tx.require_person().await?;
    let clinic: Option<Uuid> = tx
        .query_one("SELECT vaidya.answer_invitation($1, $2)", &[&id, &accept])
        .await?
        .get(0);
    clinic.map(|_| ()).ok_or_else(AppError::not_found)
}

#[utoipa::path(get, path = "/v1/clinics/{clinic_id}/invitations", tag = "members", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)),
    responses((status = 200, description = "The clinic's open invitations, oldest first", body = Vec<Invitation>)))]
/// The clinic's open, unexpired invitations (clinic admins).
pub async fn list_open(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
) -> Result<Json<Vec<Invitation>>, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Member, Action::Create).await?;
            let rows = tx
                .query(
                    "SELECT i.id, i.clinic_id, coalesce(c.name, '') AS clinic_name, i.email, i.role,
                            coalesce(u.display_name, '') AS invited_by_name, i.created_at, i.expires_at
                     FROM vaidya.invitations i
                     LEFT JOIN vaidya.clinics c ON c.id = i.clinic_id
                     LEFT JOIN vaidya.users u ON u.id = i.invited_by
                     WHERE i.clinic_id = $1 AND i.answered_at IS NULL AND i.expires_at > now()
                     ORDER BY i.created_at",
                    &[&clinic],
                )
                .await?;
            let invitations = rows
                .iter()
                .map(from_row)
                .collect::<Result<Vec<_>, AppError>>()?;
            let ids: Vec<Uuid> = invitations.iter().map(|i| i.id).collect();
            tx.audit(clinic, AuditAction::List, "invitation", &ids, &[])
                .await?;
            Ok(Json(invitations))
        })
        .await
}

#[utoipa::path(delete, path = "/v1/clinics/{clinic_id}/invitations/{id}", tag = "members", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("id" = Uuid, Path)),
    responses((status = 204, description = "Withdrawn: it can no longer be accepted")))]
/// Withdraws an open invitation (clinic admins).
pub async fn withdraw(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath((clinic, id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Member, Action::Delete)
                .await?;
            let n = tx
                .execute(
                    "UPDATE vaidya.invitations SET answered_at = now(), answer = 'withdrawn'
                     WHERE clinic_id = $1 AND id = $2 AND answered_at IS NULL",
                    &[&clinic, &id],
                )
                .await?;
            if n == 0 {
                return Err(AppError::not_found());
            }
            tx.audit(clinic, AuditAction::Delete, "invitation", &[id], &[])
                .await?;
            Ok(StatusCode::NO_CONTENT)
        })
        .await
}
