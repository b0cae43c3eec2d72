//! Sign-in: login with email and password, refresh-token rotation, logout, and `me`.
//!
//! Sessions live in the database (token hashes only), so a revoked session or a removed
//! membership takes effect on the caller's next request.

use axum::extract::State;
use axum::Json;
use base64::Engine;
use chrono::Utc;
use rand::RngCore;
use uuid::Uuid;
use vaidya_shared::api::{
    AuditAction, DeviceChallenge, DeviceChallengeRequest, DeviceSignIn, LoginRequest, Me,
    Membership, RefreshRequest, Role, Session, UserSummary,
};
use vaidya_shared::{ApiError, ErrorCode};

use crate::app::App;
use crate::http::extract::token_hash;
use crate::http::{ApiJson, AppError, RequestMeta, RequestTx};
use vaidya_shared::password;

/// A fresh 256-bit random token, URL-safe base64.
fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn invalid_credentials() -> AppError {
    AppError::client(
        ErrorCode::InvalidCredentials,
        "The email or password is not correct.",
    )
}

#[utoipa::path(post, path = "/v1/auth/login", request_body = LoginRequest, tag = "auth",
    responses((status = 200, body = Session), (status = 401, body = ApiError), (status = 429, body = ApiError)))]
pub async fn login(
    State(app): State<App>,
    meta: RequestMeta,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<Session>, AppError> {
    // A clinic hub holds no passwords (PCs sign in there with their device keys), so it
    // has no password sign-in at all: answering it would only tell a LAN host, by how
    // long a refusal takes, which addresses are the clinic's people.
    if app.is_hub().await? {
        return Err(AppError::not_found());
    }
    let email = req.email.trim().to_lowercase();
    if email.is_empty()
        || email.len() > 320
        || req.password.len() > 1024
        || email.contains('\0')
        || req.password.contains('\0')
    {
        return Err(invalid_credentials());
    }

    // Take the attempt first (counted as a failure until it succeeds, in one locked step,
    // so concurrent guesses cannot all slip through), then look the user up, in a short
    // transaction, so no connection is held while hashing.
    let device_hash = req.device_token.as_deref().map(token_hash);
    let tx = RequestTx::begin_anonymous(&app.pool, &meta).await?;
    let wait: i32 = tx
        .query_one(
            "SELECT vaidya.auth_throttle_begin($1, $2, $3)",
            &[&email, &device_hash, &meta.client_addr],
        )
        .await?
        .get(0);
    if wait > 0 {
        tx.commit().await?;
        return Err(AppError::client(
            ErrorCode::TooManyAttempts,
            format!("Too many failed sign-ins. Try again in {wait} seconds."),
        ));
    }
    let found = tx
        .query_opt(
            "SELECT user_id, password_hash FROM vaidya.auth_user_by_email($1)",
            &[&email],
        )
        .await?;
    tx.commit().await?;
    let (user_id, stored): (Option<Uuid>, Option<String>) = match found {
        Some(row) => (Some(row.get(0)), Some(row.get(1))),
        None => (None, None),
    };

    let password = req.password.clone();
    let permit = app
        .hashing
        .acquire()
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let ok = tokio::task::spawn_blocking(move || password::verify(&password, stored.as_deref()))
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    drop(permit);

    let (true, Some(user_id)) = (ok, user_id) else {
        // The failure was counted when the attempt was taken.
        return Err(invalid_credentials());
    };
    let mut tx = RequestTx::begin_anonymous(&app.pool, &meta).await?;
    let new_device_token = new_token();
    let registered: bool = tx
        .query_one(
            "SELECT vaidya.auth_login_succeeded($1, $2, $3, $4, $5)",
            &[
                &email,
                &user_id,
                &device_hash,
                &token_hash(&new_device_token),
                &meta.client_addr,
            ],
        )
        .await?
        .get(0);
    tx.set_user(user_id).await?;
    let mut session = open_session(&app, &tx, user_id, &meta).await?;
    session.device_token = if registered {
        Some(new_device_token)
    } else {
        req.device_token.clone()
    };
    for m in &session.memberships {
        tx.audit(m.clinic_id, AuditAction::Login, "session", &[], &[])
            .await?;
    }
    tx.commit().await?;
    Ok(Json(session))
}

/// How long a hub's sign-in challenge may be answered.
const CHALLENGE_TTL_SECS: i32 = 120;

fn device_refused() -> AppError {
    AppError::client(
        ErrorCode::InvalidCredentials,
        "This device's sign-in could not be verified: its key is unknown to the clinic hub, revoked, or the challenge was used or expired.",
    )
}

#[utoipa::path(post, path = "/v1/auth/device-challenge", request_body = DeviceChallengeRequest, tag = "auth",
    responses((status = 200, body = DeviceChallenge), (status = 401, body = ApiError), (status = 404, body = ApiError)))]
/// A one-time challenge for a PC's device key (the clinic's hub only; 404 elsewhere); 401 for a
/// key that is no live key of an active person of the clinic.
pub async fn device_challenge(
    State(app): State<App>,
    meta: RequestMeta,
    ApiJson(req): ApiJson<DeviceChallengeRequest>,
) -> Result<Json<DeviceChallenge>, AppError> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let tx = RequestTx::begin_anonymous(&app.pool, &meta).await?;
    if !tx.is_hub_of(req.clinic_id).await? {
        return Err(AppError::not_found());
    }
    let id: Option<Uuid> = tx
        .query_one(
            "SELECT vaidya.auth_device_challenge($1, $2, $3, $4, $5)",
            &[
                &req.clinic_id,
                &req.key_id,
                &bytes.as_slice(),
                &CHALLENGE_TTL_SECS,
                &meta.client_addr,
            ],
        )
        .await?
        .get(0);
    tx.commit().await?;
    let id = id.ok_or_else(device_refused)?;
    Ok(Json(DeviceChallenge {
        id,
        challenge: base64::engine::general_purpose::STANDARD.encode(bytes),
        expires_at: Utc::now() + chrono::Duration::seconds(CHALLENGE_TTL_SECS.into()),
    }))
}

#[utoipa::path(post, path = "/v1/auth/device-login", request_body = DeviceSignIn, tag = "auth",
    responses((status = 200, body = Session), (status = 401, body = ApiError), (status = 404, body = ApiError)))]
/// Signs a PC's person in to a clinic hub with its answer to a challenge, signed with the
/// device key that person registered with the group server (a hub only; 404 elsewhere).
/// The challenge is spent by the attempt, whatever its outcome.
pub async fn device_login(
    State(app): State<App>,
    meta: RequestMeta,
    ApiJson(sign_in): ApiJson<DeviceSignIn>,
) -> Result<Json<Session>, AppError> {
    let tx = RequestTx::begin_anonymous(&app.pool, &meta).await?;
    if !tx.is_hub_of(sign_in.clinic_id).await? {
        return Err(AppError::not_found());
    }
    let author = sign_in.author.clone().ok_or_else(device_refused)?;
    let taken = tx
        .query_opt(
            "SELECT challenge, user_id, public_key
             FROM vaidya.auth_device_challenge_take($1, $2, $3)",
            &[&sign_in.clinic_id, &sign_in.challenge_id, &author.key_id],
        )
        .await?;
    // Spent now, whatever follows.
    tx.commit().await?;
    let Some(taken) = taken else {
        return Err(device_refused());
    };
    let (challenge, user_id, public_key): (Vec<u8>, Uuid, Vec<u8>) =
        (taken.get(0), taken.get(1), taken.get(2));
    let answered = base64::engine::general_purpose::STANDARD
        .decode(&sign_in.challenge)
        .map_err(|_| device_refused())?;
    // An answer meant for another certificate (another hub) is no answer to this one.
    let for_this_hub = match (
        &sign_in.hub_certificate_sha256,
        &app.settings.lan_certificate_sha256,
    ) {
        (Some(named), Some(ours)) => named.eq_ignore_ascii_case(ours),
        (None, None) => true,
        _ => false,
    };
    if answered != challenge || author.user_id != user_id || !for_this_hub {
        return Err(device_refused());
    }
    vaidya_shared::authorship::verify(sign_in.clinic_id, &sign_in, &public_key)
        .map_err(|_| device_refused())?;
    let mut tx = RequestTx::begin_anonymous(&app.pool, &meta).await?;
    tx.set_user(user_id).await?;
    // No longer than its access token: the device key is checked at every sign-in, and a
    // refresh would not check it again, so a key revoked since could otherwise keep a hub
    // session going. The PC signs in again with its key when the session ends.
    let (access, refresh) = issue_tokens_for(
        &app,
        &tx,
        user_id,
        meta.device.as_deref(),
        app.settings.access_ttl,
    )
    .await?;
    let mut session = session_body(&app, &tx, access, refresh).await?;
    session.refresh_expires_at = session.access_expires_at;
    for m in &session.memberships {
        tx.audit(m.clinic_id, AuditAction::Login, "session", &[], &[])
            .await?;
    }
    tx.commit().await?;
    Ok(Json(session))
}

async fn open_session(
    app: &App,
    tx: &RequestTx,
    user_id: Uuid,
    meta: &RequestMeta,
) -> Result<Session, AppError> {
    let (access, refresh) = issue_tokens(app, tx, user_id, meta.device.as_deref()).await?;
    session_body(app, tx, access, refresh).await
}

/// A new session of `user_id`: its access and refresh tokens (only their hashes are kept).
pub(super) async fn issue_tokens(
    app: &App,
    tx: &RequestTx,
    user_id: Uuid,
    device: Option<&str>,
) -> Result<(String, String), AppError> {
    issue_tokens_for(app, tx, user_id, device, app.settings.refresh_ttl).await
}

/// [`issue_tokens`] with a refresh token that lasts `refresh_ttl`.
async fn issue_tokens_for(
    app: &App,
    tx: &RequestTx,
    user_id: Uuid,
    device: Option<&str>,
    refresh_ttl: std::time::Duration,
) -> Result<(String, String), AppError> {
    let access = new_token();
    let refresh = new_token();
    let s = &app.settings;
    tx.execute(
        "SELECT vaidya.auth_open_session($1, $2, $3, $4, $5, $6)",
        &[
            &user_id,
            &token_hash(&access),
            &(s.access_ttl.as_secs() as i32),
            &token_hash(&refresh),
            &(refresh_ttl.as_secs() as i32),
            &device,
        ],
    )
    .await?;
    Ok((access, refresh))
}

async fn session_body(
    app: &App,
    tx: &RequestTx,
    access: String,
    refresh: String,
) -> Result<Session, AppError> {
    let now = Utc::now();
    let s = &app.settings;
    let me = load_me(tx).await?;
    Ok(Session {
        access_token: access,
        access_expires_at: now + s.access_ttl,
        refresh_token: refresh,
        refresh_expires_at: now + s.refresh_ttl,
        offline_lease_until: now + s.offline_lease,
        user: me.user,
        memberships: me.memberships,
        device_token: None,
    })
}

/// The signed-in user and their active memberships, read under RLS.
pub(super) async fn load_me(tx: &RequestTx) -> Result<Me, AppError> {
    let row = tx
        .query_one(
            "SELECT id, email, display_name FROM vaidya.users WHERE id = $1",
            &[&tx.user_id()],
        )
        .await?;
    let user = UserSummary {
        id: row.get(0),
        email: row.get(1),
        display_name: row.get(2),
    };
    let rows = tx
        .query(
            "SELECT m.clinic_id, c.name, c.group_id, g.name, m.role
             FROM vaidya.memberships m
             JOIN vaidya.clinics c ON c.id = m.clinic_id
             JOIN vaidya.clinic_groups g ON g.id = c.group_id
             WHERE m.user_id = $1 AND m.revoked_at IS NULL
             ORDER BY g.name, c.name",
            &[&tx.user_id()],
        )
        .await?;
    let memberships = rows
        .iter()
        .filter_map(|r| {
            Some(Membership {
                clinic_id: r.get(0),
                clinic_name: r.get(1),
                group_id: r.get(2),
                group_name: r.get(3),
                role: Role::parse(r.get(4))?,
            })
        })
        .collect();
    Ok(Me { user, memberships })
}

#[utoipa::path(post, path = "/v1/auth/refresh", request_body = RefreshRequest, tag = "auth",
    responses((status = 200, body = Session), (status = 401, body = ApiError)))]
pub async fn refresh(
    State(app): State<App>,
    meta: RequestMeta,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> Result<Json<Session>, AppError> {
    // On a clinic hub every session comes from a device-key sign-in and lasts as long as
    // its access token: a refresh would stretch it past the key's next check.
    if app.is_hub().await? {
        return Err(AppError::client(
            ErrorCode::Unauthenticated,
            "Sign in to the clinic hub again with this device's key.",
        ));
    }
    let access = new_token();
    let refresh = new_token();
    let s = &app.settings;
    // The new pair, sealed under the token it replaces: a retry within the grace period gets
    // this same pair back (see `grace`).
    let sealed =
        crate::grace::seal(&req.refresh_token, &access, &refresh).map_err(AppError::Internal)?;
    let mut tx = RequestTx::begin_anonymous(&app.pool, &meta).await?;
    let rotated = tx
        .query_opt(
            "SELECT user_id, replayed_pair, access_expires_at, refresh_expires_at
             FROM vaidya.auth_rotate_session($1, $2, $3, $4, $5, $6, $7)",
            &[
                &token_hash(&req.refresh_token),
                &token_hash(&access),
                &(s.access_ttl.as_secs() as i32),
                &token_hash(&refresh),
                &(s.refresh_ttl.as_secs() as i32),
                &(s.refresh_grace.as_secs() as i32),
                &sealed,
            ],
        )
        .await?;
    let Some(row) = rotated else {
        // Commit: a replayed refresh token has just revoked its session.
        tx.commit().await?;
        return Err(AppError::unauthenticated());
    };
    let (access, refresh) = match row.get::<_, Option<Vec<u8>>>("replayed_pair") {
        None => (access, refresh),
        Some(pair) => {
            crate::grace::open(&req.refresh_token, &pair).ok_or_else(AppError::unauthenticated)?
        }
    };
    tx.set_user(row.get("user_id")).await?;
    let mut session = session_body(&app, &tx, access, refresh).await?;
    session.access_expires_at = row.get("access_expires_at");
    session.refresh_expires_at = row.get("refresh_expires_at");
    tx.commit().await?;
    Ok(Json(session))
}

#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ApiError)))]
pub async fn logout(
    State(app): State<App>,
    meta: RequestMeta,
) -> Result<axum::http::StatusCode, AppError> {
    let token = meta.token_hash.clone();
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| {
            tx.execute("SELECT vaidya.auth_revoke_session($1)", &[&token])
                .await?;
            Ok(axum::http::StatusCode::NO_CONTENT)
        })
        .await
}

#[utoipa::path(get, path = "/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = ApiError)))]
pub async fn me(State(app): State<App>, meta: RequestMeta) -> Result<Json<Me>, AppError> {
    RequestTx::begin(&app.pool, &meta)
        .await?
        .run(async |tx| Ok(Json(load_me(tx).await?)))
        .await
}
