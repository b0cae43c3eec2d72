//! Proven authorship of offline work on a shared clinic PC.
//!
//! At online sign-in each user gets a signing key for the device (Ed25519; the secret only in
//! that user's OS-keyring entry, the public key registered with the server). Every change a
//! user makes offline is signed with it, so whoever's session later syncs it, the server
//! applies it as its author: the signature names the author, never the pusher's word.
//!
//! Offline reads are signed the same way, so the audit trail names their real reader.
//!
//! What is signed is [`signed_bytes`]: the clinic id and the item without its
//! [`Authorship`], as RFC 8785 canonical JSON (sorted keys, one number format), so the
//! device and the server derive the same bytes whatever order their JSON maps keep.

use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::sync::{LocalAccess, Mutation};
use crate::{ApiError, ErrorCode};

/// Who made a change, and the proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Authorship {
    pub user_id: Uuid,
    /// The author's signing key on the device that made the change.
    pub key_id: Uuid,
    /// Ed25519 signature over [`signed_bytes`], base64 (standard alphabet).
    pub signature: String,
}

/// Something a user does on a device and signs: a change ([`Mutation`]) or an access to
/// patient data ([`LocalAccess`]). Each kind signs under its own name, so a signature made
/// for one can never pass as the other.
pub trait Signable: Serialize + Clone {
    /// The key the item sits under in the signed JSON.
    const DOMAIN: &'static str;
    fn author(&self) -> Option<&Authorship>;
    fn set_author(&mut self, author: Option<Authorship>);
}

impl Signable for Mutation {
    const DOMAIN: &'static str = "mutation";
    fn author(&self) -> Option<&Authorship> {
        self.author.as_ref()
    }
    fn set_author(&mut self, author: Option<Authorship>) {
        self.author = author;
    }
}

impl Signable for LocalAccess {
    const DOMAIN: &'static str = "access";
    fn author(&self) -> Option<&Authorship> {
        self.author.as_ref()
    }
    fn set_author(&mut self, author: Option<Authorship>) {
        self.author = author;
    }
}

/// The bytes an author signs for `item` in `clinic`: `{"clinic_id": …, DOMAIN: item}` with
/// the item's authorship left out, as canonical JSON.
pub fn signed_bytes<T: Signable>(clinic: Uuid, item: &T) -> Vec<u8> {
    let mut unsigned = item.clone();
    unsigned.set_author(None);
    let mut signed = serde_json::Map::new();
    signed.insert("clinic_id".to_owned(), serde_json::json!(clinic));
    signed.insert(
        T::DOMAIN.to_owned(),
        serde_json::to_value(&unsigned).expect("a signable item is plain JSON"),
    );
    serde_json_canonicalizer::to_vec(&signed).expect("a signable item is plain JSON")
}

/// A user's signing key on this device.
#[derive(Clone)]
pub struct DeviceSigner {
    pub user_id: Uuid,
    pub key_id: Uuid,
    key: SigningKey,
}

impl std::fmt::Debug for DeviceSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceSigner")
            .field("user_id", &self.user_id)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl DeviceSigner {
    /// The signer for a 32-byte secret (from the OS keyring, or fresh random bytes).
    pub fn from_secret(user_id: Uuid, key_id: Uuid, secret: [u8; 32]) -> DeviceSigner {
        DeviceSigner {
            user_id,
            key_id,
            key: SigningKey::from_bytes(&secret),
        }
    }

    pub fn secret(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The public key the server checks signatures with.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// Signs `item` for `clinic` as this user (replacing any earlier authorship).
    pub fn sign<T: Signable>(&self, clinic: Uuid, item: &mut T) {
        let signature = self.key.sign(&signed_bytes(clinic, item));
        item.set_author(Some(Authorship {
            user_id: self.user_id,
            key_id: self.key_id,
            signature: base64::engine::general_purpose::STANDARD.encode(signature.to_bytes()),
        }));
    }
}

fn invalid(message: &str) -> ApiError {
    ApiError {
        code: ErrorCode::InvalidSignature,
        message: message.to_owned(),
        field: Some("author".to_owned()),
    }
}

/// Checks that `item`'s authorship was signed for `clinic` with `public_key` (the key the
/// server registered as `author.key_id` of `author.user_id`).
pub fn verify<T: Signable>(clinic: Uuid, item: &T, public_key: &[u8]) -> Result<(), ApiError> {
    let author = item
        .author()
        .ok_or_else(|| invalid("The change names no author."))?;
    let key = <[u8; 32]>::try_from(public_key)
        .ok()
        .and_then(|k| VerifyingKey::from_bytes(&k).ok())
        .ok_or_else(|| invalid("The author's device key is not usable."))?;
    let signature = base64::engine::general_purpose::STANDARD
        .decode(&author.signature)
        .ok()
        .and_then(|b| Signature::from_slice(&b).ok())
        .ok_or_else(|| invalid("The change's signature is malformed."))?;
    key.verify_strict(&signed_bytes(clinic, item), &signature)
        .map_err(|_| invalid("The change's signature does not match its author and content."))
}

/// A public key as the wire carries it (base64 of 32 bytes).
pub fn decode_public_key(text: &str) -> Option<[u8; 32]> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    let key = <[u8; 32]>::try_from(bytes.as_slice()).ok()?;
    VerifyingKey::from_bytes(&key).ok()?;
    Some(key)
}

pub fn encode_public_key(key: &[u8; 32]) -> String {
    base64::engine::general_purpose::STANDARD.encode(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::{EntityKind, Operation};

    fn mutation() -> Mutation {
        let mut data = serde_json::Map::new();
        data.insert("z".into(), serde_json::json!(1.5));
        data.insert("a".into(), serde_json::json!("x"));
        Mutation {
            mutation_id: Uuid::new_v4(),
            entity: EntityKind::Patient,
            entity_id: Uuid::new_v4(),
            op: Operation::Create,
            base_version: None,
            parent_id: None,
            data: Some(serde_json::Value::Object(data)),
            changes: serde_json::Map::new(),
            made_at: chrono::Utc::now(),
            author: None,
        }
    }

    #[test]
    fn a_signature_holds_for_its_clinic_and_content_only() {
        let signer = DeviceSigner::from_secret(Uuid::new_v4(), Uuid::new_v4(), [7; 32]);
        let clinic = Uuid::new_v4();
        let mut m = mutation();
        signer.sign(clinic, &mut m);
        verify(clinic, &m, &signer.public_key()).unwrap();
        // Through the wire and back (map order may change): still the same bytes.
        let again: Mutation = serde_json::from_slice(&serde_json::to_vec(&m).unwrap()).unwrap();
        verify(clinic, &again, &signer.public_key()).unwrap();

        let other_clinic = verify(Uuid::new_v4(), &m, &signer.public_key()).unwrap_err();
        assert_eq!(other_clinic.code, ErrorCode::InvalidSignature);
        let mut altered = m.clone();
        altered.data = Some(serde_json::json!({"a": "y", "z": 1.5}));
        assert!(verify(clinic, &altered, &signer.public_key()).is_err());
        let stranger = DeviceSigner::from_secret(Uuid::new_v4(), Uuid::new_v4(), [8; 32]);
        assert!(verify(clinic, &m, &stranger.public_key()).is_err());
        let mut unsigned = m.clone();
        unsigned.author = None;
        assert!(verify(clinic, &unsigned, &signer.public_key()).is_err());
    }

    #[test]
    fn a_signature_for_one_kind_of_act_never_passes_as_another() {
        // Same clinic and author: the signed bytes name the kind, so a change's signature
        // cannot be replayed on a read (nor the reverse), whatever the fields.
        let m = mutation();
        let access = LocalAccess {
            access_id: m.mutation_id,
            action: crate::api::AuditAction::Read,
            entity: EntityKind::Patient,
            entity_ids: vec![m.entity_id],
            patient_ids: vec![m.entity_id],
            at: m.made_at,
            author: None,
        };
        let clinic = Uuid::new_v4();
        assert!(signed_bytes(clinic, &m).starts_with(b"{\"clinic_id\""));
        assert_ne!(signed_bytes(clinic, &m), signed_bytes(clinic, &access));
        let signer = DeviceSigner::from_secret(Uuid::new_v4(), Uuid::new_v4(), [9; 32]);
        let mut signed = m.clone();
        signer.sign(clinic, &mut signed);
        let replayed = LocalAccess {
            author: signed.author.clone(),
            ..access
        };
        assert!(verify(clinic, &replayed, &signer.public_key()).is_err());
    }
}
