//! Keeps the hub's copy of its clinic following the group server (issue 11): connect as the
//! hub, catch up, wait for the next change upstream, again, for as long as the hub runs.
//!
//! An outage is the hub's normal weather, not an error: while the group server cannot be
//! reached the loop waits and tries again (with a growing pause, up to half a minute), says
//! since when it has been unreachable, and resumes from its kept cursor when the line comes
//! back. It stops only for what waiting cannot mend: a revoked hub, a group server of
//! another schema, a feed it cannot trust, its own database failing.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use uuid::Uuid;
use vaidya_client::{ApiError, CredentialStore};

use super::replica::Replica;
use super::{connect, HubError};

/// The longest pause between tries while the group server is unreachable.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often the copy looks for changes when the live stream is not there, and, as a
/// backstop, when it is.
const POLL: Duration = Duration::from_secs(5);
const BACKSTOP: Duration = Duration::from_secs(60);
/// How often the hub looks whether its PCs gave it something to forward.
const RELAY_LOOK: Duration = Duration::from_secs(1);
/// A session shorter than this is followed by a pause before the next.
const MIN_SESSION: Duration = Duration::from_secs(10);
/// A session is renewed this long before its access token expires.
const RENEW_BEFORE: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// How the hub's copy stands, for its log and, later, the PCs' status bar ("Synced with the
/// clinic hub · group server unreachable since 10:42").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Upstream {
    /// When the copy last caught up with the group server.
    pub synced_at: Option<DateTime<Utc>>,
    /// Since when the group server has not answered; `None` while it does.
    pub unreachable_since: Option<DateTime<Utc>>,
    /// Rows written since the hub started.
    pub rows: usize,
    /// Changes forwarded to the group server since the hub started.
    pub forwarded: usize,
    /// Of those, refused by the group server (see `relay::Forwarded::refused`).
    pub refused_upstream: usize,
    /// Items waiting to be forwarded, as of the last look.
    pub waiting: i64,
}

/// Follows the group server into `replica` until `stop` turns true or an error waiting
/// cannot mend; publishes how it stands on `status`. Each session first announces
/// `addresses` (where the hub answers on the clinic's network), when there are any.
pub async fn follow(
    store: &CredentialStore,
    clinic: Uuid,
    replica: &mut Replica,
    addresses: &[String],
    status: &watch::Sender<Upstream>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), HubError> {
    let mut backoff = Duration::from_secs(1);
    while !*stop.borrow() {
        let started = tokio::time::Instant::now();
        let outcome =
            follow_one_session(store, clinic, replica, addresses, status, &mut stop).await;
        match outcome {
            // A session that ended at once (a live stream the server keeps closing) is not
            // connected again at once: each connection rotates the credential.
            Ok(()) if started.elapsed() < MIN_SESSION => {
                wait(&mut stop, backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Ok(()) => backoff = Duration::from_secs(1),
            Err(e) if unreachable(&e) => {
                status.send_modify(|s| {
                    s.unreachable_since.get_or_insert_with(Utc::now);
                });
                tracing::warn!(error = %e, "the group server is unreachable; trying again");
                wait(&mut stop, backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One session's worth of following: connect (keeping the rotated token), then catch up
/// and wait, until the session is about to expire (`Ok`, to connect again) or a call fails.
async fn follow_one_session(
    store: &CredentialStore,
    clinic: Uuid,
    replica: &mut Replica,
    addresses: &[String],
    status: &watch::Sender<Upstream>,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), HubError> {
    let hub = connect(store, clinic).await?;
    if !addresses.is_empty() {
        hub.api
            .announce_hub(clinic, hub.credential.hub_id, addresses)
            .await?;
    }
    // The group server's word that something changed; without it, the copy polls.
    let mut events = hub.api.live(clinic).await.ok();
    loop {
        // What the PCs pushed here goes up first; then the group server's rows come back,
        // its numbers and versions replacing the hub's provisional ones.
        let forwarded = match replica.forward(&hub.api).await {
            Ok(forwarded) => forwarded,
            // The access token ran out between checks: connect again.
            Err(HubError::Api(ApiError::Unauthenticated)) => return Ok(()),
            Err(e) => return Err(e),
        };
        let done = match replica.catch_up(&hub.api, &hub.group_name).await {
            Ok(done) => done,
            Err(HubError::Api(ApiError::Unauthenticated)) => return Ok(()),
            Err(e) => return Err(e),
        };
        let waiting = replica.waiting().await?;
        status.send_modify(|s| {
            s.synced_at = Some(Utc::now());
            s.unreachable_since = None;
            s.rows += done.rows;
            s.forwarded += forwarded.mutations;
            s.refused_upstream += forwarded.refused;
            s.waiting = waiting;
        });
        if done.rows > 0 || forwarded.mutations > 0 {
            tracing::info!(
                rows = done.rows,
                forwarded = forwarded.mutations,
                refused = forwarded.refused,
                "caught up with the group server"
            );
        }
        if *stop.borrow() || Utc::now() + RENEW_BEFORE >= hub.access_expires_at {
            return Ok(());
        }
        // Until the group server says something changed, the PCs gave the hub something to
        // forward or the directory is due (looked at every second), the backstop (the poll,
        // without a live stream), or the stop.
        let waited = tokio::time::Instant::now();
        let every = if events.is_some() { BACKSTOP } else { POLL };
        loop {
            tokio::select! {
                next = async {
                    match events.as_mut() {
                        Some(live) => live.next().await,
                        None => std::future::pending().await,
                    }
                } => match next {
                    Some(Ok(_)) => break,
                    Some(Err(e)) => return Err(e.into()),
                    // Closed by the server (a revoked hub's stream ends): connect again,
                    // which tells a revocation from a restart.
                    None => return Ok(()),
                },
                _ = tokio::time::sleep(RELAY_LOOK) => {
                    if replica.waiting().await? > 0
                        || replica.directory_due()
                        || waited.elapsed() >= every
                    {
                        break;
                    }
                }
                _ = stop.changed() => return Ok(()),
            }
        }
    }
}

/// Whether waiting may mend `e`: the group server or the line to it is down or overloaded.
fn unreachable(e: &HubError) -> bool {
    match e {
        HubError::Api(e) => e.is_retryable(),
        _ => false,
    }
}

/// Sleeps for `d`, or until `stop` changes.
async fn wait(stop: &mut watch::Receiver<bool>, d: Duration) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = stop.changed() => {}
    }
}
