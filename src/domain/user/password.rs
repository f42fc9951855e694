//! Passwords: the length rule, and argon2id hashes in PHC form. Hashing is slow by design, so
//! callers run it off the async threads.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::domain::validation::Violations;

pub const MIN_LENGTH: usize = 10;
pub const MAX_LENGTH: usize = 256;

/// Length is the rule that matters (NIST SP 800-63B); no composition rules.
pub fn check(violations: &mut Violations, field: &str, password: &str) {
    violations.length(field, password, MIN_LENGTH, MAX_LENGTH);
}

/// An argon2id hash with a random salt, in PHC string form (`$argon2id$v=19$...`).
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashes any password with the default parameters")
        .to_string()
}

/// Whether `password` matches `stored`. Without a stored hash it still spends the time of one
/// check, so that an unknown email answers as slowly as a wrong password.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let decoy = DECOY.get_or_init(|| hash("decoy password never matched"));
    let (phc, real) = match stored {
        Some(phc) => (phc, true),
        None => (decoy.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let matches = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    real && matches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let first = hash("correct horse battery");
        let second = hash("correct horse battery");
        assert!(first.starts_with("$argon2id$"));
        assert_ne!(first, second, "each hash has its own salt");
        assert!(verify("correct horse battery", Some(&first)));
        assert!(!verify("correct horse batterY", Some(&first)));
        assert!(!verify("correct horse battery", None));
        assert!(!verify("anything", Some("not a hash")));
    }
}
