//! Password hashing with argon2id at OWASP's recommended parameters (19 MiB, 2 passes,
//! 1 lane): the server's stored hashes, and the verifier a PC keeps so a user can sign in
//! again offline. Callers run it off their async workers (it takes tens of milliseconds).

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// OWASP Password Storage Cheat Sheet: argon2id, m=19456 KiB, t=2, p=1.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hash a password into a PHC string (algorithm, parameters and salt included).
pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Verify a password against a stored hash. With no stored hash (unknown email) a dummy hash
/// is verified instead, so both cases take the same time and give the same answer.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("vaidya-dummy-password").expect("hashing dummy"));
    let (phc, known) = match stored {
        Some(s) => (s, true),
        None => (dummy.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
        && known
}

/// Passwords must be 10–128 characters.
pub fn check_strength(password: &str) -> Result<(), &'static str> {
    let n = password.chars().count();
    if n < 10 {
        return Err("A password needs at least 10 characters.");
    }
    if n > 128 {
        return Err("A password may have at most 128 characters.");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse battery", Some(&h)));
        assert!(!verify("wrong horse battery", Some(&h)));
        assert!(!verify("vaidya-dummy-password", None));
    }
}
