//! One-time codes for MFA: TOTP (RFC 6238: SHA-1, six digits, 30-second steps, one step of
//! drift either way) and single-use recovery codes.

use rand::Rng;
use totp_rs::{Algorithm, TOTP};

/// The seconds of one TOTP step.
pub const STEP_SECONDS: u64 = 30;
/// How many recovery codes an enrollment hands out.
pub const RECOVERY_CODES: usize = 10;

/// A fresh 160-bit TOTP secret (RFC 4226 recommends 160 bits).
pub fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; 20];
    rand::thread_rng().fill(secret.as_mut_slice());
    secret
}

fn totp(secret: Vec<u8>, issuer: &str, account: &str) -> Option<TOTP> {
    // The otpauth label may not hold ':'; issuer and account are shown, not parsed.
    let clean = |text: &str| text.replace(':', " ");
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP_SECONDS,
        secret,
        Some(clean(issuer)),
        clean(account),
    )
    .ok()
}

/// The secret in base32, for typing into an authenticator app.
pub fn base32(secret: &[u8]) -> String {
    totp_rs::Secret::Raw(secret.to_vec())
        .to_encoded()
        .to_string()
}

/// The `otpauth://` URL an authenticator app scans.
pub fn otpauth_url(secret: &[u8], issuer: &str, account: &str) -> String {
    totp(secret.to_vec(), issuer, account)
        .map(|totp| totp.get_url())
        .unwrap_or_default()
}

/// The code for `unix_seconds` (for tests and enrollment checks).
pub fn code_at(secret: &[u8], unix_seconds: u64) -> String {
    totp(secret.to_vec(), "tenantry", "user")
        .map(|totp| totp.generate(unix_seconds))
        .unwrap_or_default()
}

/// The time step `code` is valid for at `unix_seconds`, allowing one step of drift, if it
/// is later than `after` (a step already used never works again).
pub fn accepted_step(
    secret: &[u8],
    code: &str,
    unix_seconds: u64,
    after: Option<i64>,
) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now_step = (unix_seconds / STEP_SECONDS) as i64;
    (now_step - 1..=now_step + 1)
        .filter(|step| after.is_none_or(|used| *step > used))
        .find(|step| {
            let expected = code_at(secret, *step as u64 * STEP_SECONDS);
            constant_time_eq(expected.as_bytes(), code.as_bytes())
        })
}

/// Ten codes of the form `abcd-efgh-jk` (about 50 bits each); each works once.
pub fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    (0..RECOVERY_CODES)
        .map(|_| {
            let chars: String = (0..10)
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
                .collect();
            format!("{}-{}-{}", &chars[..4], &chars[4..8], &chars[8..])
        })
        .collect()
}

/// A recovery code as typed, reduced to the form it is stored by (case and spaces ignored).
pub fn normalize_recovery_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rfc_6238_sha1_vectors() {
        // RFC 6238 appendix B, truncated to six digits.
        let secret = b"12345678901234567890".to_vec();
        assert_eq!(code_at(&secret, 59), "287082");
        assert_eq!(code_at(&secret, 1_111_111_109), "081804");
        assert_eq!(code_at(&secret, 2_000_000_000), "279037");
    }

    #[test]
    fn a_code_works_within_one_step_of_drift_and_never_twice() {
        let secret = new_secret();
        let now = 1_700_000_000;
        let code = code_at(&secret, now);
        let step = accepted_step(&secret, &code, now, None).expect("current code");
        assert_eq!(step, (now / STEP_SECONDS) as i64);
        assert_eq!(accepted_step(&secret, &code, now + 30, None), Some(step));
        assert_eq!(accepted_step(&secret, &code, now + 90, None), None);
        assert_eq!(accepted_step(&secret, &code, now, Some(step)), None);
        assert_eq!(accepted_step(&secret, "12345", now, None), None);
    }

    #[test]
    fn recovery_codes_are_distinct_and_normalize() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), RECOVERY_CODES);
        assert_eq!(normalize_recovery_code(" ABCD-efgh-JK "), "abcdefghjk");
        assert!(otpauth_url(&new_secret(), "Acme: Agency", "a@b.co").starts_with("otpauth://totp/"));
    }
}
