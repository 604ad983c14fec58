//! Temporary folders and SQLite database files, removed when dropped.

use std::path::{Path, PathBuf};

use crate::Error;
use crate::env::unique;

/// A new folder `<prefix><32 hex digits>` in the system's temporary folder, removed
/// with everything in it when this guard is dropped. Dropping never panics.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates the folder.
    pub fn create(prefix: &str) -> Result<TempDir, Error> {
        let path = std::env::temp_dir().join(unique(prefix));
        std::fs::create_dir_all(&path).map_err(|source| Error::Io {
            action: format!("creating {}", path.display()),
            source,
        })?;
        Ok(TempDir { path })
    }

    /// Where the folder is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        match std::fs::remove_dir_all(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => eprintln!("could not remove {}: {e}", self.path.display()),
        }
    }
}

/// A SQLite database file of its own, `rabt.db` in a [`TempDir`], removed (with its
/// journal files) when this guard is dropped. The file does not exist until a
/// connection creates it.
#[derive(Debug)]
pub struct TempSqlite {
    /// `sqlite://<folder>/rabt.db`.
    pub url: String,
    dir: TempDir,
}

impl TempSqlite {
    /// Creates the folder the database file will be in.
    pub fn create(prefix: &str) -> Result<TempSqlite, Error> {
        let dir = TempDir::create(prefix)?;
        let url = format!("sqlite://{}", dir.path().join("rabt.db").display());
        Ok(TempSqlite { url, dir })
    }

    /// The database file.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("rabt.db")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_temporary_folder_goes_with_its_contents() {
        let dir = TempDir::create("rabt-test-support-").unwrap();
        let path = dir.path().to_owned();
        std::fs::write(path.join("file"), b"x").unwrap();
        drop(dir);
        assert!(!path.exists());
    }

    #[test]
    fn a_sqlite_file_lives_in_its_own_folder() {
        let db = TempSqlite::create("rabt-test-support-").unwrap();
        assert_eq!(db.url, format!("sqlite://{}", db.path().display()));
        let folder = db.path().parent().unwrap().to_owned();
        assert!(folder.is_dir());
        std::fs::write(db.path(), b"").unwrap();
        drop(db);
        assert!(!folder.exists());
    }
}
