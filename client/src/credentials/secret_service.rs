//! Linux keyring entries (Secret Service) over one D-Bus connection per process.
//!
//! keyring's own Secret Service backend opens a new D-Bus connection and a new encryption
//! session for every operation, two for a write, and drops them at once. gnome-keyring-daemon
//! (42 to 50 at least) aborts when such a client is gone while its session is still being
//! set up (`gkd_secret_service_get_pkcs11_session: assertion 'client' failed`, then
//! SIGABRT); the daemon that D-Bus starts again has the login keyring locked, so the user is
//! asked for a password they never expected, or, with nobody to answer, the call hangs. A
//! desktop that signs staff in and out and syncs all day makes hundreds of these calls.
//!
//! So every entry here shares one connection and one session, opened on first use and kept
//! for the life of the process, behind a mutex (keyring calls are short and rare; taking them
//! one at a time also spares the daemon). When the connection is lost (the daemon was
//! restarted), the operation is tried once more on a new connection: every operation here is
//! idempotent (set replaces, delete of nothing is `NoEntry`).
//!
//! Items keep keyring's own attributes (`target` = "default", `service`, `username`,
//! `application` = "rust-keyring") and go to the default collection, so entries written by
//! keyring's backend are found and vice versa. Entries are made with
//! `keyring::Entry::new_with_credential`, so callers keep keyring's API and error type.

use std::collections::HashMap;
use std::sync::Mutex;

use dbus_secret_service::{EncryptionType, Error as SsError, Item, SecretService};
use keyring::credential::{Credential, CredentialApi};
use keyring::Error as KeyringError;

/// Longest a Secret Service unlock prompt may stay open before the call gives up: long enough
/// to type a password, never a hang.
const PROMPT_TIMEOUT_SECONDS: u64 = 120;

/// The process's connection, or `None` before first use and after it was lost.
static CONNECTION: Mutex<Option<SecretService>> = Mutex::new(None);

/// One keyring entry: a service and a user name, as keyring's `Entry::new` makes them.
#[derive(Debug, Clone)]
pub struct SharedSsCredential {
    service: String,
    user: String,
}

impl SharedSsCredential {
    pub fn new(service: &str, user: &str) -> SharedSsCredential {
        SharedSsCredential {
            service: service.to_owned(),
            user: user.to_owned(),
        }
    }

    /// The attributes a search matches on (keyring's `search_attributes`).
    fn search_attributes(&self) -> HashMap<&str, &str> {
        HashMap::from([
            ("target", "default"),
            ("service", self.service.as_str()),
            ("username", self.user.as_str()),
        ])
    }

    /// The attributes a new item gets (keyring's `new_with_target(None, ..)`).
    fn all_attributes(&self) -> HashMap<&str, &str> {
        let mut attributes = self.search_attributes();
        attributes.insert("application", "rust-keyring");
        attributes
    }

    fn label(&self) -> String {
        format!("{}@{}:default (keyring v3)", self.user, self.service)
    }

    /// The items of this entry, unlocked (which may prompt).
    fn matching_items<'a>(&self, service: &'a SecretService) -> Result<Vec<Item<'a>>, SsError> {
        let found = service.search_items(self.search_attributes())?;
        for item in &found.locked {
            item.unlock()?;
        }
        Ok(found.unlocked.into_iter().chain(found.locked).collect())
    }

    /// `op` on this entry's one item: `NoEntry` without one, `Ambiguous` with several.
    fn on_the_item<T>(&self, op: impl Fn(&Item<'_>) -> Result<T, SsError>) -> keyring::Result<T> {
        with_service(|service| {
            let items = self.matching_items(service)?;
            match items.as_slice() {
                [item] => op(item).map(Outcome::Done),
                [] => Ok(Outcome::NoEntry),
                more => Ok(Outcome::Ambiguous(more.len())),
            }
        })?
        .into_result(self)
    }

    /// Keyring's answer to an entry with more than one item: one credential per item.
    fn ambiguous(&self, count: usize) -> KeyringError {
        let copies: Vec<Box<Credential>> = (0..count)
            .map(|_| Box::new(self.clone()) as Box<Credential>)
            .collect();
        KeyringError::Ambiguous(copies)
    }
}

/// What an operation found, before it is turned into keyring's result.
enum Outcome<T> {
    Done(T),
    NoEntry,
    Ambiguous(usize),
}

impl<T> Outcome<T> {
    fn into_result(self, credential: &SharedSsCredential) -> keyring::Result<T> {
        match self {
            Outcome::Done(value) => Ok(value),
            Outcome::NoEntry => Err(KeyringError::NoEntry),
            Outcome::Ambiguous(count) => Err(credential.ambiguous(count)),
        }
    }
}

/// Runs `operation` on the shared connection, opening it if needed, and once more on a new
/// connection when D-Bus fails (the daemon went away and came back).
fn with_service<T>(operation: impl Fn(&SecretService) -> Result<T, SsError>) -> keyring::Result<T> {
    // A panic while holding the lock leaves nothing half-done in the connection slot.
    let mut slot = CONNECTION
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut retried = false;
    loop {
        if slot.is_none() {
            let service = SecretService::connect_with_max_prompt_timeout(
                EncryptionType::Dh,
                PROMPT_TIMEOUT_SECONDS,
            )
            .map_err(decode_error)?;
            *slot = Some(service);
        }
        let service = slot.as_ref().expect("connected above");
        match operation(service) {
            Err(SsError::Dbus(err)) if !retried => {
                tracing::debug!(error = %err, "Secret Service connection lost; reconnecting");
                *slot = None;
                retried = true;
            }
            Err(SsError::Dbus(err)) => {
                *slot = None;
                return Err(decode_error(SsError::Dbus(err)));
            }
            result => return result.map_err(decode_error),
        }
    }
}

impl CredentialApi for SharedSsCredential {
    fn set_secret(&self, secret: &[u8]) -> keyring::Result<()> {
        with_service(|service| {
            let items = self.matching_items(service)?;
            match items.as_slice() {
                [item] => item.set_secret(secret, "text/plain").map(Outcome::Done),
                [] => {
                    let collection = service.get_default_collection()?;
                    if collection.is_locked()? {
                        collection.unlock()?;
                    }
                    collection
                        .create_item(
                            &self.label(),
                            self.all_attributes(),
                            secret,
                            true, // replace
                            "text/plain",
                        )
                        .map(|_| Outcome::Done(()))
                }
                more => Ok(Outcome::Ambiguous(more.len())),
            }
        })?
        .into_result(self)
    }

    fn get_secret(&self) -> keyring::Result<Vec<u8>> {
        self.on_the_item(|item| item.get_secret())
    }

    fn delete_credential(&self) -> keyring::Result<()> {
        self.on_the_item(|item| item.delete())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// keyring's mapping of Secret Service errors: a locked store, a dismissed prompt or no
/// service is "no storage access"; anything else is a platform failure.
fn decode_error(err: SsError) -> KeyringError {
    match err {
        SsError::Locked | SsError::NoResult | SsError::Prompt | SsError::Unavailable => {
            KeyringError::NoStorageAccess(Box::new(err))
        }
        other => KeyringError::PlatformFailure(Box::new(other)),
    }
}
