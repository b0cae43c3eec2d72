//! Background sync of the open clinic: drives the client's `SyncEngine` (a full round, then
//! live mode until the next tick, "sync now" or stop) and reports status, progress, changes
//! and conflicts to the UI as events. The protocol itself lives in `vaidya-client`.

use std::sync::{Arc, Mutex as StdMutex};

use tokio::sync::{watch, Notify};
use vaidya_client::sync::{backoff_delay, status_of, LiveEvent};
use vaidya_client::{ApiError, ClinicPartition, SyncEngine, SyncError, SyncOptions, SyncReport};

use crate::core::{Emitter, ProgressView, SyncEvent, SyncStatusView, SYNC_INTERVAL};
use crate::error::UiError;

/// Opens the engine's own connection to the partition (with the full page check) on a
/// blocking thread once the task runs, so opening a clinic does not wait for it.
pub type OpenEngine = Box<dyn FnOnce() -> Result<SyncEngine, UiError> + Send>;

pub struct SyncTask {
    pub open_engine: OpenEngine,
    /// The UI's connection, used to read counts while the engine is busy.
    pub partition: Arc<StdMutex<ClinicPartition>>,
    pub emit: Emitter,
    pub status: Arc<StdMutex<SyncStatusView>>,
    pub sync_now: Arc<Notify>,
    pub stop: watch::Receiver<bool>,
    /// The session shown from the keyring is going online: the first round waits for it,
    /// so the kept refresh token is presented once (`core::go_online`).
    pub going_online: Option<watch::Receiver<bool>>,
}

/// Updates the shared status (and emits it) with `change` applied and the counts re-read.
fn publish(task: &SyncTaskRefs, change: impl FnOnce(&mut SyncStatusView)) {
    let counts = task.partition.lock().ok().and_then(|p| status_of(&p).ok());
    let view = {
        let Ok(mut s) = task.status.lock() else {
            return;
        };
        if let Some(c) = counts {
            s.pending = c.pending;
            s.rejected = c.rejected;
            s.conflicts = c.conflicts;
            s.last_synced_at = c.last_synced_at;
            s.waiting = c.waiting;
            s.relayed = c.relayed;
        }
        let before = s.conflicts;
        change(&mut s);
        if s.conflicts != before {
            (task.emit)(SyncEvent::Conflicts(s.conflicts));
        }
        s.clone()
    };
    (task.emit)(SyncEvent::Status(Box::new(view)));
}

/// The parts of a task the callbacks share (cheap clones).
#[derive(Clone)]
struct SyncTaskRefs {
    partition: Arc<StdMutex<ClinicPartition>>,
    emit: Emitter,
    status: Arc<StdMutex<SyncStatusView>>,
}

/// Which way the sync went, for the status bar: the clinic's hub, and since when the group
/// server has not answered.
fn note_path(s: &mut SyncStatusView, report: &SyncReport) {
    s.via_hub = report.path == vaidya_client::sync::SyncPath::ClinicHub;
    s.group_server_unreachable_since = report.group_server_unreachable_since;
}

fn report_changed(report: &SyncReport) -> bool {
    report.pulled > 0 || report.applied > 0 || report.refetched > 0 || report.conflicts > 0
}

/// The longest a clinic's sync waits for the UI's first screen before it starts anyway.
const FIRST_SCREEN_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

pub async fn run(task: SyncTask) {
    let SyncTask {
        open_engine,
        partition,
        emit,
        status,
        sync_now,
        mut stop,
        going_online,
    } = task;
    let refs = SyncTaskRefs {
        partition,
        emit,
        status,
    };
    // The clinic's first screen is drawn first (see `after_first_screen`); the stop still
    // ends the task at once.
    tokio::select! {
        _ = crate::startup::after_first_screen(FIRST_SCREEN_WAIT) => {}
        _ = stop.wait_for(|stop| *stop) => return,
    }
    let engine = match tauri::async_runtime::spawn_blocking(open_engine).await {
        Ok(Ok(engine)) => engine,
        Ok(Err(error)) => {
            tracing::warn!(code = error.code, "the sync connection did not open");
            publish(&refs, |s| s.error = Some(error));
            return;
        }
        Err(e) => {
            let error = UiError::new("internal", e.to_string());
            publish(&refs, |s| s.error = Some(error));
            return;
        }
    };
    if let Some(mut online) = going_online {
        // Done, or given up (the sender dropped): either way the rounds start.
        tokio::select! {
            _ = online.wait_for(|done| *done) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
    }
    let progress_refs = refs.clone();
    let mut engine = engine.on_progress(move |p| {
        let view = ProgressView {
            done: p.rows,
            total: p.estimated_total,
            bytes: p.bytes,
            eta_secs: p.eta_secs,
        };
        publish(&progress_refs, |s| {
            s.syncing = true;
            s.progress = Some(view);
        });
    });

    // Rounds that failed on the network in a row: the retry waits grow with them, so the
    // app notices a returning server within seconds without hammering a dead one.
    let mut offline_rounds = 0u32;
    loop {
        if *stop.borrow() {
            return;
        }
        publish(&refs, |s| s.syncing = true);
        let result = engine.sync_once().await;
        let online = match &result {
            Ok(_) => true,
            Err(e) => !e.is_retryable(),
        };
        let error = result
            .as_ref()
            .err()
            .filter(|e| !e.is_retryable())
            .map(|e| {
                tracing::warn!(error = %e, "sync failed");
                ui_error(e)
            });
        let clock_off = crate::core::clock_off_minutes(engine.api().clock_offset());
        let path = result.as_ref().ok().copied();
        publish(&refs, |s| {
            s.syncing = false;
            s.progress = None;
            s.online = online;
            s.error = error;
            if online {
                s.clock_off_minutes = clock_off;
            }
            if let Some(report) = path {
                note_path(s, &report);
            }
        });
        if matches!(&result, Ok(r) if report_changed(r)) {
            (refs.emit)(SyncEvent::Changed);
        }

        // Until the next tick, a "sync now" or stop: live mode when the server answered,
        // else a retry with backoff.
        let mut stop_rx = stop.clone();
        let wake = sync_now.clone();
        let wait = if online {
            offline_rounds = 0;
            SYNC_INTERVAL
        } else {
            offline_rounds = offline_rounds.saturating_add(1);
            backoff_delay(&retry_options(), offline_rounds)
        };
        let next = async move {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = wake.notified() => {}
                _ = stop_rx.changed() => {}
            }
        };
        if online {
            let live_refs = refs.clone();
            let live = engine
                .run_live_reporting(next, move |event| match event {
                    LiveEvent::Synced(report) => {
                        // Live syncs report progress too: clear it, or the bar says
                        // "Syncing…" forever.
                        publish(&live_refs, |s| {
                            s.syncing = false;
                            s.progress = None;
                            s.online = true;
                            s.error = None;
                            note_path(s, report);
                        });
                        if report_changed(report) {
                            (live_refs.emit)(SyncEvent::Changed);
                        }
                    }
                    LiveEvent::Disconnected(_) => publish(&live_refs, |s| {
                        s.syncing = false;
                        s.progress = None;
                        s.online = false;
                    }),
                })
                .await;
            if let Err(e) = live {
                let error = ui_error(&e);
                publish(&refs, |s| s.error = Some(error));
                // A non-retryable live failure (signed out, upgrade needed): wait for a tick.
                tokio::select! {
                    _ = tokio::time::sleep(SYNC_INTERVAL) => {}
                    _ = sync_now.notified() => {}
                    _ = stop.changed() => {}
                }
            }
        } else {
            next.await;
        }
    }
}

/// How the desktop's engine retries: a round gives up after two tries (the UI shows
/// "offline" within seconds instead of "syncing" for a minute) and waits at most 10 s
/// between tries, so a server that comes back is noticed quickly.
pub fn retry_options() -> SyncOptions {
    SyncOptions {
        max_attempts: 2,
        max_delay: std::time::Duration::from_secs(10),
        ..SyncOptions::default()
    }
}

/// The UI's view of a sync failure (codes as in `error.rs`).
fn ui_error(e: &SyncError) -> UiError {
    match e {
        SyncError::Api(ApiError::Network(_)) => UiError::new("offline", e.to_string()),
        _ => UiError::new(e.code(), e.to_string()),
    }
}
