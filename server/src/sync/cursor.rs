//! Pull cursors, sealed. A position in the change order is a pair of global values (a
//! transaction id and a sequence number shared by every clinic), so a plain cursor would let
//! a clinic's user count other clinics' writes by how it moves. Handed out, a cursor is
//! encrypted and authenticated (ChaCha20-Poly1305, a fresh nonce each time) under a key kept
//! in the database, so every instance shares it, and bound to its clinic: it reveals nothing,
//! cannot be forged or moved, and another clinic's cursor is refused.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use uuid::Uuid;

/// Marks a sealed cursor (and its format's version).
const PREFIX: &str = "c1.";

/// A position in the change order: (transaction id, sequence number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Cursor {
    pub xid: u64,
    pub seq: i64,
}

/// The deployment's cursor key.
pub struct CursorKey(LessSafeKey);

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

impl CursorKey {
    pub fn new(secret: &[u8]) -> Option<CursorKey> {
        let key = UnboundKey::new(&CHACHA20_POLY1305, secret).ok()?;
        Some(CursorKey(LessSafeKey::new(key)))
    }

    /// A new random secret for [`CursorKey::new`] (the first instance's proposal).
    pub fn random_secret() -> anyhow::Result<[u8; 32]> {
        let mut secret = [0u8; 32];
        SystemRandom::new()
            .fill(&mut secret)
            .map_err(|_| anyhow::anyhow!("no randomness"))?;
        Ok(secret)
    }

    /// `at` as an opaque cursor for `clinic`'s pulls.
    pub fn seal(&self, clinic: Uuid, at: Cursor) -> anyhow::Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| anyhow::anyhow!("no randomness"))?;
        let mut data = [at.xid.to_be_bytes(), at.seq.to_be_bytes()].concat();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(clinic.as_bytes()),
                &mut data,
            )
            .map_err(|_| anyhow::anyhow!("sealing a cursor failed"))?;
        Ok(format!(
            "{PREFIX}{}",
            URL_SAFE_NO_PAD.encode([nonce.as_slice(), &data].concat())
        ))
    }

    /// The position in a cursor this key sealed for `clinic`; `None` for anything else
    /// (altered, another clinic's, another deployment's, not a cursor).
    pub fn open(&self, clinic: Uuid, cursor: &str) -> Option<Cursor> {
        let bytes = URL_SAFE_NO_PAD.decode(cursor.strip_prefix(PREFIX)?).ok()?;
        if bytes.len() <= NONCE_LEN {
            return None;
        }
        let (nonce, data) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = data.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(clinic.as_bytes()), &mut data)
            .ok()?;
        let (xid, seq) = plain.split_first_chunk::<8>()?;
        let seq: [u8; 8] = seq.try_into().ok()?;
        Some(Cursor {
            xid: u64::from_be_bytes(*xid),
            seq: i64::from_be_bytes(seq),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_opens_only_for_its_clinic_and_key_unaltered() {
        let key = CursorKey::new(&[7; 32]).unwrap();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let at = Cursor { xid: 745, seq: 12 };
        let sealed = key.seal(a, at).unwrap();
        assert_eq!(key.open(a, &sealed), Some(at));
        assert!(
            !sealed.contains("745"),
            "the position does not show: {sealed}"
        );
        assert_ne!(sealed, key.seal(a, at).unwrap(), "a fresh nonce each time");
        assert_eq!(key.open(b, &sealed), None, "another clinic's cursor");
        let other = CursorKey::new(&[8; 32]).unwrap();
        assert_eq!(other.open(a, &sealed), None, "another deployment's cursor");
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(key.open(a, &String::from_utf8(tampered).unwrap()), None);
        for junk in ["", "c1.", "c1.!!", "745:12", "c1.AAAA"] {
            assert_eq!(key.open(a, junk), None, "{junk}");
        }
        assert!(Cursor { xid: 745, seq: 99 } < Cursor { xid: 746, seq: 1 });
    }
}
