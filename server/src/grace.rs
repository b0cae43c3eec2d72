//! The token pair a refresh hands out, sealed so that only the refresh token it replaced
//! opens it. A retry within the grace period (its answer was lost on a bad line, or two
//! tabs refreshed at once) gets the same pair back instead of a new one; the database
//! never holds a usable token, only this sealed copy until the next rotation.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::hkdf::{Salt, HKDF_SHA256};
use ring::rand::{SecureRandom, SystemRandom};

/// The key only `refresh_token` yields (HKDF-SHA256 of the token).
fn key(refresh_token: &str) -> LessSafeKey {
    let prk = Salt::new(HKDF_SHA256, b"vaidya refresh grace v1").extract(refresh_token.as_bytes());
    let okm = prk
        .expand(&[b"token pair"], &CHACHA20_POLY1305)
        .expect("HKDF yields a key of the AEAD's length");
    LessSafeKey::new(UnboundKey::from(okm))
}

/// `access` and `refresh`, sealed under the token they replace.
pub fn seal(replaced: &str, access: &str, refresh: &str) -> anyhow::Result<Vec<u8>> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| anyhow::anyhow!("no randomness"))?;
    let mut data = format!("{access}\n{refresh}").into_bytes();
    key(replaced)
        .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
        .map_err(|_| anyhow::anyhow!("sealing the token pair failed"))?;
    Ok([nonce.as_slice(), &data].concat())
}

/// The pair sealed under `replaced`, or `None` when it does not open with it.
pub fn open(replaced: &str, sealed: &[u8]) -> Option<(String, String)> {
    if sealed.len() < NONCE_LEN {
        return None;
    }
    let (nonce, data) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut data = data.to_vec();
    let plain = key(replaced)
        .open_in_place(nonce, Aad::empty(), &mut data)
        .ok()?;
    let text = std::str::from_utf8(plain).ok()?;
    let (access, refresh) = text.split_once('\n')?;
    Some((access.to_owned(), refresh.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_replaced_token_opens_the_pair() {
        let sealed = seal("R0", "A1", "R1").unwrap();
        assert_eq!(open("R0", &sealed), Some(("A1".into(), "R1".into())));
        assert_eq!(open("R1", &sealed), None);
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(open("R0", &tampered), None);
        assert_eq!(open("R0", &sealed[..5]), None);
    }
}
