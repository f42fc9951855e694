//! Secrets at rest: AES-256-GCM sealing under a keyring whose older keys stay readable.
//!
//! Where keys come from (file, environment, generated) and how a key file is rotated live in
//! `key_source`.

mod key_source;
mod live;

use std::fmt;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub use key_source::{rotate_key_file, KeySource};
pub use live::LiveKeyring;

const FORMAT_PREFIX: &str = "v1.";
const KEY_LEN: usize = 32;
const KEY_ID_LEN: usize = 16;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// A 256-bit key. The id is a hash of the bytes, so every replica loading the key agrees on it.
#[derive(Clone)]
pub struct SecretKey {
    bytes: [u8; KEY_LEN],
    id: String,
}

impl SecretKey {
    pub fn generate() -> Self {
        let mut bytes = [0u8; KEY_LEN];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self::from_bytes(bytes)
    }

    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        let id = hex::encode(&Sha256::digest(bytes)[..KEY_ID_LEN / 2]);
        Self { bytes, id }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The reason never quotes `text`: it is key material.
    fn parse_base64(text: &str) -> Result<Self, String> {
        let decoded = STANDARD
            .decode(text)
            .map_err(|_| "is not valid base64".to_owned())?;
        let bytes: [u8; KEY_LEN] = decoded
            .try_into()
            .map_err(|d: Vec<u8>| format!("decodes to {} bytes, expected {KEY_LEN}", d.len()))?;
        Ok(Self::from_bytes(bytes))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.bytes.into())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("sealed secret is malformed")]
    Malformed,
    #[error("sealed secret uses unknown key id {0}")]
    UnknownKeyId(String),
    #[error("sealed secret failed authentication (wrong key or context, or tampered)")]
    Authentication,
    #[error("opened secret is not UTF-8")]
    NotUtf8,
}

/// Seals with `current`; opens with any key, so values sealed before a rotation stay readable.
#[derive(Debug, Clone)]
pub struct Keyring {
    pub current: SecretKey,
    pub older: Vec<SecretKey>,
}

impl Keyring {
    pub fn new(current: SecretKey) -> Self {
        Self {
            current,
            older: Vec::new(),
        }
    }

    pub fn load(source: &KeySource) -> anyhow::Result<Keyring> {
        key_source::load(source)
    }

    /// `context` is bound as associated data, so a value only opens for the same row and field.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> String {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: plaintext,
            aad: context,
        };
        let ciphertext = self
            .current
            .cipher()
            .encrypt(&nonce, payload)
            .expect("AES-GCM only refuses plaintexts over 64 GiB");
        let mut body = nonce.to_vec();
        body.extend_from_slice(&ciphertext);
        let encoded = URL_SAFE_NO_PAD.encode(body);
        format!("{FORMAT_PREFIX}{}.{encoded}", self.current.id)
    }

    pub fn open(&self, sealed: &str, context: &[u8]) -> Result<Vec<u8>, SecretError> {
        let (id, body) = split_sealed(sealed).ok_or(SecretError::Malformed)?;
        let key = self
            .keys()
            .find(|key| key.id == id)
            .ok_or_else(|| SecretError::UnknownKeyId(id.to_owned()))?;
        let body = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| SecretError::Malformed)?;
        if body.len() < NONCE_LEN + TAG_LEN {
            return Err(SecretError::Malformed);
        }
        let (nonce, ciphertext) = body.split_at(NONCE_LEN);
        let payload = Payload {
            msg: ciphertext,
            aad: context,
        };
        key.cipher()
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| SecretError::Authentication)
    }

    pub fn seal_str(&self, plaintext: &str, context: &[u8]) -> String {
        self.seal(plaintext.as_bytes(), context)
    }

    pub fn open_str(&self, sealed: &str, context: &[u8]) -> Result<Secret, SecretError> {
        let bytes = self.open(sealed, context)?;
        // The UTF-8 error would carry the plaintext bytes, so it is dropped.
        String::from_utf8(bytes)
            .map(Secret)
            .map_err(|_| SecretError::NotUtf8)
    }

    pub fn key_id(sealed: &str) -> Option<&str> {
        split_sealed(sealed).map(|(id, _)| id)
    }

    /// False for values that the re-encryption pass should open and seal again.
    pub fn is_current(&self, sealed: &str) -> bool {
        Self::key_id(sealed) == Some(self.current.id())
    }

    fn keys(&self) -> impl Iterator<Item = &SecretKey> {
        std::iter::once(&self.current).chain(&self.older)
    }
}

/// Only a well-formed id is accepted, so an error never echoes arbitrary stored text.
fn split_sealed(sealed: &str) -> Option<(&str, &str)> {
    let (id, body) = sealed.strip_prefix(FORMAT_PREFIX)?.split_once('.')?;
    let id_ok = id.len() == KEY_ID_LEN && id.bytes().all(|b| b.is_ascii_hexdigit());
    id_ok.then_some((id, body))
}

/// A plaintext secret in memory; it prints masked and is not serializable.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTEXT: &[u8] = b"tenant_01h:webhook_secret";

    fn keyring() -> Keyring {
        Keyring::new(SecretKey::generate())
    }

    fn rotated(old: &Keyring) -> Keyring {
        Keyring {
            current: SecretKey::generate(),
            older: old.keys().cloned().collect(),
        }
    }

    #[test]
    fn sealed_value_opens_with_the_same_context() {
        let keyring = keyring();
        let sealed = keyring.seal_str("hunter2", CONTEXT);

        assert!(sealed.starts_with(&format!("v1.{}.", keyring.current.id())));
        assert_eq!(Keyring::key_id(&sealed), Some(keyring.current.id()));
        assert!(keyring.is_current(&sealed));
        assert_eq!(
            keyring.open_str(&sealed, CONTEXT).unwrap().expose(),
            "hunter2"
        );
        assert_ne!(
            sealed,
            keyring.seal_str("hunter2", CONTEXT),
            "nonces repeat"
        );
    }

    #[test]
    fn value_sealed_before_rotation_opens_with_the_older_key() {
        let old = keyring();
        let sealed = old.seal(b"payload", CONTEXT);
        let new = rotated(&old);

        assert!(!new.is_current(&sealed));
        assert_eq!(new.open(&sealed, CONTEXT).unwrap(), b"payload");
        assert!(new.is_current(&new.seal(b"payload", CONTEXT)));
    }

    #[test]
    fn value_does_not_open_under_another_context() {
        let keyring = keyring();
        let sealed = keyring.seal(b"payload", CONTEXT);

        let moved = keyring.open(&sealed, b"tenant_01j:webhook_secret");
        assert_eq!(moved, Err(SecretError::Authentication));
    }

    #[test]
    fn tampered_value_fails_authentication() {
        let keyring = keyring();
        let sealed = keyring.seal(b"payload", CONTEXT);
        let (head, body) = sealed.rsplit_once('.').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(body).unwrap();
        *bytes.last_mut().unwrap() ^= 1;
        let tampered = format!("{head}.{}", URL_SAFE_NO_PAD.encode(bytes));

        assert_eq!(
            keyring.open(&tampered, CONTEXT),
            Err(SecretError::Authentication)
        );
    }

    #[test]
    fn value_under_an_unknown_key_names_the_key_id() {
        let stranger = keyring();
        let sealed = stranger.seal(b"payload", CONTEXT);

        let err = keyring().open(&sealed, CONTEXT).unwrap_err();
        assert_eq!(
            err,
            SecretError::UnknownKeyId(stranger.current.id().to_owned())
        );
        assert!(err.to_string().contains(stranger.current.id()));
    }

    #[test]
    fn malformed_values_are_refused() {
        let keyring = keyring();
        let id = keyring.current.id();
        for sealed in [
            "",
            "plaintext",
            &format!("v2.{id}.AAAA"),
            "v1.not-a-key-id.AAAA",
            &format!("v1.{id}.not base64"),
            &format!("v1.{id}.AAAA"),
        ] {
            assert_eq!(
                keyring.open(sealed, CONTEXT),
                Err(SecretError::Malformed),
                "{sealed}"
            );
        }
        assert_eq!(Keyring::key_id("v1.not-a-key-id.AAAA"), None);
    }

    #[test]
    fn debug_output_never_shows_key_bytes_or_plaintext() {
        let key = SecretKey::from_bytes([7u8; KEY_LEN]);
        let encoded = STANDARD.encode(key.bytes);
        let keyring = Keyring {
            current: key.clone(),
            older: vec![key.clone()],
        };
        let source = KeySource::Env(encoded.clone());
        let secret = Secret::from("hunter2".to_owned());

        for debug in [
            format!("{key:?}"),
            format!("{keyring:?}"),
            format!("{source:?}"),
        ] {
            assert!(
                !debug.contains(&encoded) && !debug.contains("7, 7"),
                "{debug}"
            );
            assert!(!debug.contains(&hex::encode(key.bytes)), "{debug}");
        }
        assert!(format!("{keyring:?}").contains(key.id()));
        assert_eq!(format!("{secret:?} {secret}"), "******** ********");
        assert_eq!(secret.expose(), "hunter2");
    }
}
