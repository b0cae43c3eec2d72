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
/// An Ed25519 public key (re-exported: the server parses registered keys once with it).
pub use ed25519_dalek::VerifyingKey;
use ed25519_dalek::{Signature, Signer, SigningKey};
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
pub trait Signable: Serialize + Clone + Sync {
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

impl Signable for crate::api::DeviceSignIn {
    const DOMAIN: &'static str = "device_sign_in";
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
    // The item as JSON without its `author` key: what it serializes to with no authorship
    // (`author` is skipped when empty), without copying the item first.
    let mut unsigned = serde_json::to_value(item).expect("a signable item is plain JSON");
    if let Some(fields) = unsigned.as_object_mut() {
        fields.remove("author");
    }
    let mut signed = serde_json::Map::new();
    signed.insert("clinic_id".to_owned(), serde_json::json!(clinic));
    signed.insert(T::DOMAIN.to_owned(), unsigned);
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
    let key = parse_public_key(public_key)
        .ok_or_else(|| invalid("The author's device key is not usable."))?;
    verify_many(clinic, &[(item, &key)]).remove(0)
}

/// A registered public key, parsed once for many checks. `None` for bytes that are not a
/// usable Ed25519 key, or a weak (small-order) one, which proves nothing.
pub fn parse_public_key(bytes: &[u8]) -> Option<VerifyingKey> {
    let key = <[u8; 32]>::try_from(bytes).ok()?;
    let key = VerifyingKey::from_bytes(&key).ok()?;
    (!key.is_weak()).then_some(key)
}

/// Below this many signatures a check runs on the calling thread: a thread costs more.
const PARALLEL_FROM: usize = 256;

/// Checks many items' authorship at once, each against its author's key: one verdict per
/// item, in order, the same as [`verify`] gives one by one. The server checks a push's
/// colleague-signed changes this way.
///
/// The items are split over the machine's cores; each part is checked with Ed25519 batch
/// verification (about half the cost per signature), and only a part that fails as a whole
/// is checked one by one (`verify_strict`), to name the bad items. A batch checks the RFC 8032
/// equation; `verify_strict` also refuses a small-order `R`, which only the key's holder could
/// make and which proves the same author (weak keys are refused when parsed, for both).
pub fn verify_many<T: Signable>(
    clinic: Uuid,
    items: &[(&T, &VerifyingKey)],
) -> Vec<Result<(), ApiError>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if items.len() < PARALLEL_FROM || threads == 1 {
        return verify_part(clinic, items);
    }
    let part = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = items
            .chunks(part)
            .map(|chunk| scope.spawn(move || verify_part(clinic, chunk)))
            .collect();
        parts
            .into_iter()
            .flat_map(|part| part.join().expect("signature checks do not panic"))
            .collect()
    })
}

/// [`verify_many`] on one thread.
fn verify_part<T: Signable>(
    clinic: Uuid,
    items: &[(&T, &VerifyingKey)],
) -> Vec<Result<(), ApiError>> {
    let prepared: Vec<Result<(Vec<u8>, Signature), ApiError>> = items
        .iter()
        .map(|(item, _)| {
            // A missing or malformed signature is refused before its bytes are built.
            let signature = signature_of(*item)?;
            Ok((signed_bytes(clinic, *item), signature))
        })
        .collect();
    let mut messages = Vec::with_capacity(items.len());
    let mut signatures = Vec::with_capacity(items.len());
    let mut keys = Vec::with_capacity(items.len());
    for ((_, key), p) in items.iter().zip(&prepared) {
        if let Ok((message, signature)) = p {
            messages.push(message.as_slice());
            signatures.push(*signature);
            keys.push(**key);
        }
    }
    // One signature alone is checked directly: a batch of one only costs more.
    let all_hold =
        messages.len() > 1 && ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok();
    items
        .iter()
        .zip(prepared)
        .map(|((_, key), p)| {
            let (message, signature) = p?;
            if all_hold {
                return Ok(());
            }
            key.verify_strict(&message, &signature)
                .map_err(|_| mismatch())
        })
        .collect()
}

/// The signature an item carries, decoded.
fn signature_of<T: Signable>(item: &T) -> Result<Signature, ApiError> {
    let author = item
        .author()
        .ok_or_else(|| invalid("The change names no author."))?;
    base64::engine::general_purpose::STANDARD
        .decode(&author.signature)
        .ok()
        .and_then(|b| Signature::from_slice(&b).ok())
        .ok_or_else(|| invalid("The change's signature is malformed."))
}

fn mismatch() -> ApiError {
    invalid("The change's signature does not match its author and content.")
}

/// A public key as the wire carries it (base64 of 32 bytes), usable by the same rule the
/// checks apply ([`parse_public_key`]), so a key that could never prove anything is refused
/// when it is registered rather than at every later push.
pub fn decode_public_key(text: &str) -> Option<[u8; 32]> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    parse_public_key(&bytes).map(|key| key.to_bytes())
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
            device: None,
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
    fn many_checked_at_once_name_exactly_the_bad_ones() {
        let clinic = Uuid::new_v4();
        let nurse = DeviceSigner::from_secret(Uuid::new_v4(), Uuid::new_v4(), [7; 32]);
        let doctor = DeviceSigner::from_secret(Uuid::new_v4(), Uuid::new_v4(), [9; 32]);
        let nurse_key = parse_public_key(&nurse.public_key()).unwrap();
        let doctor_key = parse_public_key(&doctor.public_key()).unwrap();
        // Enough to be split over threads and batched; two authors' keys mixed.
        let mut items: Vec<(Mutation, &VerifyingKey)> = (0..600)
            .map(|k| {
                let mut m = mutation();
                let (signer, key) = if k % 3 == 0 {
                    (&doctor, &doctor_key)
                } else {
                    (&nurse, &nurse_key)
                };
                signer.sign(clinic, &mut m);
                (m, key)
            })
            .collect();
        let check = |items: &[(Mutation, &VerifyingKey)]| -> Vec<bool> {
            let pairs: Vec<(&Mutation, &VerifyingKey)> =
                items.iter().map(|(m, k)| (m, *k)).collect();
            verify_many(clinic, &pairs)
                .iter()
                .map(Result::is_ok)
                .collect()
        };
        assert!(check(&items).iter().all(|ok| *ok));
        assert!(check(&items[..2]).iter().all(|ok| *ok));

        // Altered after signing; checked against another author's key; a malformed and a
        // missing signature; another clinic's signature — each in a different part.
        items[5].0.data = Some(serde_json::json!({"a": "changed"}));
        items[250].1 = &doctor_key; // signed by the nurse
        items[301].0.author.as_mut().unwrap().signature = "bm90IGEgc2lnbmF0dXJl".into();
        items[450].0.author = None;
        nurse.sign(Uuid::new_v4(), &mut items[599].0);
        let verdicts = check(&items);
        let bad: Vec<usize> = (0..items.len()).filter(|k| !verdicts[*k]).collect();
        assert_eq!(bad, [5, 250, 301, 450, 599]);
        // One by one, the same verdicts.
        for (k, (m, key)) in items.iter().enumerate().step_by(50).chain([(5, &items[5])]) {
            assert_eq!(
                verify(clinic, m, key.as_bytes()).is_ok(),
                verdicts[k],
                "item {k}"
            );
        }
    }

    #[test]
    fn the_signed_bytes_are_the_item_without_its_authorship() {
        // Devices in the field sign these exact bytes: the item as it serializes with no
        // authorship, under its kind, beside the clinic id.
        let signer = DeviceSigner::from_secret(Uuid::new_v4(), Uuid::new_v4(), [7; 32]);
        let clinic = Uuid::new_v4();
        let mut m = mutation();
        let unsigned = serde_json::to_value(&m).unwrap();
        signer.sign(clinic, &mut m);
        let expected = serde_json_canonicalizer::to_vec(
            &serde_json::json!({"clinic_id": clinic, "mutation": unsigned}),
        )
        .unwrap();
        assert_eq!(signed_bytes(clinic, &m), expected);
    }

    #[test]
    fn a_weak_key_is_not_usable() {
        // The identity point: every "signature" would hold for it.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(parse_public_key(&identity).is_none());
        // Nor can it be registered.
        assert!(decode_public_key(&encode_public_key(&identity)).is_none());
        assert!(parse_public_key(&[1; 31]).is_none());
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
