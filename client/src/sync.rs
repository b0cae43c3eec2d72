//! The sync engine of one clinic partition: push the outbox in batches, pull the change
//! feed page by page, fetch again what no pull will correct, and keep doing it live.
//!
//! Crash safety comes from the storage layer, not from the engine's memory: a push result
//! and the reads it uploaded are applied in one transaction, a pulled page and its cursor
//! in another. Dropping the engine at any await point therefore loses nothing: a mutation
//! pushed again is answered from the server's stored result (push is idempotent by
//! mutation id), and a page pulled again overwrites rows with the same state.

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::Rng;
use uuid::Uuid;
use vaidya_shared::sync::{
    MutationResult, PullResponse, PushRequest, RelayAnswersRequest, LIVE_EVENT, MAX_PULL_LIMIT,
    MAX_PUSH_BATCH,
};
use vaidya_shared::ErrorCode;

use vaidya_shared::authorship::DeviceSigner;

use crate::api::{ApiError, ServerApi};
use crate::partition::{ClinicPartition, InitialFill, PartitionError, PushOutcome};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Partition(#[from] PartitionError),
}

impl SyncError {
    /// Stable machine-readable code; never renamed once shipped.
    pub fn code(&self) -> &'static str {
        match self {
            SyncError::Api(e) => e.code(),
            SyncError::Partition(e) => e.code(),
        }
    }

    /// How long the server asked us to wait before trying again (`Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SyncError::Api(e) => e.retry_after(),
            SyncError::Partition(_) => None,
        }
    }

    /// The server could not be reached at all (no answer, not an answer saying no): what
    /// sends a PC to its clinic's hub.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, SyncError::Api(ApiError::Network(_)))
    }

    pub fn is_retryable(&self) -> bool {
        match self {
            SyncError::Api(e) => e.is_retryable(),
            // Another connection holds the file for a moment.
            SyncError::Partition(PartitionError::Busy) => true,
            SyncError::Partition(_) => false,
        }
    }
}

/// Tuning of one engine.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Mutations per push request (at most [`MAX_PUSH_BATCH`]).
    pub push_batch: usize,
    /// Local reads uploaded with one push.
    pub reads_batch: usize,
    /// Changes per pull page (at most [`MAX_PULL_LIMIT`]).
    pub pull_limit: i64,
    /// Changes per pull page of a first fill. Bigger pages keep a slow line busy: the next
    /// page can only be asked for once this one's cursor has arrived, so each page costs a
    /// round trip and the server's time with the line idle (at 4 Mbit/s and 100 ms, pages of
    /// 5,000 rows filled a clinic in 0.72× the time of pages of 1,000; docs/benchmarks.md).
    /// A cut costs at most the page in flight.
    pub fill_limit: i64,
    /// Tries of a whole sync on retryable errors before giving up.
    pub max_attempts: u32,
    /// First retry delay; doubled each time up to `max_delay`, with jitter.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// While the clinic's hub stands in for an unreachable group server, how often the
    /// group server is tried again first.
    pub group_server_retry: Duration,
}

impl Default for SyncOptions {
    fn default() -> SyncOptions {
        SyncOptions {
            push_batch: 200,
            reads_batch: 500,
            pull_limit: 1000,
            fill_limit: MAX_PULL_LIMIT,
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
            group_server_retry: Duration::from_secs(30),
        }
    }
}

/// Where an initial (or any) sync stands, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SyncProgress {
    /// Rows pulled so far in this sync.
    pub rows: u64,
    /// Bytes of pull responses so far.
    pub bytes: u64,
    /// The server's estimate of all rows, on an initial sync.
    pub estimated_total: Option<i64>,
    /// `rows / estimated_total`, capped at 100.
    pub percent: Option<f64>,
    /// Seconds left at this sync's pace so far, once the total is known and a page is in.
    pub eta_secs: Option<f64>,
}

/// Seconds left: the rows still to come at the pace of this sync so far (rows per second
/// since it started, so a resumed fill is timed on its own line, not the one that dropped).
fn eta(progress: &SyncProgress, rows_now: u64, elapsed: Duration, more: bool) -> Option<f64> {
    if !more {
        return Some(0.0);
    }
    let total = u64::try_from(progress.estimated_total?).ok()?;
    let secs = elapsed.as_secs_f64();
    if rows_now == 0 || secs <= 0.0 {
        return None;
    }
    let left = total.saturating_sub(progress.rows);
    Some(left as f64 * secs / rows_now as f64)
}

/// Which server a sync went to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SyncPath {
    #[default]
    GroupServer,
    /// The clinic's hub on its network, while the group server cannot be reached.
    ClinicHub,
}

/// What one sync did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Where it went ("Synced with the clinic hub").
    pub path: SyncPath,
    /// Since when the group server has not answered this engine ("group server unreachable
    /// since 10:42"); `None` when it answered.
    pub group_server_unreachable_since: Option<DateTime<Utc>>,
    pub pushed: usize,
    pub applied: usize,
    pub conflicts: usize,
    pub rejected: usize,
    pub reads_uploaded: usize,
    pub pulled: usize,
    pub held: usize,
    pub pages: usize,
    pub refetched: usize,
}

/// What the UI shows. `synced` is true only when the server acknowledged every change of
/// this device and the last pull reached the end of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStatus {
    /// Changes still to push.
    pub pending: i64,
    /// Changes the server refused for good; a person corrects or discards them.
    pub rejected: i64,
    /// Open conflicts in the inbox.
    pub conflicts: i64,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub synced: bool,
    /// Whose work is waiting (a shared PC): pending and rejected changes by author.
    pub waiting: Vec<crate::partition::WaitingWork>,
    /// Changes the clinic hub took in and forwards, whose group server answer has not come
    /// back yet (not `pending`: this PC will not send them again; not `synced` either).
    pub relayed: i64,
}

/// Page cache (MiB) while an initial sync fills a partition; the usual one is 64 MiB.
const INITIAL_SYNC_CACHE_MIB: u32 = 256;

/// Bytes of changes per push at most, and as many again of uploaded reads: together well
/// under the server's body limit (1 MiB, `vaidya_server::app::MAX_BODY_BYTES`). A day of
/// offline notes (up to 100,000 characters each, 3 bytes a character in Devanagari) would
/// otherwise make a push of 200 changes the server refuses as too large, on every sync.
/// The largest single change the rules allow fits with room to spare.
const PUSH_BATCH_BYTES: usize = 384 * 1024;

/// The leading items of `items` whose JSON (sized by `json_len`) fits in
/// [`PUSH_BATCH_BYTES`], and always the first: a push takes a prefix of the outbox and of
/// the reads, in order.
fn within_bytes<T>(items: Vec<T>, json_len: impl Fn(&T) -> usize) -> Vec<T> {
    let mut total = 0;
    let mut kept = Vec::with_capacity(items.len());
    for item in items {
        let size = json_len(&item);
        if !kept.is_empty() && total + size > PUSH_BATCH_BYTES {
            break;
        }
        total += size;
        kept.push(item);
    }
    kept
}

fn json_len(value: &impl serde::Serialize) -> usize {
    serde_json::to_vec(value).map_or(0, |json| json.len())
}

/// Pulls again at most this many times while the server says changes are settling.
const MAX_SETTLING_WAITS: u32 = 10;

/// How often a first fill makes the patients it has brought so far searchable. Indexing
/// them in batches instead of row by row is most of what makes a fill fast (see
/// `partition::bulk_load`); a few seconds is how long a patient who has arrived may
/// still be missing from search.
const FILL_SEARCH_INDEX_EVERY: Duration = Duration::from_secs(5);

type ProgressFn = Box<dyn FnMut(&SyncProgress) + Send>;

/// How often a PC asks the group server where the clinic's hubs are.
const HUB_ENDPOINTS_EVERY: Duration = Duration::from_secs(600);
/// The longest a hub may take to sign a PC in before the next address is tried.
const HUB_SIGN_IN: Duration = Duration::from_secs(5);

/// How long asking the clinic hub for the group server's answers may take, sign-in
/// included, before it is left for later (`SyncEngine::learn_relay_answers`).
const ASK_HUB_WITHIN: Duration = Duration::from_secs(3);
/// The pull cursors of the hub's feed (`ClinicPartition::set_source`).
const HUB_SOURCE: &str = "hub";

/// Syncs one clinic partition with the server, or, while the group server cannot be
/// reached, with the clinic's hub on its network (issue 11).
pub struct SyncEngine {
    api: ServerApi,
    partition: ClinicPartition,
    options: SyncOptions,
    progress: Option<ProgressFn>,
    /// The signed-in member's device key: signs them in to the clinic's hub.
    signer: Option<DeviceSigner>,
    /// The clinic hub, signed in, while it stands in for the group server.
    hub: Option<ServerApi>,
    /// When the hub endpoints were last asked for.
    endpoints_asked: Option<Instant>,
    /// Since when the group server has not answered, and when to try it again first.
    unreachable_since: Option<DateTime<Utc>>,
    retry_group_server_at: Option<Instant>,
    /// When to ask the hub again for the group server's answers to the changes it took in,
    /// after it could not be reached, and how many times in a row it could not.
    ask_hub_again_at: Option<Instant>,
    ask_hub_failures: u32,
    /// The hub signed in to for those answers, kept across rounds with the group server
    /// (which forget `hub`), so that asking each round does not sign in each round.
    answers_hub: Option<ServerApi>,
}

impl std::fmt::Debug for SyncEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncEngine")
            .field("clinic", &self.partition.clinic_id())
            .field("options", &self.options)
            .finish()
    }
}

/// `base × 2^attempt`, capped, times a random factor in [0.5, 1): clients that lost the
/// server together do not come back together.
pub fn backoff_delay(options: &SyncOptions, attempt: u32) -> Duration {
    let exp = options
        .base_delay
        .saturating_mul(1u32 << attempt.min(16))
        .min(options.max_delay);
    exp.mul_f64(rand::thread_rng().gen_range(0.5..1.0))
}

/// The pause before trying again after `error`: the backoff, but never shorter than the
/// server's `Retry-After` (a 503 `retry_later` or a 429).
pub fn retry_delay(options: &SyncOptions, attempt: u32, error: &SyncError) -> Duration {
    backoff_delay(options, attempt).max(error.retry_after().unwrap_or_default())
}

/// What live mode reports while it runs.
#[derive(Debug)]
pub enum LiveEvent<'a> {
    /// A sync round finished.
    Synced(&'a SyncReport),
    /// The server stopped answering; the engine retries with backoff.
    Disconnected(&'a SyncError),
}

/// The next pull page, fetched in its own task while the current one is applied. Dropping
/// it stops the fetch.
struct Prefetch(tokio::task::JoinHandle<Result<(PullResponse, usize), ApiError>>);

impl Prefetch {
    fn start(api: &ServerApi, clinic: Uuid, cursor: &str, limit: i64) -> Prefetch {
        let api = api.clone();
        let cursor = cursor.to_owned();
        Prefetch(tokio::spawn(async move {
            api.pull_sized(clinic, Some(&cursor), Some(limit)).await
        }))
    }

    async fn join(mut self) -> Result<(PullResponse, usize), ApiError> {
        let result = (&mut self.0).await;
        match result {
            Ok(page) => page,
            // The task panicked or the runtime is shutting down.
            Err(e) => Err(ApiError::Network(format!("the page fetch stopped: {e}"))),
        }
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl SyncEngine {
    pub fn new(api: ServerApi, partition: ClinicPartition) -> SyncEngine {
        SyncEngine {
            api,
            partition,
            options: SyncOptions::default(),
            progress: None,
            signer: None,
            hub: None,
            endpoints_asked: None,
            unreachable_since: None,
            retry_group_server_at: None,
            ask_hub_again_at: None,
            ask_hub_failures: 0,
            answers_hub: None,
        }
    }

    /// The signed-in member's device key, with which the engine signs in to the clinic's
    /// hub when the group server cannot be reached. Without it the engine never uses a hub.
    pub fn with_device_signer(mut self, signer: Option<DeviceSigner>) -> SyncEngine {
        self.signer = signer;
        self
    }

    pub fn with_options(mut self, mut options: SyncOptions) -> SyncEngine {
        options.push_batch = options.push_batch.clamp(1, MAX_PUSH_BATCH);
        options.pull_limit = options.pull_limit.clamp(1, MAX_PULL_LIMIT);
        options.fill_limit = options.fill_limit.clamp(1, MAX_PULL_LIMIT);
        options.max_attempts = options.max_attempts.max(1);
        self.options = options;
        self
    }

    /// Called after every pulled page.
    pub fn on_progress(mut self, f: impl FnMut(&SyncProgress) + Send + 'static) -> SyncEngine {
        self.progress = Some(Box::new(f));
        self
    }

    pub fn partition(&self) -> &ClinicPartition {
        &self.partition
    }

    pub fn partition_mut(&mut self) -> &mut ClinicPartition {
        &mut self.partition
    }

    pub fn into_partition(self) -> ClinicPartition {
        self.partition
    }

    pub fn api(&self) -> &ServerApi {
        &self.api
    }

    pub fn status(&self) -> Result<SyncStatus, PartitionError> {
        status_of(&self.partition)
    }

    /// Syncs, retrying retryable failures with exponential backoff and jitter.
    pub async fn sync(&mut self) -> Result<SyncReport, SyncError> {
        let mut attempt = 0;
        loop {
            match self.sync_once().await {
                Ok(report) => return Ok(report),
                Err(e) if e.is_retryable() && attempt + 1 < self.options.max_attempts => {
                    tokio::time::sleep(retry_delay(&self.options, attempt, &e)).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// One push, pull and refetch round, without retries: with the group server, or, when
    /// it cannot be reached and the clinic has a hub this PC can sign in to, with the hub
    /// (the group server is tried first again every half minute).
    pub async fn sync_once(&mut self) -> Result<SyncReport, SyncError> {
        let hub_first = self.hub.is_some()
            && self
                .retry_group_server_at
                .is_some_and(|at| Instant::now() < at);
        let group_error = if hub_first {
            SyncError::Api(ApiError::Network(
                "the group server did not answer a moment ago".to_owned(),
            ))
        } else {
            let api = self.api.clone();
            // The hub's answers first: while the hub this PC reaches still holds earlier
            // changes of this PC for the group server, the new ones go to that hub too,
            // behind them (see `push_behind_the_hub`).
            let mut answers = SyncReport::default();
            self.learn_relay_answers(&mut answers).await;
            match self.sync_round(&api, SyncPath::GroupServer).await {
                Ok(mut report) => {
                    // Back after an outage: the clinic's hubs may have changed meanwhile
                    // (one revoked), so they are asked for now, not in ten minutes.
                    if self.unreachable_since.take().is_some() {
                        self.endpoints_asked = None;
                    }
                    self.retry_group_server_at = None;
                    self.hub = None;
                    self.refresh_hub_endpoints().await;
                    report.conflicts += answers.conflicts;
                    report.rejected += answers.rejected;
                    return Ok(report);
                }
                Err(e) if e.is_unreachable() && self.signer.is_some() => e,
                Err(e) => return Err(e),
            }
        };
        let since = *self.unreachable_since.get_or_insert_with(Utc::now);
        if !hub_first {
            self.retry_group_server_at = Some(Instant::now() + self.options.group_server_retry);
        }
        // A hub session lasts a quarter of an hour: signed in again once if it ran out.
        for _ in 0..2 {
            let Some(hub) = self.hub_api().await else {
                return Err(group_error);
            };
            self.partition.set_source(Some(HUB_SOURCE));
            let result = self.sync_round(&hub, SyncPath::ClinicHub).await;
            self.partition.set_source(None);
            match result {
                Ok(mut report) => {
                    report.group_server_unreachable_since = Some(since);
                    self.learn_relay_answers(&mut report).await;
                    return Ok(report);
                }
                // The hub's session ends with its access token: sign in again.
                Err(e) if e.code() == "unauthenticated" => self.hub = None,
                Err(e) if e.is_unreachable() => {
                    // The hub is gone too: offline, as without one.
                    self.hub = None;
                    self.retry_group_server_at = None;
                    return Err(group_error);
                }
                Err(e) => return Err(e),
            }
        }
        Err(group_error)
    }

    /// Asks the clinic hub what the group server answered for the changes it took in from
    /// this PC, and applies those answers as the group server's own: an applied change
    /// leaves the outbox, a refused one waits for a person (Unsent changes), a conflict
    /// goes to the inbox. Best effort, after a round with either server, and bounded: a hub
    /// that does not answer within [`ASK_HUB_WITHIN`] is asked again after a pause that
    /// grows from `group_server_retry` to ten minutes, so it never holds syncs up; the
    /// changes wait meanwhile, counted as at the hub.
    async fn learn_relay_answers(&mut self, report: &mut SyncReport) {
        if self.partition.relayed_count().unwrap_or(0) == 0
            || self.ask_hub_again_at.is_some_and(|at| Instant::now() < at)
        {
            return;
        }
        let asked = tokio::time::timeout(ASK_HUB_WITHIN, self.ask_hub_for_answers())
            .await
            .unwrap_or_else(|_| {
                Err(ApiError::Network("the clinic hub did not answer".to_owned()).into())
            });
        match asked {
            Ok(outcome) => {
                self.ask_hub_failures = 0;
                self.ask_hub_again_at = None;
                // Their "applied" was counted when the hub took them in.
                report.conflicts += outcome.conflicts;
                report.rejected += outcome.rejected;
            }
            Err(e) => {
                self.ask_hub_failures = self.ask_hub_failures.saturating_add(1);
                let pause = self
                    .options
                    .group_server_retry
                    .saturating_mul(1 << self.ask_hub_failures.min(5))
                    .min(Duration::from_secs(600));
                self.ask_hub_again_at = Some(Instant::now() + pause);
                tracing::warn!(error = %e, "could not learn the group server's answers from the clinic hub");
            }
        }
    }

    /// One question to the hub this PC reaches, about the changes that hub took in (each
    /// change is answered by the hub that holds it). A change it says it does not hold (the
    /// hub set up again from scratch) is sent again by this PC: nothing of the hub's can be
    /// overtaken by it, and nothing the person did is lost.
    async fn ask_hub_for_answers(&mut self) -> Result<PushOutcome, SyncError> {
        let hub = match self.answers_hub.clone() {
            Some(hub) => hub,
            None => {
                let Some(hub) = self.hub_api().await else {
                    return Err(ApiError::Network("no clinic hub answers".to_owned()).into());
                };
                self.answers_hub = Some(hub.clone());
                hub
            }
        };
        let Some(pin) = hub.hub_certificate().map(str::to_owned) else {
            return Ok(PushOutcome::default());
        };
        let entries = self.partition.relayed_outbox(&pin, MAX_PUSH_BATCH as i64)?;
        if entries.is_empty() {
            return Ok(PushOutcome::default());
        }
        let request = RelayAnswersRequest {
            mutation_ids: entries.iter().map(|e| e.mutation.mutation_id).collect(),
        };
        let response = match hub
            .relay_answers(self.partition.clinic_id(), &request)
            .await
        {
            Ok(response) => response,
            Err(e) => {
                // Its session ended, or it went away: sign in afresh next time.
                self.answers_hub = None;
                if e.code() == "unauthenticated" {
                    self.hub = None;
                }
                return Err(e.into());
            }
        };
        let known: std::collections::HashSet<Uuid> = response
            .answers
            .iter()
            .map(MutationResult::mutation_id)
            .chain(response.waiting.iter().copied())
            .collect();
        let unknown: Vec<Uuid> = request
            .mutation_ids
            .iter()
            .filter(|id| !known.contains(id))
            .copied()
            .collect();
        if !unknown.is_empty() {
            tracing::warn!(
                count = unknown.len(),
                "the clinic hub does not hold changes it took in; sending them again"
            );
            self.partition.send_again_unrelayed(&unknown)?;
        }
        Ok(self
            .partition
            .apply_push_results(&entries, &response.answers, None)?)
    }

    /// Keeps this PC's changes in order when the line comes back before its clinic hub has
    /// forwarded what it took in during the outage: a change made now (a booking for a
    /// walk-in registered through the hub) sent straight to the group server would get
    /// there before the change it depends on and be refused. So while the hub this PC last
    /// asked ([`learn_relay_answers`](Self::learn_relay_answers), just before) answered and
    /// still holds changes of this PC, new signed changes go to that same hub (by its
    /// certificate: another hub would forward them ahead of the first one's queue), which
    /// forwards them in order behind the others. What the hub does not take (unsigned
    /// changes, cancelled numbers) then goes to the group server as usual.
    ///
    /// Returns whether the group server push of this round may go ahead. A hub that refuses
    /// before taking anything is left for this round and everything goes to the group
    /// server; one that took part of this round's changes and then refused keeps the rest
    /// waiting for the next round, so that none of them overtakes what it took.
    async fn push_behind_the_hub(&mut self, report: &mut SyncReport) -> Result<bool, SyncError> {
        let Some(mut hub) = self.answers_hub.clone() else {
            return Ok(true);
        };
        let Some(pin) = hub.hub_certificate().map(str::to_owned) else {
            return Ok(true);
        };
        if self.ask_hub_failures > 0 || self.partition.relayed_outbox(&pin, 1)?.is_empty() {
            return Ok(true);
        }
        let held_before = self.partition.relayed_count()?;
        // A hub session lasts a quarter of an hour: signed in again once if it ran out.
        for _ in 0..2 {
            match self.push_via(&hub, SyncPath::ClinicHub, report).await {
                Err(SyncError::Api(e)) if e.code() == "unauthenticated" => {
                    self.hub = None;
                    self.answers_hub = None;
                    match self.hub_api().await {
                        Some(again) if again.hub_certificate() == Some(pin.as_str()) => hub = again,
                        _ => break,
                    }
                    self.answers_hub = Some(hub.clone());
                    self.hub = None;
                }
                Err(SyncError::Api(e)) => {
                    tracing::info!(error = %e, "the clinic hub did not take this PC's changes");
                    break;
                }
                done => return done.map(|()| true),
            }
        }
        self.answers_hub = None;
        if self.partition.relayed_count()? > held_before {
            tracing::info!(
                "the clinic hub took part of this PC's changes; the rest wait for the next round"
            );
            return Ok(false);
        }
        tracing::info!("sending this PC's changes to the group server without the clinic hub");
        Ok(true)
    }

    /// Push, pull and refetch through `api`.
    async fn sync_round(
        &mut self,
        api: &ServerApi,
        path: SyncPath,
    ) -> Result<SyncReport, SyncError> {
        let mut report = SyncReport {
            path,
            ..SyncReport::default()
        };
        let push_direct =
            path != SyncPath::GroupServer || self.push_behind_the_hub(&mut report).await?;
        if push_direct {
            self.push_via(api, path, &mut report).await?;
        }
        self.pull_via(api, &mut report).await?;
        self.refetch_via(api, &mut report).await?;
        if self.partition.outbox_counts()?.0 == 0 && self.partition.pull_complete()? {
            self.partition.set_last_synced_at(Utc::now())?;
        }
        Ok(report)
    }

    /// Asks the group server where the clinic's hubs are, every ten minutes, and keeps the
    /// answer in the partition for the day the group server cannot be reached. Best effort:
    /// a failure leaves what was kept.
    ///
    /// A hub that is no longer listed (revoked, or registered afresh with a new certificate)
    /// will never forward what it took in from this PC nor answer for it: those changes are
    /// sent again by this PC, to the group server, which answers a change it already has by
    /// its mutation id. Nothing the person did waits forever on a hub that is gone.
    async fn refresh_hub_endpoints(&mut self) {
        if self.signer.is_none()
            || self
                .endpoints_asked
                .is_some_and(|at| at.elapsed() < HUB_ENDPOINTS_EVERY)
        {
            return;
        }
        self.endpoints_asked = Some(Instant::now());
        let clinic = self.partition.clinic_id();
        match self.api.hub_endpoints(clinic).await {
            Ok(endpoints) => {
                if let Err(e) = self.partition.set_hub_endpoints(&endpoints) {
                    tracing::warn!(%clinic, error = %e, "keeping the clinic's hub addresses failed");
                }
                let listed: Vec<String> = endpoints
                    .iter()
                    .map(|e| e.certificate_sha256.to_ascii_lowercase())
                    .collect();
                let gone = |api: &ServerApi| {
                    api.hub_certificate()
                        .is_some_and(|pin| !listed.iter().any(|l| l == pin))
                };
                if self.answers_hub.as_ref().is_some_and(gone) {
                    self.answers_hub = None;
                }
                if self.hub.as_ref().is_some_and(gone) {
                    self.hub = None;
                }
                let orphaned = self
                    .partition
                    .relayed_by_other_hubs(&listed)
                    .and_then(|ids| {
                        if !ids.is_empty() {
                            tracing::warn!(
                                %clinic,
                                count = ids.len(),
                                "a clinic hub that took in changes of this PC is gone; sending them again"
                            );
                            self.partition.send_again_unrelayed(&ids)?;
                        }
                        Ok(())
                    });
                if let Err(e) = orphaned {
                    tracing::warn!(%clinic, error = %e, "could not take back changes from a hub that is gone");
                }
            }
            Err(e) => {
                tracing::debug!(%clinic, error = %e, "the clinic's hub addresses were not read")
            }
        }
    }

    /// The clinic's hub, signed in with the member's device key over TLS with its pinned
    /// certificate: the one in use, or the first kept address that answers.
    async fn hub_api(&mut self) -> Option<ServerApi> {
        if let Some(hub) = &self.hub {
            return Some(hub.clone());
        }
        let signer = self.signer.clone()?;
        let clinic = self.partition.clinic_id();
        let endpoints = self.partition.hub_endpoints().ok()?;
        for endpoint in &endpoints {
            for address in &endpoint.addresses {
                let Ok(hub) =
                    ServerApi::new_pinned(address, self.api.device(), &endpoint.certificate_sha256)
                else {
                    continue;
                };
                match tokio::time::timeout(
                    HUB_SIGN_IN,
                    hub.sign_in_with_device_key(clinic, &signer),
                )
                .await
                {
                    Ok(Ok(_)) => {
                        tracing::info!(%clinic, %address, "syncing through the clinic hub");
                        self.hub = Some(hub.clone());
                        return Some(hub);
                    }
                    Ok(Err(e)) => {
                        tracing::debug!(%address, error = %e, "the clinic hub refused the sign-in")
                    }
                    Err(_) => tracing::debug!(%address, "the clinic hub did not answer"),
                }
            }
        }
        None
    }

    /// Pushes every pushable entry, batch by batch, with the local reads.
    pub async fn push(&mut self, report: &mut SyncReport) -> Result<(), SyncError> {
        let api = self.api.clone();
        self.push_via(&api, SyncPath::GroupServer, report).await
    }

    /// [`push`](Self::push) to `api`. A clinic hub takes only signed work and no cancelled
    /// numbers (it forwards each change as its author's): the rest waits for the group
    /// server.
    async fn push_via(
        &mut self,
        api: &ServerApi,
        path: SyncPath,
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        let clinic = self.partition.clinic_id();
        let hub = path == SyncPath::ClinicHub;
        // Halved while the server answers that a push is too large (see `PUSH_BATCH_BYTES`).
        let (mut entry_limit, mut read_limit) = (self.options.push_batch, self.options.reads_batch);
        loop {
            let entries = if hub {
                self.partition.hub_pushable_outbox(entry_limit as i64)?
            } else {
                self.partition.pushable_outbox(entry_limit as i64)?
            };
            let mut reads = self.partition.local_reads(read_limit as i64)?;
            let mut cancelled = self
                .partition
                .cancelled_numbers_to_upload(self.options.push_batch as i64)?;
            if hub {
                // Reads are marked uploaded up to the last one sent: all or none.
                if reads.iter().any(|r| r.to_access().author.is_none()) {
                    reads.clear();
                }
                cancelled.clear();
            }
            let entries = within_bytes(entries, |e| json_len(&e.mutation));
            let reads = within_bytes(reads, |r| json_len(&r.to_access()));
            if entries.is_empty() && reads.is_empty() && cancelled.is_empty() {
                return Ok(());
            }
            let request = PushRequest {
                mutations: entries.iter().map(|e| e.mutation.clone()).collect(),
                local_accesses: reads.iter().map(|r| r.to_access()).collect(),
                cancelled_numbers: cancelled,
            };
            let response = match api.push(clinic, &request).await {
                Ok(r) => r,
                // Too large for the server after all (its limit is its own): halve the
                // batch until it goes. A single change always fits (`PUSH_BATCH_BYTES`).
                Err(ApiError::Server { status: 413, .. })
                    if entries.len() > 1 || reads.len() > 1 =>
                {
                    entry_limit = (entries.len() / 2).max(1);
                    read_limit = (reads.len() / 2).max(1);
                    continue;
                }
                // A failed request (a 503 `retry_later` included) leaves every entry
                // pushable: only a mutation's own `rejected` result rejects it.
                Err(e) => {
                    if e.is_retryable() && !entries.is_empty() {
                        self.partition
                            .note_push_failure(&entries, e.code(), &e.to_string())?;
                    }
                    return Err(e.into());
                }
            };
            // Results come in request order; anything else is a broken answer, and taking
            // it would leave entries pending forever.
            let in_order = response.results.len() == request.mutations.len()
                && response
                    .results
                    .iter()
                    .zip(&request.mutations)
                    .all(|(r, m)| r.mutation_id() == m.mutation_id);
            if !in_order {
                return Err(ApiError::MalformedResponse(
                    "push results do not match the mutations sent".to_owned(),
                )
                .into());
            }
            let reads_through = reads.last().map(|r| r.seq);
            let outcome = if hub {
                self.partition.apply_hub_push_results(
                    &entries,
                    &response.results,
                    reads_through,
                    api.hub_certificate().unwrap_or_default(),
                )?
            } else {
                self.partition
                    .apply_push_results(&entries, &response.results, reads_through)?
            };
            self.partition
                .mark_cancelled_numbers_uploaded(&request.cancelled_numbers)?;
            report.pushed += entries.len();
            report.applied += outcome.applied;
            report.conflicts += outcome.conflicts;
            report.rejected += outcome.rejected;
            report.reads_uploaded += reads.len();
        }
    }

    /// Pulls pages until the server has nothing more.
    ///
    /// While a page is applied (SQLite work on this thread) the next one is already being
    /// fetched in a task of its own, from the cursor the page ends at; so a long (initial)
    /// sync takes about the longer of the server's and the partition's time, not their sum.
    /// A page is stored with its cursor in one transaction as before, so a crash at any
    /// point resumes from the last stored page; a prefetched page that is never applied is
    /// just dropped.
    pub async fn pull(&mut self, report: &mut SyncReport) -> Result<(), SyncError> {
        let api = self.api.clone();
        self.pull_via(&api, report).await
    }

    /// [`pull`](Self::pull) from `api`, with the cursors of the partition's current source.
    async fn pull_via(
        &mut self,
        api: &ServerApi,
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        // An initial sync (no cursor yet, or a first fill cut off before its end) fills the
        // partition: bulk-load settings for the duration (see `set_bulk_load`), the usual
        // ones back however the pull ends.
        let initial =
            self.partition.pull_cursor()?.is_none() || self.partition.initial_fill()?.is_some();
        if initial {
            self.partition.set_bulk_load(Some(INITIAL_SYNC_CACHE_MIB))?;
        }
        let result = self.pull_pages(api, report).await;
        if initial {
            self.partition.set_bulk_load(None)?;
        }
        result
    }

    async fn pull_pages(
        &mut self,
        api: &ServerApi,
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        let clinic = self.partition.clinic_id();
        // A first fill counts from where it stopped (a line cut mid-way resumes from the
        // last stored page, and so does the count); any other pull counts from zero.
        let mut fill = match self.partition.pull_cursor()? {
            None => Some(InitialFill::default()),
            Some(_) => self.partition.initial_fill()?,
        };
        let resumed_from = fill.unwrap_or_default();
        let mut progress = SyncProgress {
            rows: resumed_from.rows,
            bytes: resumed_from.bytes,
            estimated_total: resumed_from.estimated_total,
            percent: None,
            eta_secs: None,
        };
        let started = Instant::now();
        let limit = match fill {
            Some(_) => self.options.fill_limit,
            None => self.options.pull_limit,
        };
        let mut settling_waits = 0u32;
        let mut prefetched: Option<Prefetch> = None;
        // When a fill last made its queued patients searchable (`None`: not yet).
        let mut indexed_at: Option<Instant> = None;
        let mut restarted = false;
        loop {
            let fetched = match prefetched.take() {
                Some(next) => next.join().await,
                None => {
                    let cursor = self.partition.pull_cursor()?;
                    api.pull_sized(clinic, cursor.as_deref(), Some(limit)).await
                }
            };
            let (page, bytes) = match fetched {
                // The server no longer takes the stored cursor (sealed under another key,
                // or from before cursors were sealed): this class pulls from the beginning,
                // once; what is already here is matched by version.
                Err(ApiError::Server {
                    code: ErrorCode::InvalidParameter,
                    ..
                }) if !restarted && self.partition.pull_cursor()?.is_some() => {
                    tracing::info!(%clinic, "the server refused the stored pull cursor; pulling from the start");
                    self.partition.forget_pull_cursor()?;
                    restarted = true;
                    continue;
                }
                other => other?,
            };
            if page.has_more {
                prefetched = Some(Prefetch::start(api, clinic, &page.cursor, limit));
            }
            // "Settling": changes exist but wait for an older transaction to finish. The
            // feed is not at its end, so the partition is not reported as synced.
            let more = page.has_more || page.settling;
            let outcome = self
                .partition
                .apply_pull_page(&page.changes, &page.cursor, more)?;
            if fill.is_some() && indexed_at.is_none_or(|at| at.elapsed() >= FILL_SEARCH_INDEX_EVERY)
            {
                // A fill queues its patients for search (`partition::bulk_load`): the
                // first page's become searchable at once, then batches every few seconds.
                self.partition.index_pending_search()?;
                indexed_at = Some(Instant::now());
            }
            report.pages += 1;
            report.pulled += outcome.applied + outcome.conflicts;
            report.held += outcome.held;
            progress.rows += page.changes.len() as u64;
            progress.bytes += bytes as u64;
            if page.estimated_total.is_some() {
                progress.estimated_total = page.estimated_total;
            }
            if let Some(f) = fill.as_mut() {
                *f = InitialFill {
                    rows: progress.rows,
                    bytes: progress.bytes,
                    estimated_total: progress.estimated_total,
                };
                if more {
                    self.partition.set_initial_fill(f)?;
                } else {
                    self.partition.end_initial_fill()?;
                }
            }
            progress.percent = progress
                .estimated_total
                .filter(|t| *t > 0)
                .map(|t| (progress.rows as f64 * 100.0 / t as f64).min(100.0))
                .or((!page.has_more).then_some(100.0));
            progress.eta_secs = eta(
                &progress,
                progress.rows - resumed_from.rows,
                started.elapsed(),
                more,
            );
            if let Some(f) = self.progress.as_mut() {
                f(&progress);
            }
            if !page.has_more {
                if !page.settling || settling_waits >= MAX_SETTLING_WAITS {
                    return Ok(());
                }
                // Tens of milliseconds, growing a little; a long transaction elsewhere
                // only delays the pull (the next sync or live event picks it up).
                settling_waits += 1;
                tokio::time::sleep(Duration::from_millis(20 * u64::from(settling_waits))).await;
            }
        }
    }

    /// Fetches again the entities no pull will correct (see `partition::pull`).
    pub async fn refetch(&mut self, report: &mut SyncReport) -> Result<(), SyncError> {
        let api = self.api.clone();
        self.refetch_via(&api, report).await
    }

    async fn refetch_via(
        &mut self,
        api: &ServerApi,
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        let clinic = self.partition.clinic_id();
        for (entity, id) in self.partition.refetch_targets()? {
            let data = api.fetch_entity(clinic, entity, id).await?;
            self.partition.apply_refetched(entity, id, data)?;
            report.refetched += 1;
        }
        Ok(())
    }

    /// Live mode: syncs, then listens for `changed` notifications and syncs on each, until
    /// `stop` resolves. A dropped stream is reopened with backoff (and a sync, since events
    /// may have been missed meanwhile). `after_sync` is called after every sync.
    pub async fn run_live<F>(
        &mut self,
        stop: F,
        mut after_sync: impl FnMut(&SyncReport) + Send,
    ) -> Result<(), SyncError>
    where
        F: Future<Output = ()> + Send,
    {
        self.run_live_reporting(stop, |event| {
            if let LiveEvent::Synced(report) = event {
                after_sync(report)
            }
        })
        .await
    }

    /// [`run_live`](Self::run_live), also telling `on_event` when the server stops
    /// answering (the stream dropped or a sync failed on the network), so a UI can show
    /// "offline" while the engine keeps reconnecting with backoff.
    pub async fn run_live_reporting<F>(
        &mut self,
        stop: F,
        mut on_event: impl FnMut(LiveEvent<'_>) + Send,
    ) -> Result<(), SyncError>
    where
        F: Future<Output = ()> + Send,
    {
        tokio::pin!(stop);
        let clinic = self.partition.clinic_id();
        let mut attempt = 0u32;
        // The server's `Retry-After` of the last failed sync, obeyed by the next pause.
        let mut server_wait = Duration::ZERO;
        loop {
            let connected = tokio::select! {
                _ = &mut stop => return Ok(()),
                r = self.api.live(clinic) => r,
            };
            // While the group server cannot be reached, the clinic's hub tells of changes
            // (issue 11); the group server is tried again every half minute.
            let mut through_hub = None;
            let mut events = match connected {
                Ok(events) => events,
                Err(e) if e.is_retryable() => {
                    let hub_events = match self.live_from_hub(&e).await {
                        Some(hub) => tokio::select! {
                            _ = &mut stop => return Ok(()),
                            r = hub.live(clinic) => r.ok(),
                        },
                        None => None,
                    };
                    match hub_events {
                        Some(events) => {
                            through_hub =
                                Some(tokio::time::Instant::now() + self.options.group_server_retry);
                            events
                        }
                        None => {
                            on_event(LiveEvent::Disconnected(&SyncError::from(e)));
                            tokio::select! {
                                _ = &mut stop => return Ok(()),
                                _ = tokio::time::sleep(backoff_delay(&self.options, attempt)) => {}
                            }
                            attempt = attempt.saturating_add(1);
                            continue;
                        }
                    }
                }
                Err(e) => return Err(e.into()),
            };
            // Subscribed first, then synced: nothing that changes in between is missed.
            match self.sync_once().await {
                Ok(report) => {
                    attempt = 0;
                    on_event(LiveEvent::Synced(&report));
                }
                Err(e) if e.is_retryable() => on_event(LiveEvent::Disconnected(&e)),
                Err(e) => return Err(e),
            }
            // Changes the server held back (an older transaction, perhaps of another
            // clinic, still running: "settling") raise no new notification when they are
            // released, so the engine comes back for them itself, a little later each time.
            let mut unsettled = 0u32;
            loop {
                let held_back = !self.partition.pull_complete()?;
                unsettled = if held_back { unsettled + 1 } else { 0 };
                let recheck = Duration::from_millis(250 * u64::from(unsettled.min(20)));
                let retry_group_server = through_hub.unwrap_or_else(tokio::time::Instant::now);
                let next = tokio::select! {
                    _ = &mut stop => return Ok(()),
                    n = events.next() => n,
                    _ = tokio::time::sleep(recheck), if held_back => Some(Ok(crate::api::LiveEvent {
                        event: LIVE_EVENT.to_owned(),
                        data: clinic.to_string(),
                    })),
                    _ = tokio::time::sleep_until(retry_group_server), if through_hub.is_some() => {
                        // Back to the top: the group server's stream first.
                        break;
                    }
                };
                match next {
                    Some(Ok(event)) if event.event == LIVE_EVENT => match self.sync_once().await {
                        Ok(report) => on_event(LiveEvent::Synced(&report)),
                        Err(e) if e.is_retryable() => {
                            server_wait = e.retry_after().unwrap_or_default();
                            on_event(LiveEvent::Disconnected(&e));
                            break;
                        }
                        Err(e) => return Err(e),
                    },
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => {
                        on_event(LiveEvent::Disconnected(&SyncError::Api(ApiError::Network(
                            "the live notification stream closed".into(),
                        ))));
                        break;
                    }
                }
            }
            if through_hub.is_some_and(|at| tokio::time::Instant::now() >= at) {
                continue;
            }
            let pause = backoff_delay(&self.options, attempt).max(std::mem::take(&mut server_wait));
            tokio::select! {
                _ = &mut stop => return Ok(()),
                _ = tokio::time::sleep(pause) => {}
            }
            attempt = attempt.saturating_add(1);
        }
    }
}

impl SyncEngine {
    /// The clinic's hub to listen to, when `error` (the group server's stream failing)
    /// means the group server cannot be reached and a hub can be signed in to.
    async fn live_from_hub(&mut self, error: &ApiError) -> Option<ServerApi> {
        if !matches!(error, ApiError::Network(_)) || self.signer.is_none() {
            return None;
        }
        self.unreachable_since.get_or_insert_with(Utc::now);
        self.retry_group_server_at = Some(Instant::now() + self.options.group_server_retry);
        self.hub_api().await
    }
}

/// The status of a partition, also without an engine (the UI reads it while offline).
pub fn status_of(partition: &ClinicPartition) -> Result<SyncStatus, PartitionError> {
    let (pending, rejected, conflict_entries) = partition.outbox_counts()?;
    let open = partition.open_conflicts()?.len() as i64;
    Ok(SyncStatus {
        pending,
        rejected,
        conflicts: open.max(conflict_entries),
        last_synced_at: partition.last_synced_at()?,
        synced: partition.outbox_len()? == 0 && partition.pull_complete()?,
        waiting: partition.waiting_work()?,
        relayed: partition.relayed_count()?,
    })
}

#[cfg(test)]
mod tests {
    use crate::test_support::valid;

    #[test]
    fn a_push_takes_a_prefix_within_its_byte_budget_and_always_one() {
        let sizes = |v: &[usize]| within_bytes(v.to_vec(), |n| *n);
        let third = PUSH_BATCH_BYTES / 3;
        assert_eq!(sizes(&[third, third, third, 1]), vec![third, third, third]);
        assert_eq!(sizes(&[third, PUSH_BATCH_BYTES, 1]), vec![third]);
        // One item larger than the budget still goes, alone.
        assert_eq!(
            sizes(&[2 * PUSH_BATCH_BYTES, 1]),
            vec![2 * PUSH_BATCH_BYTES]
        );
        assert!(sizes(&[]).is_empty());
    }

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Instant;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use vaidya_shared::api::{NewPatient, Sex};

    use super::*;
    use crate::partition::{DataDir, PartitionKey};

    /// An HTTP endpoint that answers every request (after reading it whole) as a server does
    /// when a transaction keeps failing transiently: `503 retry_later`, `Retry-After: 1`.
    async fn busy_server(hits: Arc<AtomicUsize>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let hits = hits.clone();
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&seen[..end]).to_lowercase();
                            let length = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            if seen.len() >= end + 4 + length {
                                break;
                            }
                        }
                        match sock.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    hits.fetch_add(1, Ordering::SeqCst);
                    let body = r#"{"code":"retry_later","message":"The server is busy for a moment; nothing was saved. Please retry."}"#;
                    let response = format!(
                        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(response.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        base
    }

    #[tokio::test]
    async fn a_503_retry_later_is_waited_for_and_leaves_the_entry_pushable() {
        let hits = Arc::new(AtomicUsize::new(0));
        let base = busy_server(hits.clone()).await;
        let dir = tempfile::tempdir().unwrap();
        let mut partition = ClinicPartition::open(
            &DataDir::new(dir.path().join("vaidya")),
            Uuid::new_v4(),
            &PartitionKey::generate(),
        )
        .unwrap();
        let patient = partition
            .create_patient(valid(NewPatient {
                id: None,
                name: "Waiting Wasim".to_owned(),
                sex: Sex::Male,
                date_of_birth: None,
                phone: None,
                address: None,
                abha_number: None,
            }))
            .unwrap();
        let api = ServerApi::new(&base, "test-device").unwrap();
        // The engine's own backoff is a millisecond: any longer pause is the server's.
        let mut engine = SyncEngine::new(api, partition).with_options(SyncOptions {
            max_attempts: 2,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
            ..SyncOptions::default()
        });

        let started = Instant::now();
        let err = engine.sync().await.unwrap_err();
        assert!(err.is_retryable(), "{err:?}");
        assert_eq!(err.code(), "retry_later");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
        assert_eq!(hits.load(Ordering::SeqCst), 2, "tried twice");
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "the retry came {:?} after the first try, before Retry-After",
            started.elapsed()
        );

        // Still to push (failed = may be retried), never rejected.
        let pushable = engine.partition().pushable_outbox(10).unwrap();
        assert_eq!(pushable.len(), 1);
        assert_eq!(pushable[0].mutation.entity_id, patient.id);
        let status = engine.status().unwrap();
        assert_eq!((status.pending, status.rejected), (1, 0), "{status:?}");
        assert!(!status.synced);
    }
}
