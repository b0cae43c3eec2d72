//! A keyring look-up that may be waiting on the person at the PC. macOS asks "allow Vaidya
//! to use your confidential information?" for each Keychain item after an update of an
//! unsigned app, and a locked Secret Service may show an unlock prompt: the call blocks until
//! it is answered. The look-up is started once and kept; each UI call waits a while for it
//! and, if it is still pending, says so (`keyring_waiting`) instead of failing. The next call
//! waits on the same look-up, so a prompt answered after a minute still resumes the session,
//! and no second prompt is ever raised.

use std::future::Future;
use std::time::Duration;

/// One look-up in flight, or none.
pub struct PendingLookup<F> {
    in_flight: Option<F>,
}

impl<F> Default for PendingLookup<F> {
    fn default() -> Self {
        PendingLookup { in_flight: None }
    }
}

impl<F> PendingLookup<F> {
    /// Starts the look-up now, unless one is in flight, without waiting for it.
    pub fn start(&mut self, start: impl FnOnce() -> F) {
        self.in_flight.get_or_insert_with(start);
    }
}

impl<F: Future + Unpin> PendingLookup<F> {
    /// The look-up's result if it finishes within `patience`; `None` while it still waits on
    /// the user. `start` runs only when no look-up is in flight.
    pub async fn wait(
        &mut self,
        start: impl FnOnce() -> F,
        patience: Duration,
    ) -> Option<F::Output> {
        let in_flight = self.in_flight.get_or_insert_with(start);
        match tokio::time::timeout(patience, in_flight).await {
            Ok(output) => {
                self.in_flight = None;
                Some(output)
            }
            Err(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    /// A prompt answered only after the first call gave up: the second call gets the answer of
    /// the same look-up; no second look-up (no second prompt) is started.
    #[tokio::test]
    async fn a_late_answer_reaches_the_next_call_without_a_second_prompt() {
        let started = Arc::new(AtomicUsize::new(0));
        let (answer, answered) = tokio::sync::oneshot::channel::<&'static str>();
        let mut lookup = PendingLookup::default();
        let mut answered = Some(answered);
        let mut start = || {
            started.fetch_add(1, Ordering::SeqCst);
            answered.take().expect("started once")
        };

        let first = lookup.wait(&mut start, Duration::from_millis(50)).await;
        assert!(first.is_none(), "the prompt is still open");

        answer.send("session").unwrap();
        let second = lookup.wait(&mut start, Duration::from_secs(5)).await;
        assert_eq!(second.map(Result::unwrap), Some("session"));
        assert_eq!(started.load(Ordering::SeqCst), 1, "one look-up, one prompt");
    }

    /// A look-up started at launch is the one the UI's first call waits on: never a second.
    #[tokio::test]
    async fn a_lookup_started_early_is_the_one_waited_on() {
        let mut lookup: PendingLookup<std::pin::Pin<Box<dyn Future<Output = i32> + Send>>> =
            PendingLookup::default();
        lookup.start(|| Box::pin(async { 1 }));
        lookup.start(|| unreachable!("one look-up in flight is kept"));
        let first = lookup
            .wait(
                || unreachable!("the early look-up is waited on"),
                Duration::from_secs(1),
            )
            .await;
        assert_eq!(first, Some(1));
    }

    /// After an answer, the next call starts a new look-up (a later sign-out and resume).
    #[tokio::test]
    async fn a_finished_lookup_is_not_reused() {
        let mut lookup: PendingLookup<std::pin::Pin<Box<dyn Future<Output = i32> + Send>>> =
            PendingLookup::default();
        let one = lookup
            .wait(|| Box::pin(async { 1 }), Duration::from_secs(1))
            .await;
        let two = lookup
            .wait(|| Box::pin(async { 2 }), Duration::from_secs(1))
            .await;
        assert_eq!((one, two), (Some(1), Some(2)));
    }
}
