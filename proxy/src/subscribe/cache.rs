//! The last accepted snapshot on disk (`--snapshot-cache`), so a proxy that restarts while the
//! operator is unreachable can still serve. Snapshots carry provider keys, so the file is
//! readable by the proxy's user only (0600), and it is replaced atomically: a temporary file in
//! the same folder, fsync, rename. These are blocking calls: callers run them on the blocking
//! pool.

use std::{
    fs::{self, OpenOptions, Permissions},
    io::{self, Write as _},
    os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _},
    path::{Path, PathBuf},
};

use switchyard_crds::{Snapshot, snapshot::SnapshotError};

/// Why the cache could not be served.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The file could not be read (or is not there).
    #[error("cannot read the snapshot cache {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The file does not hold a snapshot that verifies.
    #[error("the snapshot cache {} does not hold a valid snapshot", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: SnapshotError,
    },
}

impl CacheError {
    /// Whether there simply is no cache yet.
    pub fn is_missing(&self) -> bool {
        matches!(self, Self::Read { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

/// Replaces the cache with `snapshot_json` (a snapshot as received, already verified).
pub fn save(path: &Path, snapshot_json: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path.file_name().map_or_else(
        || "snapshot".into(),
        |name| name.to_string_lossy().into_owned(),
    );
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written =
        write_private(&temporary, snapshot_json).and_then(|()| fs::rename(&temporary, path));
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    written?;
    // The rename is durable once the folder is synced; not every filesystem can sync one.
    if let Ok(folder) = fs::File::open(dir) {
        let _ = folder.sync_all();
    }
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // `mode` applies only to a file it creates; a leftover file keeps its own.
    file.set_permissions(Permissions::from_mode(0o600))?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Reads and verifies the cache.
pub fn load(path: &Path) -> Result<Snapshot, CacheError> {
    let bytes = fs::read(path).map_err(|source| CacheError::Read {
        path: path.to_owned(),
        source,
    })?;
    Snapshot::from_json(&bytes).map_err(|source| CacheError::Invalid {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use switchyard_crds::snapshot::Content;

    use super::*;

    #[test]
    fn a_saved_snapshot_loads_back_and_only_its_owner_can_read_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snapshot.json");
        let snapshot = Snapshot::new(Content::default()).unwrap().with_version(4);
        save(&path, &snapshot.to_json().unwrap()).unwrap();
        let loaded = load(&path).unwrap();
        assert_eq!((loaded.version, loaded.hash), (4, snapshot.hash));
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn a_newer_snapshot_replaces_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snapshot.json");
        for version in [1, 2] {
            let snapshot = Snapshot::new(Content::default())
                .unwrap()
                .with_version(version);
            save(&path, &snapshot.to_json().unwrap()).unwrap();
        }
        assert_eq!(load(&path).unwrap().version, 2);
    }

    #[test]
    fn a_tampered_or_missing_cache_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snapshot.json");
        assert!(load(&path).unwrap_err().is_missing());
        let snapshot = Snapshot::new(Content::default()).unwrap();
        let json = String::from_utf8(snapshot.to_json().unwrap()).unwrap();
        fs::write(&path, json.replace(&snapshot.hash, &"0".repeat(64))).unwrap();
        let error = load(&path).unwrap_err();
        assert!(!error.is_missing());
        assert!(matches!(error, CacheError::Invalid { .. }), "{error}");
    }
}
