//! A keyring that follows its key file: when `tenantry keys rotate-secret` rewrites the file,
//! running servers seal with the new key from their next secret on, without a restart.

use std::fs;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use super::{KeySource, Keyring};

/// What identifies one version of the key file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn stamp(path: &std::path::Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let metadata = fs::metadata(path).ok()?;
    Some(Stamp {
        modified: metadata.modified().ok(),
        len: metadata.len(),
        inode: metadata.ino(),
    })
}

pub struct LiveKeyring {
    source: KeySource,
    loaded: RwLock<(Option<Stamp>, Arc<Keyring>)>,
}

impl LiveKeyring {
    pub fn load(source: KeySource) -> anyhow::Result<LiveKeyring> {
        let keyring = Keyring::load(&source)?;
        let stamp = source.file().as_deref().and_then(stamp);
        Ok(LiveKeyring {
            source,
            loaded: RwLock::new((stamp, Arc::new(keyring))),
        })
    }

    /// The key file it follows, if the keys come from one.
    pub fn file(&self) -> Option<std::path::PathBuf> {
        self.source.file()
    }

    /// A keyring that never changes, for keys given in the environment or in tests.
    pub fn fixed(keyring: Keyring) -> LiveKeyring {
        LiveKeyring {
            source: KeySource::Env(String::new()),
            loaded: RwLock::new((None, Arc::new(keyring))),
        }
    }

    /// The keyring as the key file holds it now. A file that changed is read again (one
    /// `stat` per call otherwise); one that cannot be read keeps the keys loaded before.
    pub fn current(&self) -> Arc<Keyring> {
        let loaded = self
            .loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let Some(path) = self.source.file() else {
            return loaded.1;
        };
        let now = stamp(&path);
        if now == loaded.0 {
            return loaded.1;
        }
        match Keyring::load(&self.source) {
            Ok(keyring) => {
                let keyring = Arc::new(keyring);
                tracing::info!(
                    key_id = keyring.current.id(),
                    "secret key file changed; reloaded"
                );
                *self.loaded.write().unwrap_or_else(|e| e.into_inner()) = (now, keyring.clone());
                keyring
            }
            Err(error) => {
                tracing::warn!(%error, "secret key file changed but cannot be read; keeping the keys loaded before");
                loaded.1
            }
        }
    }
}

impl std::fmt::Debug for LiveKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveKeyring")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::rotate_key_file;

    #[test]
    fn a_rotated_key_file_is_picked_up_and_old_ciphertexts_still_open() {
        let dir = tempfile::tempdir().unwrap();
        let source = KeySource::Generate {
            data_dir: dir.path().to_owned(),
        };
        let live = LiveKeyring::load(source.clone()).unwrap();
        let first = live.current();
        let sealed = first.seal(b"hunter2", b"ctx");
        let rotated = rotate_key_file(&source.file().unwrap()).unwrap();
        let now = live.current();
        assert_eq!(now.current.id(), rotated.current.id());
        assert_ne!(now.current.id(), first.current.id());
        assert_eq!(now.open(&sealed, b"ctx").unwrap(), b"hunter2");
        assert!(!now.is_current(&sealed));
    }
}
