//! Clinic memberships: colleagues see the staff list; clinic admins add colleagues of their
//! group by email (anyone else is invited and joins by accepting, `routes::invitations`),
//! change roles and revoke access. A clinic always keeps at least one admin. The clinic's
//! hub is not a member in this sense: it is listed and revoked under `routes::hubs`, and no
//! route here finds or changes it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use tokio_postgres::Row;
use uuid::Uuid;
use vaidya_shared::api::{
    AuditAction, Invitation, MedicalRegistration, Member, MemberAdded, MemberPatch, NewMember,
    Role, UserSummary, INVITATION_DAYS,
};
use vaidya_shared::rules::Validate;
use vaidya_shared::{ApiError, ErrorCode};

use crate::app::App;
use crate::http::{ApiJson, ApiPath, AppError, RequestMeta, RequestTx};
use vaidya_shared::rules::{Action, Resource};

const ENTITY: &str = "membership";
/// The clinic's people (never its hub), as `Member`s: with `from_row`, also the hub's
/// directory (`routes::hubs`).
pub(super) const SELECT: &str = "SELECT m.id, m.clinic_id, m.role, m.created_at, m.revoked_at, m.registration_number, m.qualifications,
                             u.id AS user_id, u.email, u.display_name
                      FROM vaidya.memberships m JOIN vaidya.users u ON u.id = m.user_id
                      WHERE m.role <> 'hub'";

pub(super) fn from_row(r: &Row) -> Result<Member, AppError> {
    Ok(Member {
        id: r.get("id"),
        clinic_id: r.get("clinic_id"),
        user: UserSummary {
            id: r.get("user_id"),
            email: r.get("email"),
            display_name: r.get("display_name"),
        },
        role: super::db_enum(r, "role", Role::parse)?,
        created_at: r.get("created_at"),
        revoked_at: r.get("revoked_at"),
        registration: r
            .get::<_, Option<String>>("registration_number")
            .map(|number| MedicalRegistration {
                number,
                qualifications: r
                    .get::<_, Option<String>>("qualifications")
                    .unwrap_or_default(),
            }),
    })
}

async fn load(tx: &RequestTx, clinic: Uuid, id: Uuid) -> Result<Member, AppError> {
    tx.query_opt(
        &format!("{SELECT} AND m.clinic_id = $1 AND m.id = $2"),
        &[&clinic, &id],
    )
    .await?
    .map(|r| from_row(&r))
    .transpose()?
    .ok_or_else(AppError::not_found)
}

/// Refuse a change that would leave the clinic without an active admin.
async fn keep_an_admin(tx: &RequestTx, clinic: Uuid, member: &Member) -> Result<(), AppError> {
    if member.role != Role::Admin || member.revoked_at.is_some() {
        return Ok(());
    }
    let others: i64 = tx
        .query_one(
            "SELECT count(*) FROM vaidya.memberships WHERE clinic_id = $1 AND role = 'admin' AND revoked_at IS NULL AND id <> $2",
            &[&clinic, &member.id],
        )
        .await?
        .get(0);
    if others == 0 {
        return Err(AppError::client(
            ErrorCode::InvalidState,
            "A clinic needs at least one admin.",
        ));
    }
    Ok(())
}

#[utoipa::path(get, path = "/v1/clinics/{clinic_id}/members", tag = "members", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)),
    responses((status = 200, body = Vec<Member>), (status = 404, body = ApiError)))]
pub async fn list(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
) -> Result<Json<Vec<Member>>, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Member, Action::Read).await?;
            let rows = tx
                .query(&format!("{SELECT} AND m.clinic_id = $1 ORDER BY m.revoked_at NULLS FIRST, u.display_name"), &[&clinic])
                .await?;
            let members = rows.iter().map(from_row).collect::<Result<Vec<Member>, _>>()?;
            let ids: Vec<Uuid> = members.iter().map(|m| m.id).collect();
            tx.audit(clinic, AuditAction::List, ENTITY, &ids, &[]).await?;
            Ok(Json(members))
        })
        .await
}

#[utoipa::path(post, path = "/v1/clinics/{clinic_id}/members", tag = "members", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)), request_body = NewMember,
    responses((status = 201, description = "`added`: a colleague of the clinic's group is a member now", body = MemberAdded),
        (status = 202, description = "`invited`: anyone else gets an invitation, the same answer whether or not the email has an account", body = MemberAdded),
        (status = 403, body = ApiError), (status = 422, body = ApiError)))]
/// Adds a member by email. Someone who is (or was) a member of a clinic of the same group is
/// added at once; anyone else is invited, and joins only by accepting. The answer tells
/// nothing about accounts outside the group.
pub async fn create(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
    ApiJson(new): ApiJson<NewMember>,
) -> Result<(StatusCode, Json<MemberAdded>), AppError> {
    let new = new.validate(super::today())?.into_inner();
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Member, Action::Create).await?;
            let user: Option<Uuid> = tx
                .query_one("SELECT vaidya.group_user_by_email($1, $2)", &[&clinic, &new.email])
                .await?
                .get(0);
            let Some(user) = user else {
                let invitation = invite(tx, clinic, &new).await?;
                return Ok((StatusCode::ACCEPTED, Json(MemberAdded::Invited { invitation })));
            };
            // Re-adding a revoked member restores the membership with the new role.
            let row = tx
                .query_one(
                    "INSERT INTO vaidya.memberships (id, clinic_id, user_id, role) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (clinic_id, user_id) DO UPDATE SET role = EXCLUDED.role, revoked_at = NULL
                     RETURNING id",
                    &[&Uuid::now_v7(), &clinic, &user, &new.role.as_str()],
                )
                .await?;
            let member = load(tx, clinic, row.get(0)).await?;
            tx.audit(clinic, AuditAction::Create, ENTITY, &[member.id], &[]).await?;
            Ok((StatusCode::CREATED, Json(MemberAdded::Added { member })))
        })
        .await
}

/// Opens (or renews) the clinic's invitation for this email.
async fn invite(tx: &RequestTx, clinic: Uuid, new: &NewMember) -> Result<Invitation, AppError> {
    let row = tx
        .query_one(
            "WITH me AS (SELECT vaidya.current_user_id() AS id)
             INSERT INTO vaidya.invitations (clinic_id, id, email, role, invited_by, expires_at)
             SELECT $1, $2, $3, $4, me.id, now() + make_interval(days => $5) FROM me
             ON CONFLICT (clinic_id, email) WHERE answered_at IS NULL
             DO UPDATE SET role = EXCLUDED.role, invited_by = EXCLUDED.invited_by,
                           expires_at = EXCLUDED.expires_at
             RETURNING id, created_at, expires_at,
                       (SELECT name FROM vaidya.clinics WHERE id = $1) AS clinic_name,
                       (SELECT display_name FROM vaidya.users WHERE id = invited_by) AS invited_by_name",
            &[&clinic, &Uuid::now_v7(), &new.email, &new.role.as_str(), &(INVITATION_DAYS as i32)],
        )
        .await?;
    let invitation = Invitation {
        id: row.get("id"),
        clinic_id: clinic,
        clinic_name: row
            .get::<_, Option<String>>("clinic_name")
            .unwrap_or_default(),
        email: new.email.clone(),
        role: new.role,
        invited_by_name: row
            .get::<_, Option<String>>("invited_by_name")
            .unwrap_or_default(),
        created_at: row.get("created_at"),
        expires_at: row.get("expires_at"),
    };
    tx.audit(
        clinic,
        AuditAction::Create,
        "invitation",
        &[invitation.id],
        &[],
    )
    .await?;
    Ok(invitation)
}

#[utoipa::path(patch, path = "/v1/clinics/{clinic_id}/members/{member_id}", tag = "members", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("member_id" = Uuid, Path)), request_body = MemberPatch,
    responses((status = 200, body = Member), (status = 403, body = ApiError), (status = 409, body = ApiError)))]
pub async fn update(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath((clinic, id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(patch): ApiJson<MemberPatch>,
) -> Result<Json<Member>, AppError> {
    let patch = patch.validate(super::today())?.into_inner();
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Member, Action::Update)
                .await?;
            let member = load(tx, clinic, id).await?;
            if patch.role != Role::Admin {
                keep_an_admin(tx, clinic, &member).await?;
            }
            tx.execute(
                "UPDATE vaidya.memberships SET role = $3 WHERE clinic_id = $1 AND id = $2",
                &[&clinic, &id, &patch.role.as_str()],
            )
            .await?;
            let member = load(tx, clinic, id).await?;
            tx.audit(clinic, AuditAction::Update, ENTITY, &[id], &[])
                .await?;
            Ok(Json(member))
        })
        .await
}

#[utoipa::path(put, path = "/v1/clinics/{clinic_id}/members/{member_id}/registration", tag = "members", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("member_id" = Uuid, Path)), request_body = MedicalRegistration,
    responses((status = 200, body = Member), (status = 403, body = ApiError), (status = 404, body = ApiError),
        (status = 409, description = "`invalid_state`: the member is not a doctor", body = ApiError), (status = 422, body = ApiError)))]
/// Records a doctor's medical registration and qualifications for this clinic (admins):
/// printed with their name on prescriptions and receipts.
pub async fn set_registration(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath((clinic, id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(registration): ApiJson<MedicalRegistration>,
) -> Result<Json<Member>, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Member, Action::Update)
                .await?;
            let registration = registration.validate(super::today())?;
            let member = load(tx, clinic, id).await?;
            if member.role != Role::Doctor {
                return Err(AppError::client(
                    ErrorCode::InvalidState,
                    "Only a doctor's registration is recorded.",
                ));
            }
            tx.execute(
                "UPDATE vaidya.memberships SET registration_number = $3, qualifications = $4
                 WHERE clinic_id = $1 AND id = $2",
                &[
                    &clinic,
                    &id,
                    &registration.number,
                    &registration.qualifications,
                ],
            )
            .await?;
            let member = load(tx, clinic, id).await?;
            tx.audit(clinic, AuditAction::Update, ENTITY, &[id], &[])
                .await?;
            Ok(Json(member))
        })
        .await
}

#[utoipa::path(delete, path = "/v1/clinics/{clinic_id}/members/{member_id}", tag = "members", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("member_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ApiError), (status = 409, body = ApiError)))]
pub async fn revoke(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath((clinic, id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Member, Action::Delete).await?;
            let member = load(tx, clinic, id).await?;
            keep_an_admin(tx, clinic, &member).await?;
            tx.execute(
                "UPDATE vaidya.memberships SET revoked_at = now() WHERE clinic_id = $1 AND id = $2 AND revoked_at IS NULL",
                &[&clinic, &id],
            )
            .await?;
            // Open live streams of the clinic check their membership at once (on commit):
            // the revoked one's ends now, not at its next periodic check.
            tx.notify_clinic(clinic).await?;
            tx.audit(clinic, AuditAction::Delete, ENTITY, &[id], &[]).await?;
            Ok(StatusCode::NO_CONTENT)
        })
        .await
}
