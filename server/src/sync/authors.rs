//! Who a pushed change is applied as: the pushing user, or the colleague whose signature
//! it carries (`Mutation::author`), proven with that colleague's registered device key.
//! A change signed by the pusher is the pusher's (the session proves them; their own
//! signature is not re-checked).
//! A claimed author whose signature does not hold is refused (`invalid_signature`); the
//! server never takes an author from an unsigned claim.
//!
//! A clinic hub (role `hub`) is never an author: it relays. Every item it pushes must carry
//! a colleague's signature that holds; one without is refused, so a hub can neither make up
//! work nor pass its own off as someone's.
//!
//! Each author also comes with the earliest time their acts can be dated
//! ([`Author::not_before`], for `rules::clock::act_time`): when a colleague's signing key was
//! registered, or when the pusher joined the clinic.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;
use vaidya_shared::api::Role;
use vaidya_shared::authorship::{self, Authorship, Signable, VerifyingKey};
use vaidya_shared::{ApiError, ErrorCode};

use crate::http::{AppError, RequestTx};

/// Who an act is applied as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Author {
    pub user_id: Uuid,
    pub role: Role,
    /// The earliest the author could have acted on the device (see the module docs).
    pub not_before: Option<DateTime<Utc>>,
}

/// A registered device key: its owner, public key and registration time.
type Key = (Uuid, VerifyingKey, DateTime<Utc>);

/// The authors of one push, with the keys and roles looked up once each.
pub struct Authors {
    pub pusher: Uuid,
    pub pusher_role: Role,
    /// When the server received the push: no act in it is dated later.
    pub received: DateTime<Utc>,
    /// When the pusher joined the clinic.
    pusher_since: Option<DateTime<Utc>>,
    /// The device the push came from (`x-vaidya-device`, `app.device`).
    pub pusher_device: String,
    keys: HashMap<Uuid, Option<Key>>,
    roles: HashMap<Uuid, Option<Role>>,
    /// This database is the clinic's hub (issue 11): what it takes in it forwards as its
    /// authors' work, so the pusher's own signature is checked too.
    on_hub: bool,
}

fn refused(message: &str) -> ApiError {
    ApiError {
        code: ErrorCode::InvalidSignature,
        message: message.to_owned(),
        field: Some("author".to_owned()),
    }
}

impl Authors {
    /// The pusher's authors for a push to `clinic`, with the server's receipt time (the
    /// transaction's, the database clock: the same instant the rows' `recorded_at` takes)
    /// and when the pusher joined the clinic, in one round trip.
    pub async fn load(
        tx: &RequestTx,
        clinic: Uuid,
        pusher_role: Role,
    ) -> Result<Authors, AppError> {
        let pusher = tx.user_id();
        let row = tx
            .query_one(
                "SELECT now(), (SELECT created_at FROM vaidya.memberships
                                WHERE clinic_id = $1 AND user_id = $2),
                        coalesce(current_setting('app.device', true), ''),
                        vaidya.hub_clinic() IS NOT DISTINCT FROM $1",
                &[&clinic, &pusher],
            )
            .await?;
        Ok(Authors {
            pusher,
            pusher_role,
            received: row.get(0),
            pusher_since: row.get(1),
            pusher_device: row.get(2),
            keys: HashMap::new(),
            roles: HashMap::new(),
            on_hub: row.get(3),
        })
    }

    /// Who each of `items` (signed acts: mutations, offline reads) is applied as, in order,
    /// with that user's role in the clinic. From a clinic hub, an unsigned item or one claimed
    /// as the hub's own is refused (a hub is never an author). Otherwise an unsigned item, or
    /// the pusher's own, is the pusher's: the session already proves the pusher, so their own
    /// signature adds nothing to check (a bad one gains nothing: the item is applied as the
    /// pusher, exactly as unsigned) — except on a clinic hub, which forwards each item as its
    /// author's: there every signature is checked, the pusher's own too. A colleague's claim is checked with their registered key;
    /// all of them together ([`authorship::verify_many`]: batched, over the cores), which is
    /// what makes carrying a colleague's work cheap. An item whose claim does not hold gets its
    /// refusal; only a database failure fails the call.
    pub async fn of_each<T: Signable>(
        &mut self,
        tx: &RequestTx,
        clinic: Uuid,
        items: &[T],
    ) -> Result<Vec<Result<Author, ApiError>>, AppError> {
        let mut verdicts = Vec::with_capacity(items.len());
        let mut to_check: Vec<(usize, &T, VerifyingKey)> = Vec::new();
        for (k, item) in items.iter().enumerate() {
            let claimed = match item.author() {
                Some(a) if a.user_id != self.pusher || self.on_hub => a,
                _ if self.relays() => {
                    verdicts.push(Err(refused(
                        "A clinic hub relays only changes signed by their authors.",
                    )));
                    continue;
                }
                _ => {
                    verdicts.push(Ok(self.pusher()));
                    continue;
                }
            };
            match self.claim(tx, clinic, claimed).await? {
                Ok((author, key)) => {
                    to_check.push((k, item, key));
                    verdicts.push(Ok(author));
                }
                Err(refusal) => verdicts.push(Err(refusal)),
            }
        }
        let pairs: Vec<(&T, &VerifyingKey)> =
            to_check.iter().map(|(_, item, key)| (*item, key)).collect();
        let checked = authorship::verify_many(clinic, &pairs);
        for ((k, _, _), outcome) in to_check.iter().zip(checked) {
            if let Err(refusal) = outcome {
                verdicts[*k] = Err(refusal);
            }
        }
        Ok(verdicts)
    }

    /// A colleague's claimed authorship, before its signature is checked: the registered key
    /// it names (looked up once per key) must be in force and the claimed user's, and that
    /// user a member of the clinic (their role, looked up once per user).
    async fn claim(
        &mut self,
        tx: &RequestTx,
        clinic: Uuid,
        claimed: &Authorship,
    ) -> Result<Result<(Author, VerifyingKey), ApiError>, AppError> {
        if let Entry::Vacant(slot) = self.keys.entry(claimed.key_id) {
            let key = tx
                .query_opt(
                    "SELECT user_id, public_key, registered_at FROM vaidya.author_key($1, $2)",
                    &[&clinic, &claimed.key_id],
                )
                .await?
                .and_then(|r| {
                    let key = authorship::parse_public_key(r.get(1))?;
                    Some((r.get(0), key, r.get(2)))
                });
            slot.insert(key);
        }
        let Some((owner, key, registered_at)) = self.keys[&claimed.key_id] else {
            return Ok(Err(refused(
                "The author's device key is not known here, or was revoked.",
            )));
        };
        if owner != claimed.user_id {
            return Ok(Err(refused("The device key belongs to another user.")));
        }
        if let Entry::Vacant(slot) = self.roles.entry(claimed.user_id) {
            let role = tx
                .query_opt(
                    "SELECT role FROM vaidya.memberships
                     WHERE clinic_id = $1 AND user_id = $2 AND revoked_at IS NULL",
                    &[&clinic, &claimed.user_id],
                )
                .await?
                .and_then(|r| Role::parse(r.get(0)));
            slot.insert(role);
        }
        let Some(role) = self.roles[&claimed.user_id] else {
            return Ok(Err(refused("The author is not a member of this clinic.")));
        };
        Ok(Ok((
            Author {
                user_id: claimed.user_id,
                role,
                not_before: Some(registered_at),
            },
            key,
        )))
    }

    /// Whether the pusher is a clinic hub, whose every applied change is a colleague's,
    /// relayed for the device that made it: then what the server checks against "the device"
    /// (its invoice series, the device a conflict names) is the one signed into the change
    /// (`Mutation::device`), not the hub's header.
    pub fn relays(&self) -> bool {
        self.pusher_role == Role::Hub
    }

    /// Acts as `author` for a change made on `device` (see [`relays`](Self::relays)).
    pub async fn act_as_author(
        &self,
        tx: &RequestTx,
        author: Uuid,
        device: Option<&str>,
    ) -> Result<(), AppError> {
        if self.relays() {
            tx.act_as_on(author, device.unwrap_or_default()).await
        } else {
            tx.act_as(author).await
        }
    }

    /// Acts as the pusher again, on the pusher's own device.
    pub async fn act_as_pusher(&self, tx: &RequestTx) -> Result<(), AppError> {
        if self.relays() {
            tx.act_as_on(self.pusher, &self.pusher_device).await
        } else {
            tx.act_as(self.pusher).await
        }
    }

    /// The pushing user, dated no earlier than their joining the clinic.
    pub fn pusher(&self) -> Author {
        Author {
            user_id: self.pusher,
            role: self.pusher_role,
            not_before: self.pusher_since,
        }
    }
}
