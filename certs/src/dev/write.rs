//! Writing dev PKI files: certificates 0644, private keys 0600, never through an
//! existing file or symlink.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use super::FilePair;
use crate::{CertPair, CertsError};

/// Mode of certificates, CRLs, public keys and the README.
const PUBLIC_MODE: u32 = 0o644;
/// Mode of private keys.
const SECRET_MODE: u32 = 0o600;

/// Writes files below a directory it has created.
pub(super) struct Writer;

impl Writer {
    /// Creates `dir` (and its parents) when missing.
    pub(super) fn new(dir: &Path) -> Result<Self, CertsError> {
        fs::create_dir_all(dir).map_err(|e| CertsError::io("create directory", dir, e))?;
        Ok(Self)
    }

    /// Writes a certificate and its key.
    pub(super) fn pair(&mut self, files: &FilePair, pair: &CertPair) -> Result<(), CertsError> {
        self.public(&files.cert, &pair.cert_pem)?;
        self.secret(&files.key, &pair.key_pem)
    }

    /// Writes a file anyone may read.
    pub(super) fn public(&mut self, path: &Path, contents: &str) -> Result<(), CertsError> {
        write_new(path, contents, PUBLIC_MODE)
    }

    /// Writes a file only its owner may read.
    pub(super) fn secret(&mut self, path: &Path, contents: &str) -> Result<(), CertsError> {
        write_new(path, contents, SECRET_MODE)
    }
}

/// Replaces whatever is at `path` with a new file of the given mode.
///
/// The old file (or symlink) is removed first and the new one created exclusively, so
/// the mode always applies and a symlink planted at `path` is never followed.
fn write_new(path: &Path, contents: &str, mode: u32) -> Result<(), CertsError> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| CertsError::io("create directory", parent, e))?;
    }
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(CertsError::io("remove", path, e)),
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| CertsError::io("create", path, e))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| CertsError::io("write", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn secret_replaces_a_world_readable_file_with_a_0600_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/x.key");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o666)).unwrap();
        let mut w = Writer::new(dir.path()).unwrap();
        w.secret(&path, "new").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn a_symlink_is_replaced_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::write(&target, "untouched").unwrap();
        let link = dir.path().join("link.key");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let mut w = Writer::new(dir.path()).unwrap();
        w.secret(&link, "secret").unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "untouched");
        assert!(!fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_to_string(&link).unwrap(), "secret");
    }
}
