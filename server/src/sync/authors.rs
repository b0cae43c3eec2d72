//! Who a pushed change is applied as: the pushing user, or the colleague whose signature
//! it carries (`Mutation::author`), proven with that colleague's registered device key.
//! A change signed by the pusher is the pusher's (the session proves them; their own
//! signature is not re-checked).
//! A claimed author whose signature does not hold is refused (`invalid_signature`); the
//! server never takes an author from an unsigned claim.
//!
//! Each author also comes with the earliest time their acts can be dated
//! ([`Author::not_before`], for `rules::clock::act_time`): when a colleague's signing key was
//! registered, or when the pusher joined the clinic.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;
use vaidya_shared::api::Role;
use vaidya_shared::authorship::{self, Signable};
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
type Key = (Uuid, Vec<u8>, DateTime<Utc>);

/// The authors of one push, with the keys and roles looked up once each.
pub struct Authors {
    pub pusher: Uuid,
    pub pusher_role: Role,
    /// When the server received the push: no act in it is dated later.
    pub received: DateTime<Utc>,
    /// When the pusher joined the clinic.
    pusher_since: Option<DateTime<Utc>>,
    keys: HashMap<Uuid, Option<Key>>,
    roles: HashMap<Uuid, Option<Role>>,
}

fn refused(message: &str) -> AppError {
    AppError::from(ApiError {
        code: ErrorCode::InvalidSignature,
        message: message.to_owned(),
        field: Some("author".to_owned()),
    })
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
                                WHERE clinic_id = $1 AND user_id = $2)",
                &[&clinic, &pusher],
            )
            .await?;
        Ok(Authors {
            pusher,
            pusher_role,
            received: row.get(0),
            pusher_since: row.get(1),
            keys: HashMap::new(),
            roles: HashMap::new(),
        })
    }

    /// The user (and their role in the clinic) a signed act (a mutation, an offline read) is
    /// applied as.
    pub async fn of<T: Signable>(
        &mut self,
        tx: &RequestTx,
        clinic: Uuid,
        item: &T,
    ) -> Result<Author, AppError> {
        // Unsigned, or the pusher's own: the session already proves the pusher, so their own
        // signature adds nothing to check (a bad one gains nothing: the change is applied as
        // the pusher, exactly as unsigned). Only a colleague's signature is verified.
        let author = match item.author() {
            Some(a) if a.user_id != self.pusher => a,
            _ => return Ok(self.pusher()),
        };
        if let Entry::Vacant(slot) = self.keys.entry(author.key_id) {
            let key = tx
                .query_opt(
                    "SELECT user_id, public_key, registered_at FROM vaidya.author_key($1, $2)",
                    &[&clinic, &author.key_id],
                )
                .await?
                .map(|r| (r.get(0), r.get(1), r.get(2)));
            slot.insert(key);
        }
        let Some((owner, public_key, registered_at)) = &self.keys[&author.key_id] else {
            return Err(refused(
                "The author's device key is not known here, or was revoked.",
            ));
        };
        if *owner != author.user_id {
            return Err(refused("The device key belongs to another user."));
        }
        authorship::verify(clinic, item, public_key)?;
        let not_before = Some(*registered_at);
        if let Entry::Vacant(slot) = self.roles.entry(author.user_id) {
            let role = tx
                .query_opt(
                    "SELECT role FROM vaidya.memberships
                     WHERE clinic_id = $1 AND user_id = $2 AND revoked_at IS NULL",
                    &[&clinic, &author.user_id],
                )
                .await?
                .and_then(|r| Role::parse(r.get(0)));
            slot.insert(role);
        }
        let role = self.roles[&author.user_id]
            .ok_or_else(|| refused("The author is not a member of this clinic."))?;
        Ok(Author {
            user_id: author.user_id,
            role,
            not_before,
        })
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
