//! Clinic hubs (issue 11): a clinic admin registers the machine its PCs sync through when
//! the internet line is down, a doctor approves it (two people: the hub reads clinical
//! records, which an admin may not; migration 0031), admins list the clinic's hubs and
//! revoke one. To the group server an approved hub is a member of exactly one clinic with
//! the role `hub` (migration 0031): it reads the
//! clinic's records and writes nothing as itself; what it relays must carry each author's
//! signature (`sync::authors`). Its account has no password: its only credential is the
//! refresh token handed out once here, for the hub machine's OS keyring.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use uuid::Uuid;
use vaidya_shared::api::{
    AuditAction, Directory, DirectoryKey, Hub, HubAddresses, HubApproved, HubEndpoint, NewHub,
    Role, SeriesOwner,
};
use vaidya_shared::authorship::encode_public_key;
use vaidya_shared::rules::permissions::hub_approvers;
use vaidya_shared::rules::{self, Action, Resource, Validate};
use vaidya_shared::{ApiError, ErrorCode};

use crate::app::App;
use crate::http::{ApiJson, ApiPath, AppError, RequestMeta, RequestTx};

const ENTITY: &str = "hub";

/// Who sees the clinic's hubs: those who manage its members, and the approvers.
fn listers() -> Vec<Role> {
    let mut roles = hub_approvers();
    roles.extend(rules::roles_for(Resource::Member, Action::Update));
    roles
}

/// Roles as the database names them.
fn names(roles: &[Role]) -> Vec<&'static str> {
    roles.iter().map(|r| r.as_str()).collect()
}

/// The clinic's hubs (all, or the one named), as its admins and approvers see them.
async fn hubs_of(tx: &RequestTx, clinic: Uuid, only: Option<Uuid>) -> Result<Vec<Hub>, AppError> {
    let rows = tx
        .query(
            "SELECT id, name, registered_at, registered_by, approved_at, approved_by, revoked_at,
                    certificate_sha256
             FROM vaidya.clinic_hubs($1, $2) WHERE $3::uuid IS NULL OR id = $3",
            &[&clinic, &names(&listers()), &only],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Hub {
            id: r.get(0),
            clinic_id: clinic,
            name: r.get(1),
            registered_at: r.get(2),
            registered_by: r.get(3),
            approved_at: r.get(4),
            approved_by: r.get(5),
            revoked_at: r.get(6),
            certificate_sha256: r.get(7),
        })
        .collect())
}

#[utoipa::path(post, path = "/v1/clinics/{clinic_id}/hubs", tag = "members", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)), request_body = NewHub,
    responses((status = 201, description = "The hub, waiting for a doctor's approval", body = Hub),
        (status = 403, body = ApiError), (status = 422, body = ApiError)))]
/// Registers a hub for this clinic (its admins). It has no credential and is no member
/// until a doctor of the clinic approves it (`…/hubs/{hub_id}/approve`), whose answer
/// carries its credential: the admin never holds a way to the clinical records it reads.
pub async fn register(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
    ApiJson(new): ApiJson<NewHub>,
) -> Result<(StatusCode, Json<Hub>), AppError> {
    let new = new.validate(super::today())?.into_inner();
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.authorize(clinic, Resource::Member, Action::Create)
                .await?;
            let id: Option<Uuid> = tx
                .query_one(
                    "SELECT vaidya.register_hub($1, $2, $3)",
                    &[&clinic, &new.name, &new.certificate_sha256],
                )
                .await?
                .get(0);
            let id = id.ok_or_else(AppError::not_found)?;
            let hub = hubs_of(tx, clinic, Some(id)).await?.pop().ok_or_else(|| {
                AppError::Internal(anyhow::anyhow!("the hub just registered is not listed"))
            })?;
            tx.audit(clinic, AuditAction::Create, ENTITY, &[id], &[])
                .await?;
            Ok((StatusCode::CREATED, Json(hub)))
        })
        .await
}

#[utoipa::path(post, path = "/v1/clinics/{clinic_id}/hubs/{hub_id}/approve", tag = "members", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("hub_id" = Uuid, Path)),
    responses((status = 200, description = "Approved: the hub is a member now; its refresh token (shown this once)", body = HubApproved),
        (status = 403, body = ApiError),
        (status = 404, description = "`not_found`: no such hub waiting, or the caller registered it", body = ApiError),
        (status = 409, description = "`invalid_state`: approved already", body = ApiError)))]
/// Approves a registered hub (a doctor of the clinic, not the admin who registered it): it
/// becomes a member with the role `hub` and reads the clinic's records from then on. The
/// answer carries its credential, shown this once (run on the hub machine: `vaidya-server
/// hub approve` keeps it in that machine's OS keyring).
pub async fn approve(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath((clinic, id)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<HubApproved>, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.check_role(clinic, &hub_approvers(), ENTITY).await?;
            let outcome: Option<String> = tx
                .query_one(
                    "SELECT vaidya.approve_hub($1, $2, $3)",
                    &[&clinic, &id, &names(&hub_approvers())],
                )
                .await?
                .get(0);
            match outcome.as_deref() {
                Some("approved") => {}
                Some(_) => {
                    return Err(AppError::client(
                        ErrorCode::InvalidState,
                        "This hub is approved already.",
                    ))
                }
                None => {
                    return Err(AppError::client(
                        ErrorCode::NotFound,
                        "No hub of this clinic is waiting for your approval.",
                    ))
                }
            }
            let hub = hubs_of(tx, clinic, Some(id))
                .await?
                .pop()
                .ok_or_else(AppError::not_found)?;
            let label = format!("Clinic hub: {}", hub.name);
            let (_, refresh_token) = super::auth::issue_tokens(&app, tx, id, Some(&label)).await?;
            tx.audit(clinic, AuditAction::Update, ENTITY, &[id], &[])
                .await?;
            Ok(Json(HubApproved {
                hub,
                refresh_token,
                refresh_expires_at: Utc::now() + app.settings.refresh_ttl,
            }))
        })
        .await
}

#[utoipa::path(get, path = "/v1/clinics/{clinic_id}/hubs", tag = "members", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)),
    responses((status = 200, body = Vec<Hub>), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
/// The clinic's hubs, waiting, approved and revoked (its admins, and those who approve).
pub async fn list(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
) -> Result<Json<Vec<Hub>>, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.check_role(clinic, &listers(), ENTITY).await?;
            let hubs = hubs_of(tx, clinic, None).await?;
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
            // Open live streams of the clinic check their membership at once (on commit):
            // the revoked one's ends now, not at its next periodic check.
            tx.notify_clinic(clinic).await?;
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
                    &format!(
                        "{} AND m.clinic_id = $1 ORDER BY m.created_at, m.id",
                        super::members::SELECT
                    ),
                    &[&clinic],
                )
                .await?
                .iter()
                .map(super::members::from_row)
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
            let invoice_series = tx
                .query(
                    "SELECT code, partition_id, device, allocated_by, allocated_at
                     FROM vaidya.invoice_device_series WHERE clinic_id = $1 ORDER BY code",
                    &[&clinic],
                )
                .await?
                .iter()
                .map(|r| SeriesOwner {
                    code: r.get(0),
                    partition_id: r.get(1),
                    device: r.get(2),
                    allocated_by: r.get(3),
                    allocated_at: r.get(4),
                })
                .collect();
            Ok(Json(Directory {
                clinic: super::clinics::load(tx, clinic).await?,
                members,
                device_keys,
                invoice_series,
            }))
        })
        .await
}

#[utoipa::path(put, path = "/v1/clinics/{clinic_id}/hubs/{hub_id}/addresses", tag = "members", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("hub_id" = Uuid, Path)), request_body = HubAddresses,
    responses((status = 204), (status = 403, body = ApiError), (status = 404, body = ApiError),
        (status = 422, body = ApiError)))]
/// The hub announces where it answers on its clinic's network (the clinic's approved hub,
/// for itself only).
pub async fn announce(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath((clinic, hub)): ApiPath<(Uuid, Uuid)>,
    ApiJson(addresses): ApiJson<HubAddresses>,
) -> Result<StatusCode, AppError> {
    let addresses = addresses.validate(super::today())?.into_inner();
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.check_role(clinic, &[Role::Hub], ENTITY).await?;
            if hub != tx.user_id() {
                return Err(AppError::not_found());
            }
            let recorded: bool = tx
                .query_one(
                    "SELECT vaidya.announce_hub($1, $2)",
                    &[&clinic, &addresses.addresses],
                )
                .await?
                .get(0);
            if !recorded {
                return Err(AppError::not_found());
            }
            tx.audit(clinic, AuditAction::Update, ENTITY, &[hub], &[])
                .await?;
            Ok(StatusCode::NO_CONTENT)
        })
        .await
}

#[utoipa::path(get, path = "/v1/clinics/{clinic_id}/hub-endpoints", tag = "members", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)),
    responses((status = 200, body = Vec<HubEndpoint>), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
/// Where the clinic's PCs find its hubs on the clinic's network, with the certificate each
/// must present (the clinic's people).
pub async fn endpoints(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
) -> Result<Json<Vec<HubEndpoint>>, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.check_role(clinic, &Role::STAFF, ENTITY).await?;
            let endpoints: Vec<HubEndpoint> = tx
                .query(
                    "SELECT hub_id, name, addresses, certificate_sha256, announced_at
                     FROM vaidya.clinic_hub_endpoints($1)",
                    &[&clinic],
                )
                .await?
                .iter()
                .map(|r| HubEndpoint {
                    hub_id: r.get(0),
                    name: r.get(1),
                    addresses: r.get(2),
                    certificate_sha256: r.get(3),
                    announced_at: r.get(4),
                })
                .collect();
            let ids: Vec<Uuid> = endpoints.iter().map(|e| e.hub_id).collect();
            tx.audit(clinic, AuditAction::List, ENTITY, &ids, &[])
                .await?;
            Ok(Json(endpoints))
        })
        .await
}
