//! Clinic hubs (issue 11): a clinic admin registers the machine its PCs sync through when
//! the internet line is down, lists the clinic's hubs and revokes one. To the group server a
//! hub is a member of exactly one clinic with the role `hub` (migration 0031): it reads the
//! clinic's records and writes nothing as itself; what it relays must carry each author's
//! signature (`sync::authors`). Its account has no password: its only credential is the
//! refresh token handed out once here, for the hub machine's OS keyring.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use tokio_postgres::Row;
use uuid::Uuid;
use vaidya_shared::api::{
    AuditAction, Directory, DirectoryKey, DirectoryMember, Hub, HubRegistered, NewHub, Role,
    UserSummary,
};
use vaidya_shared::authorship::encode_public_key;
use vaidya_shared::rules::{Action, Resource, Validate};
use vaidya_shared::{ApiError, ErrorCode};

use crate::app::App;
use crate::http::{ApiJson, ApiPath, AppError, RequestMeta, RequestTx};

const ENTITY: &str = "hub";
const SELECT: &str = "SELECT u.id, m.clinic_id, u.display_name, m.created_at, m.revoked_at
                      FROM vaidya.memberships m JOIN vaidya.users u ON u.id = m.user_id
                      WHERE m.role = 'hub'";

fn from_row(r: &Row) -> Hub {
    Hub {
        id: r.get(0),
        clinic_id: r.get(1),
        name: r.get(2),
        registered_at: r.get(3),
        revoked_at: r.get(4),
    }
}

#[utoipa::path(post, path = "/v1/clinics/{clinic_id}/hubs", tag = "members", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)), request_body = NewHub,
    responses((status = 201, description = "The hub, with its refresh token (shown this once)", body = HubRegistered),
        (status = 403, body = ApiError), (status = 422, body = ApiError)))]
/// Registers a hub for this clinic (its admins). The answer carries the hub's refresh token,
/// shown this once: the hub keeps it in its machine's OS keyring and exchanges it at
/// `POST /v1/auth/refresh`.
pub async fn register(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
    ApiJson(new): ApiJson<NewHub>,
) -> Result<(StatusCode, Json<HubRegistered>), AppError> {
    let new = new.validate(super::today())?.into_inner();
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Member, Action::Create)
                .await?;
            let id: Option<Uuid> = tx
                .query_one("SELECT vaidya.register_hub($1, $2)", &[&clinic, &new.name])
                .await?
                .get(0);
            let id = id.ok_or_else(AppError::not_found)?;
            let label = format!("Clinic hub: {}", new.name);
            let (_, refresh_token) = super::auth::issue_tokens(&app, tx, id, Some(&label)).await?;
            let hub = tx
                .query_one(
                    &format!("{SELECT} AND m.clinic_id = $1 AND u.id = $2"),
                    &[&clinic, &id],
                )
                .await
                .map(|r| from_row(&r))?;
            tx.audit(clinic, AuditAction::Create, ENTITY, &[id], &[])
                .await?;
            Ok((
                StatusCode::CREATED,
                Json(HubRegistered {
                    hub,
                    refresh_token,
                    refresh_expires_at: Utc::now() + app.settings.refresh_ttl,
                }),
            ))
        })
        .await
}

#[utoipa::path(get, path = "/v1/clinics/{clinic_id}/hubs", tag = "members", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)),
    responses((status = 200, body = Vec<Hub>), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
/// The clinic's hubs, registered and revoked (those who manage members).
pub async fn list(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
) -> Result<Json<Vec<Hub>>, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Member, Action::Update)
                .await?;
            let hubs: Vec<Hub> = tx
                .query(
                    &format!("{SELECT} AND m.clinic_id = $1 ORDER BY m.revoked_at NULLS FIRST, m.created_at"),
                    &[&clinic],
                )
                .await?
                .iter()
                .map(from_row)
                .collect();
            let ids: Vec<Uuid> = hubs.iter().map(|h| h.id).collect();
            tx.audit(clinic, AuditAction::List, ENTITY, &ids, &[])
                .await?;
            Ok(Json(hubs))
        })
        .await
}

#[utoipa::path(delete, path = "/v1/clinics/{clinic_id}/hubs/{hub_id}", tag = "members", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("hub_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
/// Revokes a hub (its clinic's admins): its membership ends and every session of it stops
/// at once. A revoked hub is not restored; register a new one.
pub async fn revoke(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath((clinic, id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Member, Action::Delete)
                .await?;
            let revoked: bool = tx
                .query_one("SELECT vaidya.revoke_hub($1, $2)", &[&clinic, &id])
                .await?
                .get(0);
            if !revoked {
                return Err(AppError::client(
                    ErrorCode::NotFound,
                    "No such hub of this clinic.",
                ));
            }
            tx.audit(clinic, AuditAction::Delete, ENTITY, &[id], &[])
                .await?;
            Ok(StatusCode::NO_CONTENT)
        })
        .await
}

#[utoipa::path(get, path = "/v1/clinics/{clinic_id}/directory", tag = "members", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)),
    responses((status = 200, body = Directory), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
/// The clinic's people as its hub checks them on the clinic's network: every member (revoked
/// ones too) with their role, and their device signing keys' public halves. The clinic's
/// hub only.
pub async fn directory(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
) -> Result<Json<Directory>, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.check_role(clinic, &[Role::Hub], "directory").await?;
            let members = tx
                .query(
                    "SELECT u.id, u.email, u.display_name, m.role, m.created_at, m.revoked_at
                     FROM vaidya.memberships m JOIN vaidya.users u ON u.id = m.user_id
                     WHERE m.clinic_id = $1 AND m.role <> 'hub'
                     ORDER BY m.created_at, u.id",
                    &[&clinic],
                )
                .await?
                .iter()
                .map(|r| {
                    Ok(DirectoryMember {
                        user: UserSummary {
                            id: r.get(0),
                            email: r.get(1),
                            display_name: r.get(2),
                        },
                        role: super::db_enum(r, "role", Role::parse)?,
                        since: r.get(4),
                        revoked_at: r.get(5),
                    })
                })
                .collect::<Result<Vec<_>, AppError>>()?;
            let device_keys = tx
                .query(
                    "SELECT id, user_id, public_key, registered_at, revoked_at
                     FROM vaidya.hub_directory_keys($1)",
                    &[&clinic],
                )
                .await?
                .iter()
                .map(|r| {
                    let key: &[u8] = r.get(2);
                    let key: [u8; 32] = key.try_into().map_err(|_| {
                        AppError::Internal(anyhow::anyhow!("a device key is not 32 bytes"))
                    })?;
                    Ok(DirectoryKey {
                        key_id: r.get(0),
                        user_id: r.get(1),
                        public_key: encode_public_key(&key),
                        registered_at: r.get(3),
                        revoked_at: r.get(4),
                    })
                })
                .collect::<Result<Vec<_>, AppError>>()?;
            let ids: Vec<Uuid> = members.iter().map(|m| m.user.id).collect();
            tx.audit(clinic, AuditAction::List, "directory", &ids, &[])
                .await?;
            Ok(Json(Directory {
                members,
                device_keys,
            }))
        })
        .await
}
