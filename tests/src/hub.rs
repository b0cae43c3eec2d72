//! A clinic hub for tests (issue 11): registered and approved through the hub commands'
//! own functions, its copy following the group server, its API served over TLS with its
//! pinned certificate on loopback; and the signed changes a clinic's PCs push to it.

use std::time::Duration;

use anyhow::{Context, Result};
use chrono::Utc;
use serde_json::{json, Value};
use tokio::sync::watch;
use uuid::Uuid;
use vaidya_client::credentials::HubCredential;
use vaidya_client::CredentialStore;
use vaidya_server::hub::follow::{follow, Upstream};
use vaidya_server::hub::replica::Replica;
use vaidya_server::hub::{self, HubError, SignIn};
use vaidya_shared::authorship::{encode_public_key, DeviceSigner};
use vaidya_shared::sync::{EntityKind, Mutation, Operation};

use crate::{Api, Harness, Person, TestDb};

/// A running hub of one clinic. Stopped by [`RunningHub::stop`] (or when dropped, less
/// gracefully).
pub struct RunningHub {
    pub credential: HubCredential,
    pub db: TestDb,
    /// `https://127.0.0.1:<port>`, as announced.
    pub address: String,
    /// The pinned certificate's SHA-256.
    pub pin: String,
    pub status: watch::Receiver<Upstream>,
    stop: watch::Sender<bool>,
    following: tokio::task::JoinHandle<Result<(), HubError>>,
    serving: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl RunningHub {
    /// Registers (as `admin`) and approves (as `doctor`) a hub of `clinic` with the group
    /// server at `server`, keeping its credential in `store`, and runs it: its database, its
    /// copy following the group server (the directory read again every `directory_every`),
    /// its API on loopback over TLS, its address announced.
    pub async fn start(
        h: &Harness,
        store: &CredentialStore,
        server: &str,
        clinic: Uuid,
        admin: &Person,
        doctor: &Person,
        directory_every: Duration,
    ) -> Result<RunningHub> {
        let credential =
            hub::register(store, server, clinic, "Reception hub", sign(admin), false).await?;
        hub::approve(store, clinic, sign(doctor)).await?;
        let tls = credential.tls.clone().context("no TLS identity kept")?;
        let der =
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &tls.certificate)?;
        let pin = vaidya_client::pinned_tls::certificate_sha256(&der);
        let db = h.database().await?;
        let mut replica = Replica::open(db.superuser().await?, clinic)
            .await?
            .with_directory_every(directory_every);
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = format!("https://127.0.0.1:{}", tcp.local_addr()?.port());
        let listener = hub::lan::TlsListener::new(tcp, &tls)?;
        let (stop, stopped) = watch::channel(false);
        let serving = tokio::spawn({
            let mut stopped = stopped.clone();
            let mut settings = db.server_settings(4)?;
            settings.lan_certificate_sha256 = Some(listener.certificate_sha256().to_owned());
            vaidya_server::launch(settings, listener, async move {
                let _ = stopped.changed().await;
            })
        });
        let (status_tx, status) = watch::channel(Upstream::default());
        let following = tokio::spawn({
            let store = store.clone();
            let addresses = vec![address.clone()];
            async move {
                follow(
                    &store,
                    clinic,
                    &mut replica,
                    &addresses,
                    &status_tx,
                    stopped,
                )
                .await
            }
        });
        Ok(RunningHub {
            credential,
            db,
            address,
            pin,
            status,
            stop,
            following,
            serving,
        })
    }

    /// Stops following and serving; what following ended with.
    pub async fn stop(self) -> Result<()> {
        let _ = self.stop.send(true);
        let followed = tokio::time::timeout(Duration::from_secs(10), self.following)
            .await
            .context("the hub did not stop following")??;
        let _ = tokio::time::timeout(Duration::from_secs(10), self.serving).await;
        Ok(followed?)
    }
}

/// Waits (at most ten seconds) until the hub's copy in `db` holds device key `key`: its
/// directory has been read since the key was registered, so that PC can sign in to it.
pub async fn until_hub_knows_key(db: &TestDb, key: Uuid) -> Result<()> {
    let copy = db.superuser().await?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let known: i64 = copy
            .query_one(
                "SELECT count(*) FROM vaidya.device_keys WHERE id = $1",
                &[&key],
            )
            .await?
            .get(0);
        if known == 1 {
            return Ok(());
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the hub never had device key {key} in its directory"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A person's sign-in for the hub commands.
fn sign(p: &Person) -> SignIn<'_> {
    SignIn {
        email: &p.email,
        password: &p.password,
    }
}

/// A device key of `user`, made from `seed`, registered with the group server through
/// `api` (their session).
pub async fn device_key(api: &Api, user: Uuid, seed: u8) -> Result<DeviceSigner> {
    let signer = DeviceSigner::from_secret(user, Uuid::now_v7(), [seed; 32]);
    let (status, body) = api
        .post(
            "/v1/me/device-keys",
            json!({"id": signer.key_id, "public_key": encode_public_key(&signer.public_key())}),
        )
        .await?;
    anyhow::ensure!(status.is_success(), "device key: {status} {body}");
    Ok(signer)
}

/// A create of `entity` made on the PC `device`, signed by `signer` for `clinic`.
pub fn signed_create(
    signer: &DeviceSigner,
    clinic: Uuid,
    device: &str,
    entity: EntityKind,
    id: Uuid,
    data: Value,
) -> Mutation {
    let mut m = Mutation {
        mutation_id: Uuid::now_v7(),
        entity,
        entity_id: id,
        op: Operation::Create,
        base_version: None,
        parent_id: None,
        data: Some(data),
        changes: serde_json::Map::new(),
        made_at: Utc::now(),
        author: None,
        device: Some(device.to_owned()),
    };
    signer.sign(clinic, &mut m);
    m
}
