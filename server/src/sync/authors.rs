//! Who a pushed change is applied as: the pushing user, or the colleague whose signature
//! it carries (`Mutation::author`), proven with that colleague's registered device key.
//! A change signed by the pusher is the pusher's (the session proves them; their own
//! signature is not re-checked).
//! A claimed author whose signature does not hold is refused (`invalid_signature`); the
//! server never takes an author from an unsigned claim.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use uuid::Uuid;
use vaidya_shared::api::Role;
use vaidya_shared::authorship;
use vaidya_shared::sync::Mutation;
use vaidya_shared::{ApiError, ErrorCode};

use crate::http::{AppError, RequestTx};

/// The authors of one push, with the keys and roles looked up once each.
pub struct Authors {
    pub pusher: Uuid,
    pub pusher_role: Role,
    keys: HashMap<Uuid, Option<(Uuid, Vec<u8>)>>,
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
    pub fn new(pusher: Uuid, pusher_role: Role) -> Authors {
        Authors {
            pusher,
            pusher_role,
            keys: HashMap::new(),
            roles: HashMap::new(),
        }
    }

    /// The user (and their role in the clinic) a mutation is applied as.
    pub async fn of(
        &mut self,
        tx: &RequestTx,
        clinic: Uuid,
        m: &Mutation,
    ) -> Result<(Uuid, Role), AppError> {
        // Unsigned, or the pusher's own: the session already proves the pusher, so their own
        // signature adds nothing to check (a bad one gains nothing: the change is applied as
        // the pusher, exactly as unsigned). Only a colleague's signature is verified.
        let author = match &m.author {
            Some(a) if a.user_id != self.pusher => a,
            _ => return Ok((self.pusher, self.pusher_role)),
        };
        if let Entry::Vacant(slot) = self.keys.entry(author.key_id) {
            let key = tx
                .query_opt(
                    "SELECT user_id, public_key FROM vaidya.author_key($1, $2)",
                    &[&clinic, &author.key_id],
                )
                .await?
                .map(|r| (r.get::<_, Uuid>(0), r.get::<_, Vec<u8>>(1)));
            slot.insert(key);
        }
        let Some((owner, public_key)) = &self.keys[&author.key_id] else {
            return Err(refused(
                "The author's device key is not known here, or was revoked.",
            ));
        };
        if *owner != author.user_id {
            return Err(refused("The device key belongs to another user."));
        }
        authorship::verify(clinic, m, public_key)?;
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
        Ok((author.user_id, role))
    }
}
