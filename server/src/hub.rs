//! `vaidya-server hub`: the clinic hub's side of its registration with the group server
//! (issue 11; ARCHITECTURE.md "The clinic hub").
//!
//! On the hub machine a clinic admin runs `hub register`: it signs in as that admin, has the
//! group server register the hub (`POST /v1/clinics/{id}/hubs`), keeps the registration in
//! this machine's OS keyring (never a file) and ends the admin's session, so no
//! person's credential stays on the hub. A doctor of the clinic then runs `hub approve` on
//! the same machine: the approval hands out the hub's credential, kept in the keyring with
//! the registration (the hub reads clinical records, which an admin may not: two people,
//! see `routes::hubs`, and the admin never holds its token); until then it is no member. `hub status` connects as the hub: it trades the
//! kept token for a session, keeps the rotated token at once, and checks that the session is
//! the hub of exactly that clinic. A hub the server no longer knows (revoked) forgets its
//! credential, which can never work again.

pub mod follow;
pub mod lan;
pub mod relay;
pub mod replica;

use base64::Engine;
use chrono::{DateTime, Utc};
use uuid::Uuid;
use vaidya_client::credentials::{HubCredential, HubTls};
use vaidya_client::{ApiError, CredentialError, CredentialStore, ServerApi};
use vaidya_shared::api::Role;
use vaidya_shared::ErrorCode;

/// How the hub names itself to the group server (`x-vaidya-device`, the audit trail).
pub const DEVICE: &str = "Vaidya clinic hub";

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("{0}")]
    Api(#[from] ApiError),
    #[error("{0}")]
    Keyring(#[from] CredentialError),
    #[error(
        "this machine is not registered as the hub of clinic {0}: run `vaidya-server hub register`"
    )]
    NotRegistered(Uuid),
    #[error("the group server no longer accepts this hub (revoked, or its credential expired); its credential was removed: register it again")]
    Revoked,
    #[error("the server's session is not the hub of clinic {0}")]
    NotTheHub(Uuid),
    #[error("this machine is already the hub of clinic {0}: register again with --replace to replace it (the old hub is revoked)")]
    AlreadyRegistered(Uuid),
    #[error("the hub of clinic {0} is registered but waits for a doctor of the clinic to approve it: run `vaidya-server hub approve`")]
    AwaitingApproval(Uuid),
    #[error("the group server runs schema {theirs} and this hub {ours}: upgrade the one that is behind; nothing was written")]
    SchemaMismatch { ours: String, theirs: String },
    #[error("the group server's feed was refused, nothing of it written: {0}")]
    FeedInvalid(String),
    #[error("the hub's database: {0}")]
    Database(#[from] tokio_postgres::Error),
    #[error("the hub's TLS identity: {0}")]
    Tls(String),
}

impl HubError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            HubError::Api(e) => e.code(),
            HubError::Keyring(e) => e.code(),
            HubError::NotRegistered(_) => "hub_not_registered",
            HubError::Revoked => "hub_revoked",
            HubError::NotTheHub(_) => "hub_not_the_hub",
            HubError::AlreadyRegistered(_) => "hub_already_registered",
            HubError::AwaitingApproval(_) => "hub_awaiting_approval",
            HubError::SchemaMismatch { .. } => "hub_schema_mismatch",
            HubError::FeedInvalid(_) => "hub_feed_invalid",
            HubError::Database(_) => "hub_database",
            HubError::Tls(_) => "hub_tls",
        }
    }
}

/// A person's sign-in, used once: the admin who registers the hub, the doctor who approves it.
pub struct SignIn<'a> {
    pub email: &'a str,
    pub password: &'a str,
}

/// Registers this machine as the hub of `clinic` with the group server at `server`, signed
/// in as the clinic admin `admin`, and keeps the hub's credential in `store`. A machine that
/// is already the clinic's hub is refused unless `replace`: then the old hub is revoked once
/// the new one is kept. The admin's session ends before this returns, whatever the outcome.
pub async fn register(
    store: &CredentialStore,
    server: &str,
    clinic: Uuid,
    name: &str,
    admin: SignIn<'_>,
    replace: bool,
) -> Result<HubCredential, HubError> {
    store.check_available()?;
    let old = store.hub_credential(clinic)?;
    if old.is_some() && !replace {
        return Err(HubError::AlreadyRegistered(clinic));
    }
    let api = ServerApi::new(server, DEVICE)?;
    api.login(admin.email, admin.password).await?;
    let kept = register_as_admin(&api, store, clinic, name, old.as_ref()).await;
    // The admin's session is not the hub's: it ends here whatever happened.
    let _ = api.logout().await;
    kept
}

/// [`register`]'s part under the admin's session.
async fn register_as_admin(
    api: &ServerApi,
    store: &CredentialStore,
    clinic: Uuid,
    name: &str,
    old: Option<&HubCredential>,
) -> Result<HubCredential, HubError> {
    let (tls, pin) = new_tls_identity(name)?;
    let hub = api.register_hub(clinic, name, Some(&pin)).await?;
    // The registration alone: the credential comes with a doctor's approval (`approve`).
    let credential = HubCredential {
        server: api.base().to_owned(),
        clinic_id: clinic,
        hub_id: hub.id,
        name: hub.name,
        refresh_token: None,
        refresh_expires_at: None,
        tls: Some(tls),
    };
    if let Err(e) = store.save_hub_credential(&credential) {
        // A registration this machine could not keep would wait for an approval no one can
        // use: revoke it at once (best effort; the admin's list shows it otherwise).
        let _ = api.revoke_hub(clinic, credential.hub_id).await;
        return Err(e.into());
    }
    if let Some(old) = old.filter(|o| o.hub_id != credential.hub_id) {
        // Already revoked (or never known to this server) is fine: it is gone either way.
        // Any other failure leaves the old hub to be revoked from the Admin screen; the new
        // one is registered and kept, so that is said, not failed.
        match api.revoke_hub(clinic, old.hub_id).await {
            Ok(())
            | Err(ApiError::Server {
                code: ErrorCode::NotFound,
                ..
            }) => {}
            Err(e) => tracing::warn!(
                old_hub = %old.hub_id,
                error = %e,
                "the replaced hub could not be revoked: revoke it from the Admin screen"
            ),
        }
    }
    Ok(credential)
}

/// The fingerprint of the hub's kept certificate, its SHA-256 in groups of four hex digits:
/// what `hub status` prints, to compare on the group server's list of the clinic's hubs
/// (the Admin screen shows its first four groups). `None` when nothing readable is kept.
pub fn certificate_fingerprint(tls: &HubTls) -> Option<String> {
    let der = base64::engine::general_purpose::STANDARD
        .decode(&tls.certificate)
        .ok()?;
    let pin = vaidya_client::pinned_tls::certificate_sha256(&der);
    Some(
        pin.as_bytes()
            .chunks(4)
            .map(|group| String::from_utf8_lossy(group).into_owned())
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// A new TLS identity for the hub on its clinic's network: a self-signed certificate (ECDSA
/// P-256) and its key, and the certificate's SHA-256, which the group server pins. No CA
/// is involved: the clinic's PCs accept exactly this certificate (`vaidya_client::
/// pinned_tls`), so names, addresses and validity dates carry no trust here.
fn new_tls_identity(name: &str) -> Result<(HubTls, String), HubError> {
    let tls = |e: rcgen::Error| HubError::Tls(e.to_string());
    let key = rcgen::KeyPair::generate().map_err(tls)?;
    let mut params =
        rcgen::CertificateParams::new(vec!["vaidya-hub.local".to_owned()]).map_err(tls)?;
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("Vaidya clinic hub: {name}"),
    );
    let certificate = params.self_signed(&key).map_err(tls)?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let pin = vaidya_client::pinned_tls::certificate_sha256(certificate.der());
    Ok((
        HubTls {
            certificate: b64.encode(certificate.der()),
            private_key: b64.encode(key.serialize_der()),
        },
        pin,
    ))
}

/// Approves the hub registered in `store` for `clinic`, signed in as `doctor` (a doctor of
/// the clinic, not the admin who registered it), and keeps the credential the approval
/// hands out. The doctor's session ends before this returns.
pub async fn approve(
    store: &CredentialStore,
    clinic: Uuid,
    doctor: SignIn<'_>,
) -> Result<vaidya_shared::api::Hub, HubError> {
    let mut credential = store
        .hub_credential(clinic)?
        .ok_or(HubError::NotRegistered(clinic))?;
    let api = ServerApi::new(&credential.server, DEVICE)?;
    api.login(doctor.email, doctor.password).await?;
    let approved = api.approve_hub(clinic, credential.hub_id).await;
    let _ = api.logout().await;
    let approved = approved?;
    credential.refresh_token = Some(approved.refresh_token);
    credential.refresh_expires_at = Some(approved.refresh_expires_at);
    store.save_hub_credential(&credential)?;
    Ok(approved.hub)
}

/// The hub, connected to the group server.
pub struct Connected {
    pub api: ServerApi,
    pub credential: HubCredential,
    pub clinic_name: String,
    pub group_name: String,
    pub access_expires_at: DateTime<Utc>,
}

/// Connects to the group server as the hub of `clinic`, with the credential kept in `store`.
/// The rotated refresh token is kept before anything else happens, so a crash right after
/// never leaves the hub with a token the server has replaced.
pub async fn connect(store: &CredentialStore, clinic: Uuid) -> Result<Connected, HubError> {
    let mut credential = store
        .hub_credential(clinic)?
        .ok_or(HubError::NotRegistered(clinic))?;
    let Some(token) = credential.refresh_token.clone() else {
        return Err(HubError::AwaitingApproval(clinic));
    };
    let api = ServerApi::new(&credential.server, DEVICE)?;
    let session = match api.refresh(&token).await {
        Ok(session) => session,
        Err(
            ApiError::Unauthenticated
            | ApiError::Server {
                code: ErrorCode::Unauthenticated,
                ..
            },
        ) => {
            store.delete_hub_credential(clinic)?;
            return Err(HubError::Revoked);
        }
        Err(e) => return Err(e.into()),
    };
    credential.refresh_token = Some(session.refresh_token.clone());
    credential.refresh_expires_at = Some(session.refresh_expires_at);
    store.save_hub_credential(&credential)?;
    if session.user.id != credential.hub_id {
        return Err(HubError::NotTheHub(clinic));
    }
    let membership = match session.memberships.as_slice() {
        [] => return Err(HubError::AwaitingApproval(clinic)),
        [m] if m.clinic_id == clinic && m.role == Role::Hub => m,
        _ => return Err(HubError::NotTheHub(clinic)),
    };
    Ok(Connected {
        clinic_name: membership.clinic_name.clone(),
        group_name: membership.group_name.clone(),
        access_expires_at: session.access_expires_at,
        api,
        credential,
    })
}
