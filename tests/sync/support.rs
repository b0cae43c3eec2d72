//! The list of tests and what they share: a device (data dir, keyring service, proxy,
//! signed-in client) and the server's state read through its REST API.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tempfile::TempDir;
use uuid::Uuid;
use vaidya_client::session::{Client, ClientConfig};
use vaidya_client::{CredentialStore, DataDir, OpenClinic, SyncEngine, SyncOptions, SyncReport};
use vaidya_shared::api::{Appointment, Page, Patient};
use vaidya_tests::proxy::Proxy;
use vaidya_tests::{Api, Harness, Person, TestServer};

pub type TestFuture = Pin<Box<dyn Future<Output = Result<()>> + Send>>;
pub type TestFn = fn(Arc<Harness>) -> TestFuture;

macro_rules! tests {
    ($($path:path),* $(,)?) => {
        pub const TESTS: &[(&str, TestFn)] = &[
            $((stringify!($path), |h| Box::pin($path(h)))),*
        ];
    };
}

tests![
    crate::round_trip::offline_work_reaches_another_device,
    crate::round_trip::a_day_of_long_offline_notes_goes_up,
    crate::round_trip::a_conflict_decided_on_the_pc_applies_its_value,
    crate::round_trip::other_clinic_is_refused_and_audited,
    crate::round_trip::revoked_member_partition_is_wiped,
    crate::round_trip::same_push_twice_applies_once,
    crate::round_trip::live_notification_triggers_pull,
    crate::round_trip::held_back_change_reaches_a_live_device,
    crate::round_trip::offline_invoices_use_the_device_series,
    crate::round_trip::an_offline_refund_and_cancellation_reach_the_books,
    crate::round_trip::a_discarded_device_invoice_number_reaches_the_books,
    crate::round_trip::partition_file_holds_no_plaintext_after_sync,
    crate::round_trip::offline_signed_note_and_prescription_reach_the_server,
    crate::bad_input::corrupted_partition_is_a_typed_error,
    crate::bad_input::truncated_and_malformed_answers_lose_nothing,
    crate::bad_input::clock_far_ahead_or_behind_extends_nothing,
    crate::bad_input::a_refused_pull_cursor_starts_the_pull_again,
    crate::bad_input::a_kept_session_goes_online_behind_the_screen,
    crate::hubs::a_hub_registers_into_the_keyring_and_connects_until_revoked,
    crate::hubs::a_hub_follows_the_group_server_through_an_outage,
    crate::hubs::an_outage_day_through_the_hub,
    crate::hubs::a_hub_killed_mid_day_loses_and_doubles_nothing,
    crate::hubs::desktops_sync_through_the_hub_while_the_group_server_is_unreachable,
    crate::hubs::a_revoked_hub_gives_back_what_it_took_in,
    crate::hubs::the_clinics_pcs_reach_the_hub_over_tls_with_its_pinned_certificate,
    crate::shared_pc::a_shared_pcs_offline_day_keeps_each_authors_work,
    crate::shared_pc::a_mid_day_token_refresh_keeps_the_offline_sign_in,
    crate::shared_pc::revoking_one_member_keeps_the_others_work,
    crate::shared_pc::revoking_a_doctor_removes_what_only_clinicians_could_read,
    crate::shared_pc::staff_take_turns_on_a_pc_offline_with_their_passwords,
    crate::shared_pc::a_colleagues_sign_in_forgets_a_revoked_member_who_never_returns,
    crate::shared_pc::a_doctor_after_the_front_desk_receives_the_older_notes,
    crate::shared_pc::the_front_desks_keys_open_no_clinical_rows,
    crate::convergence::randomized_schedules_converge,
    crate::slow_link::a_first_fill_over_a_cut_slow_line_resumes_where_it_stopped,
    crate::duplicates::a_patient_registered_on_two_pcs_is_merged_everywhere,
];

/// Assert with a formatted message, returning an error instead of panicking.
#[macro_export]
macro_rules! check {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            anyhow::bail!($($arg)*);
        }
    };
}

/// Why the keyring cannot be used, after giving a keyring daemon that is still starting
/// (it creates its default collection asynchronously after `--unlock`) a few seconds.
fn available_soon(store: &CredentialStore) -> Option<String> {
    let mut last = None;
    for _ in 0..25 {
        match store.check_available() {
            Ok(()) => return None,
            Err(e) => last = Some(e.to_string()),
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    last
}

/// A fresh keyring service, or `None` (with a note) when there is no usable keyring and
/// `VAIDYA_REQUIRE_KEYRING` is not `1`.
pub fn keyring(test: &str) -> Result<Option<CredentialStore>> {
    let store = CredentialStore::new(format!("vaidya-sync-test-{}", Uuid::new_v4()));
    let required = std::env::var("VAIDYA_REQUIRE_KEYRING").is_ok_and(|v| v == "1");
    let missing =
        if cfg!(target_os = "linux") && std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
            Some("no D-Bus session".to_owned())
        } else {
            available_soon(&store)
        };
    match missing {
        None => Ok(Some(store)),
        Some(reason) if required => {
            anyhow::bail!("{test}: VAIDYA_REQUIRE_KEYRING=1 but no keyring: {reason}")
        }
        Some(reason) => {
            println!("note: skipping {test}: {reason}");
            Ok(None)
        }
    }
}

pub fn addr_of(server: &TestServer) -> Result<SocketAddr> {
    server
        .base
        .trim_start_matches("http://")
        .parse()
        .context("server address")
}

/// Fast retries, so a test waits milliseconds, not minutes.
pub fn fast_options(max_attempts: u32) -> SyncOptions {
    SyncOptions {
        push_batch: 50,
        pull_limit: 100,
        fill_limit: 100,
        max_attempts,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        group_server_retry: Duration::from_millis(200),
        ..SyncOptions::default()
    }
}

/// One desktop: its own data directory, keyring service and network path to the server.
pub struct Device {
    pub _dir: TempDir,
    pub config: ClientConfig,
    pub proxy: Proxy,
    pub client: Option<Client>,
}

impl Device {
    pub async fn new(server: &TestServer, seed: u64) -> Result<Device> {
        let store = CredentialStore::new(format!("vaidya-sync-test-{}", Uuid::new_v4()));
        Device::with_store(server, seed, store).await
    }

    pub async fn with_store(
        server: &TestServer,
        seed: u64,
        store: CredentialStore,
    ) -> Result<Device> {
        let dir = tempfile::tempdir()?;
        let proxy = Proxy::start(addr_of(server)?, seed).await?;
        let config = ClientConfig::new(&proxy.base(), DataDir::new(dir.path()), store);
        Ok(Device {
            _dir: dir,
            config,
            proxy,
            client: None,
        })
    }

    pub async fn sign_in(&mut self, person: &Person) -> Result<&Client> {
        let client = Client::sign_in(self.config.clone(), &person.email, &person.password)
            .await
            .with_context(|| format!("sign-in of {}", person.email))?;
        Ok(self.client.insert(client))
    }

    pub fn client(&self) -> Result<&Client> {
        self.client.as_ref().context("not signed in")
    }

    /// The clinic's operations as the signed-in member, on `engine`'s partition: the API the
    /// desktop and the CLI use, with the shared rules (permissions, validation, state) applied
    /// before anything is written.
    pub fn clinic<'a>(&self, engine: &'a mut SyncEngine) -> Result<OpenClinic<'a>> {
        let client = self.client()?;
        let clinic = engine.partition().clinic_id();
        let role = client
            .memberships()
            .iter()
            .find(|m| m.clinic_id == clinic)
            .context("not a member of the engine's clinic")?
            .role;
        Ok(match client.signer() {
            Some(signer) => OpenClinic::signed(engine.partition_mut(), signer, role),
            None => OpenClinic::new(engine.partition_mut(), client.user_id(), role),
        })
    }

    pub fn engine(&self, clinic: Uuid, max_attempts: u32) -> Result<SyncEngine> {
        Ok(self
            .client()?
            .sync_engine(clinic)?
            .with_options(fast_options(max_attempts)))
    }
}

/// Every page of a REST list.
async fn list_all<T: serde::de::DeserializeOwned>(api: &Api, path: &str) -> Result<Vec<T>> {
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let (status, body) = api
            .get(&format!("{path}{sep}limit=200&offset={offset}"))
            .await?;
        check!(status.is_success(), "GET {path}: {status} {body}");
        let page: Page<T> = serde_json::from_value(body)?;
        out.extend(page.items);
        match page.next_offset {
            Some(next) => offset = next,
            None => return Ok(out),
        }
    }
}

/// The server's patients and appointments of a clinic, sorted by id.
pub async fn server_state(api: &Api, clinic: Uuid) -> Result<(Vec<Patient>, Vec<Appointment>)> {
    let mut patients: Vec<Patient> =
        list_all(api, &format!("/v1/clinics/{clinic}/patients")).await?;
    let mut appointments: Vec<Appointment> =
        list_all(api, &format!("/v1/clinics/{clinic}/appointments")).await?;
    patients.sort_by_key(|p| p.id);
    appointments.sort_by_key(|a| a.id);
    Ok((patients, appointments))
}

/// Syncs until `done` holds. The server hands out a change only once every older
/// transaction in the cluster has finished, so under load (the other tests share the
/// PostgreSQL cluster) a row may reach the next pull rather than this one.
pub async fn sync_until(
    engine: &mut SyncEngine,
    what: &str,
    mut done: impl FnMut(&SyncEngine) -> Result<bool>,
) -> Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        engine.sync().await?;
        if done(engine)? {
            return Ok(());
        }
        check!(
            std::time::Instant::now() < deadline,
            "not reached within 20 s: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits (at most `within`) until the patient is in `device`'s file for `clinic`, read beside
/// whatever engine is writing it. What a device pulled is not the question: it may pull
/// other things first (the rest of its first fill, held back by another test's transaction
/// on this cluster), so the row itself is what is waited for.
pub async fn until_device_has_patient(
    device: &Device,
    clinic: Uuid,
    patient: Uuid,
    within: Duration,
) -> Result<()> {
    let peek = device.engine(clinic, 3)?;
    let deadline = std::time::Instant::now() + within;
    while peek.partition().get_patient(patient)?.is_none() {
        check!(
            std::time::Instant::now() < deadline,
            "patient {patient} did not reach the device within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// A device listening live: its engine runs `run_live` on a task of its own.
pub struct LiveListener {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<(SyncEngine, Result<(), vaidya_client::SyncError>)>,
}

impl LiveListener {
    /// Starts listening and waits for the first sync after subscribing.
    pub async fn start(mut engine: SyncEngine) -> Result<LiveListener> {
        let (tx, mut reports) = tokio::sync::mpsc::unbounded_channel::<SyncReport>();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let result = engine
                .run_live(
                    async {
                        let _ = stop_rx.await;
                    },
                    move |r| {
                        let _ = tx.send(*r);
                    },
                )
                .await;
            (engine, result)
        });
        tokio::time::timeout(Duration::from_secs(20), reports.recv())
            .await?
            .context("initial live sync")?;
        Ok(LiveListener { stop, task })
    }

    /// Stops listening; the engine back, its live loop's result checked.
    pub async fn stop(self) -> Result<SyncEngine> {
        let _ = self.stop.send(());
        let (engine, result) = self.task.await?;
        result?;
        Ok(engine)
    }
}
