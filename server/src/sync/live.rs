//! Live change notifications: a `LISTEN vaidya_changes` connection per server process feeds
//! a broadcast channel, and each connected client gets a Server-Sent Event `changed` when its
//! clinic's data commits, so it pulls within milliseconds instead of polling. Works with
//! several server instances: every instance listens to the same database.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use tokio::sync::broadcast;
use uuid::Uuid;
use vaidya_shared::sync::LIVE_EVENT;
use vaidya_shared::ApiError;

use crate::app::App;
use crate::http::{ApiPath, AppError, RequestMeta, RequestTx};

/// A clinic whose data changed; `None` means "unknown, everyone pull" (after a reconnect).
pub type ChangeSignal = Option<Uuid>;

/// Listen for change notifications forever, reconnecting with backoff.
pub async fn listen(config: tokio_postgres::Config, tx: broadcast::Sender<ChangeSignal>) {
    let mut backoff = Duration::from_millis(200);
    loop {
        match config.connect(tokio_postgres::NoTls).await {
            Ok((client, mut connection)) => {
                let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
                let ok = {
                    let listen = client.batch_execute("LISTEN vaidya_changes");
                    // The connection must be polled for LISTEN to complete.
                    let mut listen = std::pin::pin!(listen);
                    loop {
                        tokio::select! {
                            r = &mut listen => break r.is_ok(),
                            m = messages.next() => if m.is_none() { break false },
                        }
                    }
                };
                if ok {
                    backoff = Duration::from_millis(200);
                    // Anything may have changed while we were not listening.
                    let _ = tx.send(None);
                    while let Some(message) = messages.next().await {
                        match message {
                            Ok(tokio_postgres::AsyncMessage::Notification(n)) => {
                                let _ = tx.send(n.payload().parse().ok());
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!("change listener connection failed: {e}");
                                break;
                            }
                        }
                    }
                }
                drop(client);
            }
            Err(e) => tracing::warn!("change listener cannot connect: {e}"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

/// How often an open stream re-checks that the caller is still signed in and a member.
const RECHECK: Duration = Duration::from_secs(60);

#[utoipa::path(get, path = "/v1/clinics/{clinic_id}/sync/live", tag = "sync", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)),
    responses((status = 200, description = "text/event-stream of `changed` events"), (status = 404, body = ApiError)))]
pub async fn live(
    State(app): State<App>,
    meta: RequestMeta,
    ApiPath(clinic): ApiPath<Uuid>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    check_member(&app, &meta, clinic).await?;
    let rx = app.changes.subscribe();
    let state = (rx, app, meta, tokio::time::Instant::now() + RECHECK, true);
    let stream = futures::stream::unfold(
        state,
        move |(mut rx, app, meta, mut recheck, first)| async move {
            let event = || Event::default().event(LIVE_EVENT).data(clinic.to_string());
            if first {
                // Pull once at connect: changes may have landed before the subscription.
                return Some((Ok(event()), (rx, app, meta, recheck, false)));
            }
            loop {
                tokio::select! {
                    signal = rx.recv() => match signal {
                        Ok(Some(c)) if c != clinic => continue,
                        Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                            // Checked for every event sent: a member revoked a moment ago
                            // hears of no further change; the stream ends.
                            if check_member(&app, &meta, clinic).await.is_err() {
                                return None;
                            }
                            return Some((Ok(event()), (rx, app, meta, recheck, false)));
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    },
                    _ = tokio::time::sleep_until(recheck) => {
                        if check_member(&app, &meta, clinic).await.is_err() {
                            return None;
                        }
                        recheck = tokio::time::Instant::now() + RECHECK;
                    }
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

async fn check_member(app: &App, meta: &RequestMeta, clinic: Uuid) -> Result<(), AppError> {
    RequestTx::begin(&app.pool, meta)
        .await?
        .run(async |tx| {
            tx.require_member(clinic, "sync").await?;
            Ok(())
        })
        .await
}
