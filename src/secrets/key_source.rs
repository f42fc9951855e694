//! Where the keyring comes from: a key file, TENANTRY_SECRET_KEY, or a generated file; and
//! rotation of a key file.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::{Keyring, SecretKey};

const GENERATED_KEY_FILE: &str = "secret.key";

#[derive(Clone, PartialEq, Eq)]
pub enum KeySource {
    File(PathBuf),
    /// The value of TENANTRY_SECRET_KEY: base64 keys separated by commas, current first.
    Env(String),
    /// `<data_dir>/secret.key`, generated on first start.
    Generate {
        data_dir: PathBuf,
    },
}

impl KeySource {
    /// An empty TENANTRY_SECRET_KEY counts as unset.
    pub fn choose(
        key_file: Option<PathBuf>,
        env_key: Option<String>,
        data_dir: &Path,
        allow_generate: bool,
    ) -> anyhow::Result<KeySource> {
        if let Some(path) = key_file {
            return Ok(KeySource::File(path));
        }
        if let Some(value) = env_key.filter(|value| !value.trim().is_empty()) {
            return Ok(KeySource::Env(value));
        }
        if !allow_generate {
            bail!(
                "no secret key: pass --secret-key-file or set TENANTRY_SECRET_KEY \
                 (PostgreSQL replicas must all share one key)"
            );
        }
        Ok(KeySource::Generate {
            data_dir: data_dir.to_owned(),
        })
    }
}

impl KeySource {
    /// The file the keys are read from, if they come from one.
    pub fn file(&self) -> Option<PathBuf> {
        match self {
            KeySource::File(path) => Some(path.clone()),
            KeySource::Generate { data_dir } => Some(data_dir.join(GENERATED_KEY_FILE)),
            KeySource::Env(_) => None,
        }
    }
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::File(path) => f.debug_tuple("File").field(path).finish(),
            KeySource::Env(_) => f.write_str("Env(..)"),
            KeySource::Generate { data_dir } => f
                .debug_struct("Generate")
                .field("data_dir", data_dir)
                .finish(),
        }
    }
}

pub(super) fn load(source: &KeySource) -> anyhow::Result<Keyring> {
    match source {
        KeySource::File(path) => read_key_file(path),
        KeySource::Env(value) => parse_keys(
            value.split(',').enumerate().map(|(i, text)| (i + 1, text)),
            "TENANTRY_SECRET_KEY",
            "entry",
        ),
        KeySource::Generate { data_dir } => load_or_generate(data_dir),
    }
}

/// Generates a new current key and rewrites the file atomically with every old key after it.
/// Run one rotation at a time: two concurrent rotations would keep only one of the new keys.
/// Comments in the file are not kept.
pub fn rotate_key_file(path: &Path) -> anyhow::Result<Keyring> {
    let old = read_key_file(path)?;
    let keyring = Keyring {
        current: SecretKey::generate(),
        older: old.keys().cloned().collect(),
    };
    let temp = write_temp_key_file(path, &keyring)?;
    if let Err(err) = fs::rename(&temp, path) {
        let _ = fs::remove_file(&temp);
        return Err(err).with_context(|| format!("replacing {}", path.display()));
    }
    sync_parent_dir(path)?;
    Ok(keyring)
}

fn read_key_file(path: &Path) -> anyhow::Result<Keyring> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("reading secret key file {}", path.display()))?;
    let lines = text.lines().enumerate().map(|(i, line)| (i + 1, line));
    parse_keys(lines, &path.display().to_string(), "line")
}

fn parse_keys<'a>(
    entries: impl Iterator<Item = (usize, &'a str)>,
    origin: &str,
    unit: &str,
) -> anyhow::Result<Keyring> {
    let mut keys = Vec::new();
    for (number, text) in entries {
        let text = text.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        match SecretKey::parse_base64(text) {
            Ok(key) => keys.push(key),
            Err(reason) => bail!("{origin}: {unit} {number}: secret key {reason}"),
        }
    }
    let mut keys = keys.into_iter();
    let Some(current) = keys.next() else {
        bail!("{origin}: no secret key found");
    };
    Ok(Keyring {
        current,
        older: keys.collect(),
    })
}

/// The key is written in full to a temp file, then hard-linked into place: linking fails if
/// the file exists, so a racing process never sees a half-written key and both end up
/// reading the same one.
fn load_or_generate(data_dir: &Path) -> anyhow::Result<Keyring> {
    fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data directory {}", data_dir.display()))?;
    let path = data_dir.join(GENERATED_KEY_FILE);
    if path.exists() {
        return read_key_file(&path);
    }
    let keyring = Keyring::new(SecretKey::generate());
    let temp = write_temp_key_file(&path, &keyring)?;
    let linked = fs::hard_link(&temp, &path);
    let _ = fs::remove_file(&temp);
    match linked {
        Ok(()) => {
            sync_parent_dir(&path)?;
            Ok(keyring)
        }
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => read_key_file(&path),
        Err(err) => Err(err).with_context(|| format!("creating {}", path.display())),
    }
}

/// A 0600 file beside `path`, holding the keyring with the current key first, fsynced.
fn write_temp_key_file(path: &Path, keyring: &Keyring) -> anyhow::Result<PathBuf> {
    let name = path
        .file_name()
        .context("secret key path has no file name")?;
    let suffix = hex::encode(rand::random::<[u8; 8]>());
    let temp = path.with_file_name(format!(".{}.{suffix}.tmp", name.to_string_lossy()));
    let contents: String = keyring
        .keys()
        .map(|key| STANDARD.encode(key.bytes) + "\n")
        .collect();
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .and_then(|mut file| {
            file.write_all(contents.as_bytes())?;
            file.sync_all()
        });
    if let Err(err) = written {
        let _ = fs::remove_file(&temp);
        return Err(err).with_context(|| format!("writing {}", temp.display()));
    }
    Ok(temp)
}

/// Makes the new directory entry itself durable, not only the file's contents.
fn sync_parent_dir(path: &Path) -> anyhow::Result<()> {
    let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .with_context(|| format!("syncing directory {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::sync::{Arc, Barrier};

    use super::*;

    const CONTEXT: &[u8] = b"tenant_01h:webhook_secret";

    #[test]
    fn generated_key_file_is_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let source = KeySource::Generate {
            data_dir: dir.path().join("data"),
        };

        let first = Keyring::load(&source).unwrap();
        let path = dir.path().join("data").join(GENERATED_KEY_FILE);
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        let second = Keyring::load(&source).unwrap();
        assert_eq!(first.current.id(), second.current.id());
        assert_eq!(fs::read_dir(dir.path().join("data")).unwrap().count(), 1);
    }

    #[test]
    fn concurrent_first_starts_agree_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let barrier = Arc::new(Barrier::new(8));
        let loaders: Vec<_> = (0..8)
            .map(|_| {
                let source = KeySource::Generate {
                    data_dir: dir.path().to_owned(),
                };
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    barrier.wait();
                    Keyring::load(&source).unwrap().current.id().to_owned()
                })
            })
            .collect();
        let ids: Vec<String> = loaders.into_iter().map(|t| t.join().unwrap()).collect();

        assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    }

    #[test]
    fn key_file_lists_current_key_first_and_skips_comments() {
        let (current, older) = (SecretKey::generate(), SecretKey::generate());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        let text = format!(
            "# rotated 2025-01-01\n\n{}\r\n  {}  \n",
            STANDARD.encode(current.bytes),
            STANDARD.encode(older.bytes)
        );
        fs::write(&path, text).unwrap();

        let keyring = Keyring::load(&KeySource::File(path)).unwrap();
        assert_eq!(keyring.current.id(), current.id());
        assert_eq!(keyring.older.len(), 1);
        assert_eq!(keyring.older[0].id(), older.id());
    }

    #[test]
    fn bad_key_file_line_is_named_without_its_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        let valid = STANDARD.encode([7u8; 32]);
        let short = STANDARD.encode(b"sixteen byte key");
        let garbage = "s3cr3t-n0t-base64!";
        for (bad, reason) in [(short.as_str(), "16 bytes"), (garbage, "not valid base64")] {
            fs::write(&path, format!("# keys\n{valid}\n\n{bad}\n")).unwrap();

            let err = format!(
                "{:#}",
                Keyring::load(&KeySource::File(path.clone())).unwrap_err()
            );
            assert!(err.contains(&path.display().to_string()), "{err}");
            assert!(err.contains("line 4") && err.contains(reason), "{err}");
            assert!(!err.contains(bad) && !err.contains(&valid), "{err}");
        }

        fs::write(&path, "# no keys yet\n").unwrap();
        let err = Keyring::load(&KeySource::File(path.clone())).unwrap_err();
        assert!(err.to_string().contains("no secret key"), "{err}");
    }

    #[test]
    fn env_value_holds_comma_separated_keys_current_first() {
        let (current, older) = (SecretKey::generate(), SecretKey::generate());
        let value = format!(
            "{}, {}",
            STANDARD.encode(current.bytes),
            STANDARD.encode(older.bytes)
        );

        let keyring = Keyring::load(&KeySource::Env(value)).unwrap();
        assert_eq!(keyring.current.id(), current.id());
        assert_eq!(keyring.older[0].id(), older.id());

        let err = Keyring::load(&KeySource::Env("c2hvcnQ=".into())).unwrap_err();
        assert!(err.to_string().contains("entry 1"), "{err}");
        assert!(!err.to_string().contains("c2hvcnQ="), "{err}");
    }

    #[test]
    fn key_file_wins_over_env_and_generation_needs_permission() {
        let data = Path::new("/var/lib/tenantry");
        let file = PathBuf::from("/etc/tenantry/keys");
        let env = "a2V5".to_owned();

        let chosen = KeySource::choose(Some(file.clone()), Some(env.clone()), data, false);
        assert_eq!(chosen.unwrap(), KeySource::File(file));
        let chosen = KeySource::choose(None, Some(env.clone()), data, false);
        assert_eq!(chosen.unwrap(), KeySource::Env(env));
        let chosen = KeySource::choose(None, Some(" ".into()), data, true);
        let generate = KeySource::Generate {
            data_dir: data.to_owned(),
        };
        assert_eq!(chosen.unwrap(), generate);

        let err = KeySource::choose(None, None, data, false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--secret-key-file") && err.contains("TENANTRY_SECRET_KEY"));
    }

    #[test]
    fn rotated_key_file_keeps_old_keys_readable() {
        let dir = tempfile::tempdir().unwrap();
        let original = Keyring::load(&KeySource::Generate {
            data_dir: dir.path().into(),
        })
        .unwrap();
        let sealed = original.seal(b"payload", CONTEXT);
        let path = dir.path().join(GENERATED_KEY_FILE);

        let returned = rotate_key_file(&path).unwrap();
        let reloaded = Keyring::load(&KeySource::File(path.clone())).unwrap();

        assert_ne!(returned.current.id(), original.current.id());
        assert_eq!(reloaded.current.id(), returned.current.id());
        assert_eq!(reloaded.older[0].id(), original.current.id());
        assert_eq!(reloaded.open(&sealed, CONTEXT).unwrap(), b"payload");
        assert!(!reloaded.is_current(&sealed));
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "temp file left behind"
        );
    }
}
