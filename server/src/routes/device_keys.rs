//! Device signing keys: a user registers the key their device signs offline work with; a
//! clinic admin revokes a member's key (a lost PC). Keys are reached only through the
//! SECURITY DEFINER functions of migrations 0010 and 0011 (an admin's list). A device also
//! reports here what it wiped when a member lost their place in a clinic (migration 0012).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use uuid::Uuid;
use vaidya_shared::api::{AuditAction, DeviceWipe, MemberDevice, NewDeviceKey};
use vaidya_shared::authorship::decode_public_key;
use vaidya_shared::rules::{clock, Action, Resource};
use vaidya_shared::{ApiError, ErrorCode};

use crate::app::App;
use crate::http::{ApiJson, ApiPath, AppError, RequestMeta, RequestTx};

#[utoipa::path(post, path = "/v1/me/device-keys", tag = "auth", security(("bearer" = [])),
    request_body = NewDeviceKey,
    responses((status = 201, description = "Registered, or already registered and in force"), (status = 401, body = ApiError),
        (status = 409, description = "`invalid_state`: the key was revoked (make a new one); `already_exists`: the id names another key", body = ApiError),
        (status = 422, body = ApiError)))]
pub async fn register(
    State(app): State<App>,
    meta: RequestMeta,
    ApiJson(key): ApiJson<NewDeviceKey>,
) -> Result<StatusCode, AppError> {
    let public_key = decode_public_key(&key.public_key).ok_or_else(|| {
        AppError::field("public_key", "An Ed25519 public key, base64 of 32 bytes.")
    })?;
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.require_person().await?;
            let outcome: String = tx
                .query_one(
                    "SELECT vaidya.register_device_key($1, $2, $3)",
                    &[&key.id, &public_key.as_slice(), &meta.device],
                )
                .await?
                .get(0);
            match outcome.as_str() {
                "registered" | "known" => Ok(StatusCode::CREATED),
                "revoked" => Err(AppError::client(
                    ErrorCode::InvalidState,
                    "This device key was revoked; make a new one.",
                )),
                _ => Err(AppError::client(
                    ErrorCode::AlreadyExists,
                    "This key id names another key.",
                )),
            }
        })
        .await
}

#[utoipa::path(get, path = "/v1/clinics/{clinic_id}/device-keys", tag = "members", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)),
    responses((status = 200, body = [MemberDevice]), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
/// Which devices hold each member's data (their signing keys), for the clinic's admin.
pub async fn list(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
) -> Result<Json<Vec<MemberDevice>>, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            // Those who may revoke a member manage the member's devices.
            tx.authorize(clinic, Resource::Member, Action::Delete)
                .await?;
            let rows = tx
                .query(
                    "SELECT id, user_id, device, registered_at, revoked_at, member_revoked_at
                     FROM vaidya.clinic_device_keys($1)",
                    &[&clinic],
                )
                .await?;
            let devices: Vec<MemberDevice> = rows
                .iter()
                .map(|r| MemberDevice {
                    key_id: r.get(0),
                    user_id: r.get(1),
                    device: r.get(2),
                    registered_at: r.get(3),
                    revoked_at: r.get(4),
                    member_revoked_at: r.get(5),
                })
                .collect();
            let keys: Vec<Uuid> = devices.iter().map(|d| d.key_id).collect();
            tx.audit(clinic, AuditAction::List, "device_key", &keys, &[])
                .await?;
            Ok(Json(devices))
        })
        .await
}

#[utoipa::path(delete, path = "/v1/clinics/{clinic_id}/device-keys/{id}", tag = "members", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn revoke(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath((clinic, id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            // Those who may revoke a member manage the member's devices.
            tx.authorize(clinic, Resource::Member, Action::Delete)
                .await?;
            let revoked: bool = tx
                .query_one("SELECT vaidya.revoke_device_key($1, $2)", &[&clinic, &id])
                .await?
                .get(0);
            if !revoked {
                return Err(AppError::client(
                    ErrorCode::NotFound,
                    "No such device key of this clinic's members.",
                ));
            }
            tx.audit(clinic, AuditAction::Delete, "device_key", &[id], &[])
                .await?;
            Ok(StatusCode::NO_CONTENT)
        })
        .await
}

#[utoipa::path(post, path = "/v1/me/device-wipes", tag = "auth", security(("bearer" = [])),
    request_body = DeviceWipe,
    responses((status = 204, description = "Recorded in the clinic's audit trail (once per id: a report sent again changes nothing)"),
        (status = 401, body = ApiError),
        (status = 403, description = "`forbidden`: only the former member, or an active member of the clinic, reports the wipe of a member who was revoked", body = ApiError),
        (status = 422, body = ApiError)))]
/// A device reports that it removed a former member's data from a clinic's file. Accepted
/// from the former member (at the sign-in that did it) or from an active member of the
/// clinic (a colleague's session on the same PC, later); the member must have been revoked.
/// The device's time is bounded like every device time, the revocation being the earliest.
pub async fn report_wipe(
    State(app): State<App>,
    meta: RequestMeta,
    ApiJson(wipe): ApiJson<DeviceWipe>,
) -> Result<StatusCode, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.require_person().await?;
            let row = tx
                .query_one(
                    "SELECT vaidya.device_wipe_not_before($1, $2), now()",
                    &[&wipe.clinic_id, &wipe.user_id],
                )
                .await?;
            let (not_before, received): (Option<DateTime<Utc>>, DateTime<Utc>) =
                (row.get(0), row.get(1));
            let outcome: Option<String> = match not_before {
                Some(revoked) => {
                    let at = clock::act_time(wipe.wiped_at, Some(revoked), received);
                    tx.query_one(
                        "SELECT vaidya.record_device_wipe($1, $2, $3, $4, $5)",
                        &[
                            &wipe.id,
                            &wipe.clinic_id,
                            &wipe.user_id,
                            &wipe.scope.as_str(),
                            &at,
                        ],
                    )
                    .await?
                    .get(0)
                }
                None => None,
            };
            match outcome.as_deref() {
                Some("recorded" | "known") => Ok(StatusCode::NO_CONTENT),
                _ => {
                    tx.audit(wipe.clinic_id, AuditAction::Denied, "device_wipe", &[], &[])
                        .await?;
                    Err(AppError::Denied(ErrorCode::Forbidden))
                }
            }
        })
        .await
}
