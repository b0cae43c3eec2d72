//! The HTTP client of the sync server: sign-in, push, pull, the live notification stream
//! (Server-Sent Events) and the few REST calls the sync engine needs.
//!
//! Every request names the protocol version and the device. A 401 is answered by one
//! refresh with the refresh token kept in the keyring, then the request is sent again; the
//! rotated refresh token goes straight back to the keyring. Every failure is a typed
//! [`ApiError`] with a stable [`ApiError::code`]: a server that answers with a truncated or
//! malformed body, or with something that is not Vaidya at all, never causes a panic.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;
use vaidya_shared::api::{
    AuditEntry, AuditQuery, Clinic, ClinicalStoreKey, DesktopUpdate, DesktopUpdateQuery,
    InvoiceSeries, LoginRequest, Me, MedicalRegistration, Member, MemberDevice, MemberPatch,
    NewClinicalStoreKey, NewInvoiceSeries, NewMember, Page, RefreshRequest, Role, Session,
};
use vaidya_shared::compact_pull::CompactPullResponse;
use vaidya_shared::sync::{
    EntityKind, PullResponse, PushRequest, PushResponse, RelayAnswersRequest, RelayAnswersResponse,
    Resolution, ResolveConflict,
};
use vaidya_shared::{ErrorCode, DEVICE_HEADER, PROTOCOL_HEADER, PROTOCOL_VERSION};

use crate::credentials::{CredentialError, CredentialStore};

/// How long one request may take before it counts as a network failure. Pull pages of
/// 1000 whole entities are a few hundred KiB, well inside this on a slow clinic line.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest stretch of silence on the live stream before it is treated as dead.
pub const LIVE_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// A server's `Retry-After` is obeyed up to this long (a wrong header must not park the
/// sync for hours).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the server could not be reached: {0}")]
    Network(String),
    #[error("the server's answer was cut off or is not valid: {0}")]
    MalformedResponse(String),
    #[error("the server answered HTTP {status} without a Vaidya error body")]
    UnexpectedStatus {
        status: u16,
        body: String,
        /// The response's `Retry-After` (a 503 or 429), capped at [`MAX_RETRY_AFTER`].
        retry_after: Option<Duration>,
    },
    #[error("this version of Vaidya is too old for the server: {0}")]
    UpgradeRequired(String),
    #[error("the session has ended; sign in again")]
    Unauthenticated,
    #[error("not signed in")]
    NotSignedIn,
    #[error("the server refused the request ({code:?}): {message}")]
    Server {
        status: u16,
        code: ErrorCode,
        message: String,
        /// The response's `Retry-After` (a 503 or 429), capped at [`MAX_RETRY_AFTER`].
        retry_after: Option<Duration>,
    },
    #[error("invalid server address: {0}")]
    InvalidServer(String),
    #[error(transparent)]
    Credentials(#[from] CredentialError),
}

impl ApiError {
    /// Stable machine-readable code; never renamed once shipped.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Network(_) => "network",
            ApiError::MalformedResponse(_) => "malformed_response",
            ApiError::UnexpectedStatus { .. } => "unexpected_status",
            ApiError::UpgradeRequired(_) => "upgrade_required",
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::NotSignedIn => "not_signed_in",
            ApiError::Server { code, .. } => match code {
                ErrorCode::MalformedBody => "malformed_body",
                ErrorCode::InvalidField => "invalid_field",
                ErrorCode::InvalidParameter => "invalid_parameter",
                ErrorCode::BodyTooLarge => "body_too_large",
                ErrorCode::Unauthenticated => "unauthenticated",
                ErrorCode::InvalidCredentials => "invalid_credentials",
                ErrorCode::TooManyAttempts => "too_many_attempts",
                ErrorCode::Forbidden => "forbidden",
                ErrorCode::InvalidSignature => "invalid_signature",
                ErrorCode::NotFound => "not_found",
                ErrorCode::MethodNotAllowed => "method_not_allowed",
                ErrorCode::VersionConflict => "version_conflict",
                ErrorCode::InvalidState => "invalid_state",
                ErrorCode::AlreadyExists => "already_exists",
                ErrorCode::UpgradeRequired => "upgrade_required",
                ErrorCode::Internal => "server_internal",
                ErrorCode::RetryLater => "retry_later",
            },
            ApiError::InvalidServer(_) => "invalid_server",
            ApiError::Credentials(e) => e.code(),
        }
    }

    /// Worth trying again later: the network, a server hiccup (any 5xx, including
    /// `503 retry_later`, a transient database failure of which nothing was stored), a
    /// throttle (429), a cut-off answer. Wait at least [`retry_after`](Self::retry_after).
    pub fn is_retryable(&self) -> bool {
        match self {
            ApiError::Network(_) | ApiError::MalformedResponse(_) => true,
            ApiError::UnexpectedStatus { status, .. } => *status >= 500 || *status == 429,
            ApiError::Server { status, code, .. } => {
                *status >= 500 || *status == 429 || *code == ErrorCode::RetryLater
            }
            _ => false,
        }
    }

    /// How long the server asked us to wait before trying again (`Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::Server { retry_after, .. }
            | ApiError::UnexpectedStatus { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    fn from_reqwest(err: reqwest::Error) -> ApiError {
        if err.is_body() || err.is_decode() {
            ApiError::MalformedResponse(err.to_string())
        } else {
            ApiError::Network(error_chain(&err))
        }
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Where the refresh token lives, so a 401 can be answered without the caller.
#[derive(Debug, Clone)]
struct Refresher {
    store: CredentialStore,
    user_id: Uuid,
}

#[derive(Debug, Default)]
struct Auth {
    access: Option<String>,
    refresher: Option<Refresher>,
    /// Server time from the last response's `Date` header (for the clock check).
    server_time: Option<DateTime<Utc>>,
    /// This PC's clock minus the server's, at that response.
    clock_offset: Option<chrono::Duration>,
}

/// Request bodies from this size up go compressed with zstd (`Content-Encoding`): a push of
/// a day's offline work shrinks several times on a slow line. Smaller ones are not worth it.
const COMPRESS_FROM_BYTES: usize = 8 * 1024;

/// A request body as JSON bytes, compressed when large; `true` when compressed.
fn encode_body<B: Serialize>(body: &B) -> (Vec<u8>, bool) {
    // Wire types have string keys and plain values: serializing them cannot fail.
    let json = serde_json::to_vec(body).expect("a wire type serializes");
    if json.len() < COMPRESS_FROM_BYTES {
        return (json, false);
    }
    match zstd::bulk::compress(&json, 3) {
        Ok(packed) => (packed, true),
        // Out of memory for the compressor's tables: send it as it is.
        Err(_) => (json, false),
    }
}

/// A client of one sync server. Cheap to clone; clones share the tokens.
#[derive(Debug, Clone)]
pub struct ServerApi {
    http: reqwest::Client,
    base: String,
    device: String,
    auth: Arc<Mutex<Auth>>,
    /// The certificate pin of a clinic hub reached with [`ServerApi::new_pinned`].
    pinned: Option<String>,
}

impl ServerApi {
    /// `base` is the server's URL (`https://sync.example.in`); `device` names this device
    /// in the server's audit trail.
    pub fn new(base: &str, device: &str) -> Result<ServerApi, ApiError> {
        let base = base.trim().trim_end_matches('/').to_owned();
        let url = reqwest::Url::parse(&base).map_err(|e| ApiError::InvalidServer(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ApiError::InvalidServer(format!(
                "{base} is not an http(s) address"
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| ApiError::Network(e.to_string()))?;
        Ok(ServerApi {
            http,
            base,
            device: device.to_owned(),
            auth: Arc::new(Mutex::new(Auth::default())),
            pinned: None,
        })
    }

    /// A client of a clinic hub at `base` (https), which accepts only the certificate
    /// whose SHA-256 is `certificate_sha256`, the one pinned at the hub's registration
    /// (`pinned_tls`).
    /// The certificate pin of the clinic hub this client talks to (`None`: the group
    /// server): which hub took a change in.
    pub fn hub_certificate(&self) -> Option<&str> {
        self.pinned.as_deref()
    }

    pub fn new_pinned(
        base: &str,
        device: &str,
        certificate_sha256: &str,
    ) -> Result<ServerApi, ApiError> {
        let mut api = ServerApi::new(base, device)?;
        if !api.base.starts_with("https://") {
            return Err(ApiError::InvalidServer(format!(
                "{base}: a clinic hub is reached over https only"
            )));
        }
        let tls = crate::pinned_tls::client_config(certificate_sha256)
            .map_err(|e| ApiError::InvalidServer(e.to_string()))?;
        api.http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .https_only(true)
            .use_preconfigured_tls(tls)
            .build()
            .map_err(|e| ApiError::Network(e.to_string()))?;
        api.pinned = Some(certificate_sha256.to_ascii_lowercase());
        Ok(api)
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn device(&self) -> &str {
        &self.device
    }

    fn auth(&self) -> std::sync::MutexGuard<'_, Auth> {
        // A panic while holding this lock cannot leave the token half-written, so a
        // poisoned lock is still usable.
        self.auth.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Uses this access token from now on (for tests and hand-over between processes).
    pub fn set_access_token(&self, token: Option<String>) {
        self.auth().access = token;
    }

    /// Lets a 401 be answered by refreshing with the token kept for `user_id` in `store`.
    pub fn set_refresher(&self, store: CredentialStore, user_id: Uuid) {
        self.auth().refresher = Some(Refresher { store, user_id });
    }

    /// The server's clock as of the last response, if it sent a `Date` header.
    pub fn server_time(&self) -> Option<DateTime<Utc>> {
        self.auth().server_time
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
            .header(DEVICE_HEADER, &self.device);
        if let Some(token) = &self.auth().access {
            req = req.bearer_auth(token);
        }
        req
    }

    fn note_date(&self, resp: &Response) {
        let date = resp
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
            .map(|d| d.with_timezone(&Utc));
        if let Some(date) = date {
            let mut auth = self.auth();
            auth.server_time = Some(date);
            auth.clock_offset = Some(Utc::now() - date);
        }
    }

    /// How far this PC's clock is from the server's, as of the last response with a `Date`
    /// header (positive: the PC is ahead). Good to about a second plus the response's
    /// travel time: enough to tell a PC whose clock or time zone setting is wrong.
    pub fn clock_offset(&self) -> Option<chrono::Duration> {
        self.auth().clock_offset
    }

    /// Sends once; a 401 triggers one refresh and one more try.
    async fn send<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
        timeout: Option<Duration>,
    ) -> Result<Response, ApiError> {
        let body = body.map(encode_body);
        let mut refreshed = false;
        loop {
            let mut req = self.request(method.clone(), path).query(query);
            if let Some(t) = timeout {
                req = req.timeout(t);
            }
            if let Some((bytes, compressed)) = &body {
                req = req
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(bytes.clone());
                if *compressed {
                    req = req.header(reqwest::header::CONTENT_ENCODING, "zstd");
                }
            }
            let resp = req.send().await.map_err(ApiError::from_reqwest)?;
            self.note_date(&resp);
            if resp.status() == StatusCode::UNAUTHORIZED && !refreshed && self.can_refresh() {
                refreshed = true;
                self.refresh_from_keyring().await?;
                continue;
            }
            return Ok(resp);
        }
    }

    fn can_refresh(&self) -> bool {
        self.auth().refresher.is_some()
    }

    /// Refreshes with the keyring-held token and stores the rotated one.
    async fn refresh_from_keyring(&self) -> Result<(), ApiError> {
        let Some(r) = self.auth().refresher.clone() else {
            return Err(ApiError::Unauthenticated);
        };
        let stored = r
            .store
            .session(&self.base, r.user_id)?
            .ok_or(ApiError::Unauthenticated)?;
        let session = match self.refresh(&stored.refresh_token).await {
            Ok(s) => s,
            Err(ApiError::Server {
                code: ErrorCode::Unauthenticated,
                ..
            }) => return Err(ApiError::Unauthenticated),
            Err(e) => return Err(e),
        };
        r.store
            .save_session(&stored.refreshed(&session, self.server_time()))?;
        Ok(())
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<T, ApiError> {
        let resp = self
            .send(method, path, query, body, Some(REQUEST_TIMEOUT))
            .await?;
        decode(resp).await
    }

    /// Signs in; the access token is kept for later calls.
    pub async fn login(&self, email: &str, password: &str) -> Result<Session, ApiError> {
        self.login_from_device(email, password, None).await
    }

    /// Signs in presenting this device's token for the account (from an earlier sign-in):
    /// a known device is throttled on its own, never locked out by others' failed guesses.
    pub async fn login_from_device(
        &self,
        email: &str,
        password: &str,
        device_token: Option<&str>,
    ) -> Result<Session, ApiError> {
        let body = LoginRequest {
            email: email.to_owned(),
            password: password.to_owned(),
            device_token: device_token.map(str::to_owned),
        };
        let resp = self
            .request(Method::POST, "/v1/auth/login")
            .timeout(REQUEST_TIMEOUT)
            .json(&body)
            .send()
            .await
            .map_err(ApiError::from_reqwest)?;
        self.note_date(&resp);
        let session: Session = decode(resp).await?;
        self.set_access_token(Some(session.access_token.clone()));
        Ok(session)
    }

    /// Signs `signer`'s person in to a clinic hub of `clinic` (issue 11): the hub's one-time
    /// challenge, signed with the device key the person registered with the group server.
    /// The access token is kept for later calls.
    pub async fn sign_in_with_device_key(
        &self,
        clinic: Uuid,
        signer: &vaidya_shared::authorship::DeviceSigner,
    ) -> Result<Session, ApiError> {
        let challenge: vaidya_shared::api::DeviceChallenge = self
            .call(
                Method::POST,
                "/v1/auth/device-challenge",
                &[],
                Some(&vaidya_shared::api::DeviceChallengeRequest {
                    clinic_id: clinic,
                    key_id: signer.key_id,
                }),
            )
            .await?;
        let mut answer = vaidya_shared::api::DeviceSignIn {
            clinic_id: clinic,
            challenge_id: challenge.id,
            challenge: challenge.challenge,
            hub_certificate_sha256: self.pinned.clone(),
            author: None,
        };
        signer.sign(clinic, &mut answer);
        let session: Session = self
            .call(Method::POST, "/v1/auth/device-login", &[], Some(&answer))
            .await?;
        self.set_access_token(Some(session.access_token.clone()));
        Ok(session)
    }

    /// Trades a refresh token for a new session (the old refresh token stops working).
    pub async fn refresh(&self, refresh_token: &str) -> Result<Session, ApiError> {
        let body = RefreshRequest {
            refresh_token: refresh_token.to_owned(),
        };
        let resp = self
            .request(Method::POST, "/v1/auth/refresh")
            .timeout(REQUEST_TIMEOUT)
            .json(&body)
            .send()
            .await
            .map_err(ApiError::from_reqwest)?;
        self.note_date(&resp);
        let session: Session = decode(resp).await?;
        self.set_access_token(Some(session.access_token.clone()));
        Ok(session)
    }

    /// Ends the session on the server. The local token is dropped whatever the answer.
    pub async fn logout(&self) -> Result<(), ApiError> {
        let resp = self
            .request(Method::POST, "/v1/auth/logout")
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(ApiError::from_reqwest);
        self.set_access_token(None);
        let resp = resp?;
        if resp.status().is_success() || resp.status() == StatusCode::UNAUTHORIZED {
            Ok(())
        } else {
            Err(error_from(resp).await)
        }
    }

    /// Registers the signed-in user's signing key for this device.
    pub async fn register_device_key(
        &self,
        id: Uuid,
        public_key: &[u8; 32],
    ) -> Result<(), ApiError> {
        let body = vaidya_shared::api::NewDeviceKey {
            id,
            public_key: vaidya_shared::authorship::encode_public_key(public_key),
        };
        self.call_no_content(Method::POST, "/v1/me/device-keys", Some(&body))
            .await
    }

    /// Reports a wipe this device did on a member's revocation, for the clinic's audit
    /// trail. Sent again with the same id, it is recorded once.
    pub async fn report_wipe(&self, wipe: &vaidya_shared::api::DeviceWipe) -> Result<(), ApiError> {
        self.call_no_content(Method::POST, "/v1/me/device-wipes", Some(wipe))
            .await
    }

    /// A request to a route that answers success without a body (204), with the same
    /// refresh-and-retry as every other call.
    async fn call_no_content<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<(), ApiError> {
        let resp = self
            .send(method, path, &[], body, Some(REQUEST_TIMEOUT))
            .await?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(error_from(resp).await)
        }
    }

    pub async fn me(&self) -> Result<Me, ApiError> {
        self.call::<(), _>(Method::GET, "/v1/me", &[], None).await
    }

    /// The desktop release the server announces for this build (no sign-in needed: a PC too
    /// old to sync must still learn of it); `None` when up to date or nothing is published.
    pub async fn desktop_update(
        &self,
        query: &DesktopUpdateQuery,
    ) -> Result<Option<DesktopUpdate>, ApiError> {
        let mut params = vec![
            ("target", query.target.as_str().to_owned()),
            ("arch", query.arch.as_str().to_owned()),
            ("version", query.version.clone()),
        ];
        if let Some(bundle) = query.bundle {
            params.push(("bundle", bundle.as_str().to_owned()));
        }
        let resp = self
            .request(Method::GET, "/v1/desktop/update")
            .query(&params)
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(ApiError::from_reqwest)?;
        self.note_date(&resp);
        if resp.status() == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        decode(resp).await.map(Some)
    }

    pub async fn push(&self, clinic: Uuid, req: &PushRequest) -> Result<PushResponse, ApiError> {
        let resp: PushResponse = self
            .call(
                Method::POST,
                &format!("/v1/clinics/{clinic}/sync/push"),
                &[],
                Some(req),
            )
            .await?;
        if resp.results.len() != req.mutations.len() {
            return Err(ApiError::MalformedResponse(format!(
                "{} results for {} mutations",
                resp.results.len(),
                req.mutations.len()
            )));
        }
        Ok(resp)
    }

    /// What the group server answered for changes a clinic hub took in (asked of the hub).
    pub async fn relay_answers(
        &self,
        clinic: Uuid,
        req: &RelayAnswersRequest,
    ) -> Result<RelayAnswersResponse, ApiError> {
        self.call(
            Method::POST,
            &format!("/v1/clinics/{clinic}/sync/relay-answers"),
            &[],
            Some(req),
        )
        .await
    }

    pub async fn pull(
        &self,
        clinic: Uuid,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> Result<PullResponse, ApiError> {
        Ok(self.pull_sized(clinic, cursor, limit).await?.0)
    }

    /// A pull page and the size of its body in bytes (for progress).
    pub async fn pull_sized(
        &self,
        clinic: Uuid,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> Result<(PullResponse, usize), ApiError> {
        let mut query = Vec::new();
        if let Some(c) = cursor {
            query.push(("cursor", c.to_owned()));
        }
        if let Some(l) = limit {
            query.push(("limit", l.to_string()));
        }
        // Each kind's field names once per page, no clinic id per row (`compact_pull`).
        query.push(("format", "compact".to_owned()));
        let resp = self
            .send::<()>(
                Method::GET,
                &format!("/v1/clinics/{clinic}/sync/pull"),
                &query,
                None,
                Some(REQUEST_TIMEOUT),
            )
            .await?;
        if !resp.status().is_success() {
            return Err(error_from(resp).await);
        }
        let bytes = resp.bytes().await.map_err(ApiError::from_reqwest)?;
        let page: CompactPullResponse = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::MalformedResponse(format!("{e} (after {} bytes)", bytes.len()))
        })?;
        let page = page
            .into_page(clinic)
            .map_err(|e| ApiError::MalformedResponse(e.to_string()))?;
        Ok((page, bytes.len()))
    }

    /// The server's current state of one entity through the REST API; `None` when the
    /// server has no such row for this user (deleted, or not visible to the role).
    pub async fn fetch_entity(
        &self,
        clinic: Uuid,
        entity: EntityKind,
        id: Uuid,
    ) -> Result<Option<Value>, ApiError> {
        // Only kinds cached as rows of their own are fetched again (see the registry).
        let spec = entity.spec();
        let (Some(_), Some(collection)) = (spec.device_table, spec.collection) else {
            return Ok(None);
        };
        match self
            .call::<(), Value>(
                Method::GET,
                &format!("/v1/clinics/{clinic}/{collection}/{id}"),
                &[],
                None,
            )
            .await
        {
            Ok(v) => Ok(Some(v)),
            Err(ApiError::Server {
                code: ErrorCode::NotFound | ErrorCode::Forbidden,
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Resolves a conflict of the inbox at once (online alternative to pushing it).
    pub async fn resolve_conflict(
        &self,
        clinic: Uuid,
        conflict: Uuid,
        resolution: Resolution,
    ) -> Result<Value, ApiError> {
        self.call(
            Method::POST,
            &format!("/v1/clinics/{clinic}/conflicts/{conflict}/resolve"),
            &[],
            Some(&ResolveConflict { resolution }),
        )
        .await
    }

    /// The clinic's details: name, GSTIN, GST state code and address (for tax invoices).
    pub async fn clinic(&self, clinic: Uuid) -> Result<Clinic, ApiError> {
        self.call::<(), _>(Method::GET, &format!("/v1/clinics/{clinic}"), &[], None)
            .await
    }

    /// The code this PC's file of the clinic numbers its offline invoices under
    /// (`numbering`): allocated by the server once per file and bound to this device.
    pub async fn invoice_series(
        &self,
        clinic: Uuid,
        partition_id: &str,
    ) -> Result<String, ApiError> {
        let body = NewInvoiceSeries {
            partition_id: partition_id.to_owned(),
        };
        let series: InvoiceSeries = self
            .call(
                Method::POST,
                &format!("/v1/clinics/{clinic}/invoice-series"),
                &[],
                Some(&body),
            )
            .await?;
        Ok(series.code)
    }

    /// The key of this PC's clinic file's clinical store (only clinicians get it).
    pub async fn clinical_store_key(
        &self,
        clinic: Uuid,
        partition_id: &str,
    ) -> Result<ClinicalStoreKey, ApiError> {
        let body = NewClinicalStoreKey {
            partition_id: partition_id.to_owned(),
        };
        self.call(
            Method::POST,
            &format!("/v1/clinics/{clinic}/clinical-store-key"),
            &[],
            Some(&body),
        )
        .await
    }

    /// The clinic's members (every role may list them: the doctor picker needs it).
    pub async fn members(&self, clinic: Uuid) -> Result<Vec<Member>, ApiError> {
        self.call::<(), _>(
            Method::GET,
            &format!("/v1/clinics/{clinic}/members"),
            &[],
            None,
        )
        .await
    }

    /// Which devices hold each member's data: their signing keys (clinic admins only).
    pub async fn member_devices(&self, clinic: Uuid) -> Result<Vec<MemberDevice>, ApiError> {
        self.call::<(), _>(
            Method::GET,
            &format!("/v1/clinics/{clinic}/device-keys"),
            &[],
            None,
        )
        .await
    }

    /// Adds a colleague of the clinic's group, or invites anyone else (clinic admins only).
    pub async fn add_member(
        &self,
        clinic: Uuid,
        new: &NewMember,
    ) -> Result<vaidya_shared::api::MemberAdded, ApiError> {
        self.call(
            Method::POST,
            &format!("/v1/clinics/{clinic}/members"),
            &[],
            Some(new),
        )
        .await
    }

    /// The clinic's open invitations (clinic admins).
    pub async fn clinic_invitations(
        &self,
        clinic: Uuid,
    ) -> Result<Vec<vaidya_shared::api::Invitation>, ApiError> {
        self.call::<(), _>(
            Method::GET,
            &format!("/v1/clinics/{clinic}/invitations"),
            &[],
            None,
        )
        .await
    }

    /// Withdraws an open invitation (clinic admins).
    pub async fn withdraw_invitation(&self, clinic: Uuid, id: Uuid) -> Result<(), ApiError> {
        self.call_no_content::<()>(
            Method::DELETE,
            &format!("/v1/clinics/{clinic}/invitations/{id}"),
            None,
        )
        .await
    }

    /// The signed-in user's open invitations.
    pub async fn my_invitations(&self) -> Result<Vec<vaidya_shared::api::Invitation>, ApiError> {
        self.call::<(), _>(Method::GET, "/v1/me/invitations", &[], None)
            .await
    }

    /// Accepts an invitation; answers the user's memberships as they are now.
    pub async fn accept_invitation(&self, id: Uuid) -> Result<Me, ApiError> {
        self.call(
            Method::POST,
            &format!("/v1/me/invitations/{id}/accept"),
            &[],
            Some(&serde_json::json!({})),
        )
        .await
    }

    /// Declines an invitation.
    pub async fn decline_invitation(&self, id: Uuid) -> Result<(), ApiError> {
        self.call_no_content(
            Method::POST,
            &format!("/v1/me/invitations/{id}/decline"),
            Some(&serde_json::json!({})),
        )
        .await
    }

    /// Changes a member's role (clinic admins only).
    pub async fn update_member(
        &self,
        clinic: Uuid,
        member: Uuid,
        role: Role,
    ) -> Result<Member, ApiError> {
        self.call(
            Method::PATCH,
            &format!("/v1/clinics/{clinic}/members/{member}"),
            &[],
            Some(&MemberPatch { role }),
        )
        .await
    }

    /// Records a doctor's medical registration for the clinic (clinic admins only).
    pub async fn set_member_registration(
        &self,
        clinic: Uuid,
        member: Uuid,
        registration: &MedicalRegistration,
    ) -> Result<Member, ApiError> {
        self.call(
            Method::PUT,
            &format!("/v1/clinics/{clinic}/members/{member}/registration"),
            &[],
            Some(registration),
        )
        .await
    }

    /// Revokes a membership (clinic admins only).
    pub async fn revoke_member(&self, clinic: Uuid, member: Uuid) -> Result<(), ApiError> {
        self.call_no_content::<()>(
            Method::DELETE,
            &format!("/v1/clinics/{clinic}/members/{member}"),
            None,
        )
        .await
    }

    /// Registers a clinic hub (clinic admins only); it waits for a doctor's approval.
    pub async fn register_hub(
        &self,
        clinic: Uuid,
        name: &str,
        certificate_sha256: Option<&str>,
    ) -> Result<vaidya_shared::api::Hub, ApiError> {
        let body = vaidya_shared::api::NewHub {
            name: name.to_owned(),
            certificate_sha256: certificate_sha256.map(str::to_owned),
        };
        self.call(
            Method::POST,
            &format!("/v1/clinics/{clinic}/hubs"),
            &[],
            Some(&body),
        )
        .await
    }

    /// Approves a registered hub (a doctor of the clinic): it becomes a member, and the
    /// answer carries its refresh token, shown this once.
    pub async fn approve_hub(
        &self,
        clinic: Uuid,
        hub: Uuid,
    ) -> Result<vaidya_shared::api::HubApproved, ApiError> {
        self.call::<(), _>(
            Method::POST,
            &format!("/v1/clinics/{clinic}/hubs/{hub}/approve"),
            &[],
            None,
        )
        .await
    }

    /// The clinic's hubs, waiting, approved and revoked (clinic admins and approvers).
    pub async fn hubs(&self, clinic: Uuid) -> Result<Vec<vaidya_shared::api::Hub>, ApiError> {
        self.call::<(), _>(
            Method::GET,
            &format!("/v1/clinics/{clinic}/hubs"),
            &[],
            None,
        )
        .await
    }

    /// The clinic's people and their device keys' public halves (the clinic's hub only).
    pub async fn directory(&self, clinic: Uuid) -> Result<vaidya_shared::api::Directory, ApiError> {
        self.call::<(), _>(
            Method::GET,
            &format!("/v1/clinics/{clinic}/directory"),
            &[],
            None,
        )
        .await
    }

    /// As the clinic's hub: where it answers on the clinic's network.
    pub async fn announce_hub(
        &self,
        clinic: Uuid,
        hub: Uuid,
        addresses: &[String],
    ) -> Result<(), ApiError> {
        self.call_no_content(
            Method::PUT,
            &format!("/v1/clinics/{clinic}/hubs/{hub}/addresses"),
            Some(&vaidya_shared::api::HubAddresses {
                addresses: addresses.to_vec(),
            }),
        )
        .await
    }

    /// Where the clinic's PCs find its hubs, with each one's pinned certificate.
    pub async fn hub_endpoints(
        &self,
        clinic: Uuid,
    ) -> Result<Vec<vaidya_shared::api::HubEndpoint>, ApiError> {
        self.call::<(), _>(
            Method::GET,
            &format!("/v1/clinics/{clinic}/hub-endpoints"),
            &[],
            None,
        )
        .await
    }

    /// One page of the clinic's stored rows for its hub (the clinic's hub only).
    pub async fn hub_feed(
        &self,
        clinic: Uuid,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> Result<vaidya_shared::sync::HubFeedPage, ApiError> {
        let mut query = Vec::new();
        if let Some(c) = cursor {
            query.push(("cursor", c.to_owned()));
        }
        if let Some(l) = limit {
            query.push(("limit", l.to_string()));
        }
        self.call::<(), _>(
            Method::GET,
            &format!("/v1/clinics/{clinic}/hub/feed"),
            &query,
            None,
        )
        .await
    }

    /// Revokes a clinic hub (clinic admins only): every session of it stops at once.
    pub async fn revoke_hub(&self, clinic: Uuid, hub: Uuid) -> Result<(), ApiError> {
        self.call_no_content::<()>(
            Method::DELETE,
            &format!("/v1/clinics/{clinic}/hubs/{hub}"),
            None,
        )
        .await
    }

    /// One page of the clinic's audit trail (clinic admins only).
    pub async fn audit(
        &self,
        clinic: Uuid,
        query: &AuditQuery,
    ) -> Result<Page<AuditEntry>, ApiError> {
        self.call::<(), _>(
            Method::GET,
            &format!("/v1/clinics/{clinic}/audit"),
            &audit_params(query),
            None,
        )
        .await
    }

    /// Merges a duplicate record into the patient who stays (clinic admins; online).
    pub async fn merge_patients(
        &self,
        clinic: Uuid,
        survivor: Uuid,
        merge: &vaidya_shared::api::MergePatients,
    ) -> Result<vaidya_shared::api::Patient, ApiError> {
        self.call(
            Method::POST,
            &format!("/v1/clinics/{clinic}/patients/{survivor}/merge"),
            &[],
            Some(merge),
        )
        .await
    }

    /// A group's catalogue over the branches the caller administers.
    pub async fn group_catalogue(
        &self,
        group: Uuid,
    ) -> Result<vaidya_shared::api::GroupCatalogue, ApiError> {
        self.call::<(), _>(
            Method::GET,
            &format!("/v1/groups/{group}/catalogue"),
            &[],
            None,
        )
        .await
    }

    /// Adds an item to several branches of a group, or copies one to more branches.
    pub async fn add_group_catalogue_item(
        &self,
        group: Uuid,
        new: &vaidya_shared::api::NewGroupCatalogueItem,
    ) -> Result<vaidya_shared::api::GroupCatalogueItem, ApiError> {
        self.call(
            Method::POST,
            &format!("/v1/groups/{group}/catalogue"),
            &[],
            Some(new),
        )
        .await
    }

    /// Changes an item in every branch of the group the caller administers that holds it.
    pub async fn update_group_catalogue_item(
        &self,
        group: Uuid,
        id: Uuid,
        patch: &vaidya_shared::api::CatalogueItemPatch,
    ) -> Result<vaidya_shared::api::GroupCatalogueItem, ApiError> {
        self.call(
            Method::PATCH,
            &format!("/v1/groups/{group}/catalogue/{id}"),
            &[],
            Some(patch),
        )
        .await
    }

    /// What the clinic collected per day and payment mode over a period (online only).
    /// A group's collections, branch by branch (the branches the caller administers).
    pub async fn group_collections(
        &self,
        group: Uuid,
        query: &vaidya_shared::api::CollectionsQuery,
    ) -> Result<vaidya_shared::api::GroupCollectionsReport, ApiError> {
        self.call::<(), _>(
            Method::GET,
            &format!("/v1/groups/{group}/reports/collections"),
            &[
                ("from", query.from.to_string()),
                ("to", query.to.to_string()),
            ],
            None,
        )
        .await
    }

    pub async fn collections_report(
        &self,
        clinic: Uuid,
        query: &vaidya_shared::api::CollectionsQuery,
    ) -> Result<vaidya_shared::api::CollectionsReport, ApiError> {
        self.call::<(), _>(
            Method::GET,
            &format!("/v1/clinics/{clinic}/reports/collections"),
            &[
                ("from", query.from.to_string()),
                ("to", query.to.to_string()),
            ],
            None,
        )
        .await
    }

    /// The clinic's GSTR-1 for a month or a quarter (computed by the server under RLS).
    pub async fn gstr1_report(
        &self,
        clinic: Uuid,
        query: &vaidya_shared::gstr1::Gstr1Query,
    ) -> Result<vaidya_shared::gstr1::Gstr1Report, ApiError> {
        let mut params = vec![
            ("year", query.year.to_string()),
            ("month", query.month.to_string()),
        ];
        if let Some(months) = query.months {
            params.push(("months", months.to_string()));
        }
        self.call::<(), _>(
            Method::GET,
            &format!("/v1/clinics/{clinic}/reports/gstr1"),
            &params,
            None,
        )
        .await
    }

    /// Opens the clinic's live notification stream.
    pub async fn live(&self, clinic: Uuid) -> Result<LiveEvents, ApiError> {
        let resp = self
            .send::<()>(
                Method::GET,
                &format!("/v1/clinics/{clinic}/sync/live"),
                &[],
                None,
                None,
            )
            .await?;
        if !resp.status().is_success() {
            return Err(error_from(resp).await);
        }
        Ok(LiveEvents {
            stream: Box::pin(resp.bytes_stream().map(|chunk| chunk.map(|b| b.to_vec()))),
            buffer: Vec::new(),
            event: None,
            data: String::new(),
        })
    }
}

/// The query string of an audit request; absent filters are left out.
pub fn audit_params(q: &AuditQuery) -> Vec<(&'static str, String)> {
    let ts = |t: &DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let mut out = Vec::new();
    if let Some(p) = q.patient_id {
        out.push(("patient_id", p.to_string()));
    }
    if let Some(u) = q.user_id {
        out.push(("user_id", u.to_string()));
    }
    if let Some(a) = q.action {
        out.push(("action", a.as_str().to_owned()));
    }
    if let Some(f) = &q.from {
        out.push(("from", ts(f)));
    }
    if let Some(t) = &q.to {
        out.push(("to", ts(t)));
    }
    if let Some(l) = q.limit {
        out.push(("limit", l.to_string()));
    }
    if let Some(o) = q.offset {
        out.push(("offset", o.to_string()));
    }
    out
}

/// Turns a response into `T`, or into the typed error its status and body describe.
async fn decode<T: DeserializeOwned>(resp: Response) -> Result<T, ApiError> {
    if !resp.status().is_success() {
        return Err(error_from(resp).await);
    }
    let bytes = resp.bytes().await.map_err(ApiError::from_reqwest)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::MalformedResponse(format!("{e} (after {} bytes)", bytes.len())))
}

/// `Retry-After` as delta-seconds or an HTTP date, capped at [`MAX_RETRY_AFTER`].
fn retry_after_of(resp: &Response) -> Option<Duration> {
    let value = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let wait = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = DateTime::parse_from_rfc2822(value)
                .ok()?
                .with_timezone(&Utc);
            (at - Utc::now()).to_std().unwrap_or(Duration::ZERO)
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

async fn error_from(resp: Response) -> ApiError {
    let status = resp.status().as_u16();
    let retry_after = retry_after_of(&resp);
    let bytes = resp.bytes().await.unwrap_or_default();
    match serde_json::from_slice::<vaidya_shared::ApiError>(&bytes) {
        Ok(body) if body.code == ErrorCode::UpgradeRequired || status == 426 => {
            ApiError::UpgradeRequired(body.message)
        }
        Ok(body) => ApiError::Server {
            status,
            code: body.code,
            message: body.message,
            retry_after,
        },
        Err(_) if status == 426 => {
            ApiError::UpgradeRequired("the server requires a newer protocol".to_owned())
        }
        Err(_) => ApiError::UnexpectedStatus {
            status,
            body: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
            retry_after,
        },
    }
}

type ByteStream = std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<Vec<u8>>> + Send>>;

/// The live notification stream: yields the name of each event (`changed`).
pub struct LiveEvents {
    stream: ByteStream,
    buffer: Vec<u8>,
    event: Option<String>,
    data: String,
}

/// One Server-Sent Event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveEvent {
    pub event: String,
    pub data: String,
}

impl LiveEvents {
    /// The next event; `None` when the server closed the stream. Comments (keep-alives)
    /// are skipped; silence longer than [`LIVE_IDLE_TIMEOUT`] is a network error.
    pub async fn next(&mut self) -> Option<Result<LiveEvent, ApiError>> {
        loop {
            while let Some(pos) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=pos).collect();
                let line = String::from_utf8_lossy(&line);
                let line = line.trim_end_matches(['\n', '\r']);
                if line.is_empty() {
                    // A blank line ends an event; one without data is ignored (per spec).
                    let event = self.event.take().unwrap_or_else(|| "message".to_owned());
                    let data = std::mem::take(&mut self.data);
                    if !data.is_empty() || event != "message" {
                        return Some(Ok(LiveEvent {
                            event,
                            data: data.trim_end_matches('\n').to_owned(),
                        }));
                    }
                    continue;
                }
                if line.starts_with(':') {
                    continue;
                }
                let (field, value) = match line.split_once(':') {
                    Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                    None => (line, ""),
                };
                match field {
                    "event" => self.event = Some(value.to_owned()),
                    "data" => {
                        self.data.push_str(value);
                        self.data.push('\n');
                    }
                    _ => {}
                }
            }
            match tokio::time::timeout(LIVE_IDLE_TIMEOUT, self.stream.next()).await {
                Err(_) => {
                    return Some(Err(ApiError::Network(
                        "the live stream went silent".to_owned(),
                    )))
                }
                Ok(None) => return None,
                Ok(Some(Err(e))) => return Some(Err(ApiError::from_reqwest(e))),
                Ok(Some(Ok(chunk))) => self.buffer.extend_from_slice(&chunk),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A server whose clock is `behind` this PC's: every answer is a Vaidya 401 with that
    /// `Date`.
    async fn server_behind(behind: chrono::Duration) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = sock.read(&mut buf).await;
                let body = r#"{"code":"unauthenticated","message":"wrong email or password"}"#;
                let date = (Utc::now() - behind).to_rfc2822();
                let answer = format!(
                    "HTTP/1.1 401 Unauthorized\r\ndate: {date}\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(answer.as_bytes()).await;
            }
        });
        base
    }

    #[tokio::test]
    async fn the_pcs_clock_is_measured_against_the_servers() {
        let api = ServerApi::new(&server_behind(chrono::Duration::hours(1)).await, "t").unwrap();
        assert_eq!(
            api.clock_offset(),
            None,
            "nothing measured before an answer"
        );
        assert!(api.login("a@b.in", "wrong").await.is_err());
        let offset = api.clock_offset().expect("measured from the Date header");
        // The PC is an hour ahead, give or take the header's second and the round trip.
        assert!(
            (offset - chrono::Duration::hours(1)).num_seconds().abs() <= 2,
            "{offset}"
        );
    }
}
