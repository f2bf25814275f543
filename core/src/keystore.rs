//! Where the host keeps secrets: the store key now, device private keys later. On a phone
//! the host implements [`KeyStore`] over the Keychain or Android Keystore; the CLI uses
//! [`FileKeyStore`] (one file per secret, mode 0600, in a 0700 folder).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use zeroize::Zeroizing;

/// A failure of the host's key store.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    /// The platform keystore refused or failed.
    #[error("the key store failed: {0}")]
    Unavailable(String),
    /// A secret name the key store cannot hold.
    #[error("invalid secret name")]
    InvalidName,
}

/// Secret storage provided by the host application.
pub trait KeyStore: Send + Sync {
    /// The secret called `name`, or `None` if it was never stored.
    fn get(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, KeyStoreError>;
    /// Stores `secret` under `name`, replacing any previous value.
    fn put(&self, name: &str, secret: &[u8]) -> Result<(), KeyStoreError>;
}

/// An in-memory key store, for tests and examples.
#[derive(Debug, Default)]
pub struct MemoryKeyStore {
    secrets: Mutex<HashMap<String, Zeroizing<Vec<u8>>>>,
}

impl KeyStore for MemoryKeyStore {
    fn get(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, KeyStoreError> {
        let secrets = self
            .secrets
            .lock()
            .map_err(|_| KeyStoreError::Unavailable("lock poisoned".into()))?;
        Ok(secrets.get(name).cloned())
    }

    fn put(&self, name: &str, secret: &[u8]) -> Result<(), KeyStoreError> {
        let mut secrets = self
            .secrets
            .lock()
            .map_err(|_| KeyStoreError::Unavailable("lock poisoned".into()))?;
        secrets.insert(name.to_owned(), Zeroizing::new(secret.to_vec()));
        Ok(())
    }
}

/// A key store of files: one per secret, readable only by the owner.
#[derive(Debug, Clone)]
pub struct FileKeyStore {
    dir: PathBuf,
}

impl FileKeyStore {
    /// A key store in `dir` (created with mode 0700 when first written).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileKeyStore { dir: dir.into() }
    }

    fn path(&self, name: &str) -> Result<PathBuf, KeyStoreError> {
        let ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
        if !ok || name.starts_with('.') {
            return Err(KeyStoreError::InvalidName);
        }
        Ok(self.dir.join(format!("{name}.key")))
    }

    /// The folder holding the key files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn io(e: std::io::Error) -> KeyStoreError {
    KeyStoreError::Unavailable(e.kind().to_string())
}

impl KeyStore for FileKeyStore {
    fn get(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, KeyStoreError> {
        let path = self.path(name)?;
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(Zeroizing::new(bytes))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }

    fn put(&self, name: &str, secret: &[u8]) -> Result<(), KeyStoreError> {
        let path = self.path(name)?;
        create_private_dir(&self.dir).map_err(io)?;
        // Write beside, then rename: a crash never leaves a half-written key.
        let tmp = path.with_extension("key.tmp");
        {
            let mut f = open_private(&tmp).map_err(io)?;
            f.write_all(secret).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, &path).map_err(io)?;
        Ok(())
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_key_store_round_trips_with_owner_only_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let ks = FileKeyStore::new(dir.path().join("keys"));
        assert!(ks.get("store").unwrap().is_none());
        ks.put("store", &[7; 32]).unwrap();
        assert_eq!(ks.get("store").unwrap().unwrap().as_slice(), &[7; 32]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("keys/store.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
            let dmode = std::fs::metadata(dir.path().join("keys"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(dmode & 0o777, 0o700);
        }
        assert!(matches!(
            ks.put("../escape", b"x"),
            Err(KeyStoreError::InvalidName)
        ));
    }
}
