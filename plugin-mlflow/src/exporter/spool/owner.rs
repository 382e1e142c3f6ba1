//! Which process owns which part of a spool. Each process writes into a directory of its own,
//! holding an exclusive lock on the `lock` file inside for as long as it runs (the kernel drops the
//! lock when the process dies, however it dies). A directory whose lock can be taken belongs to a
//! process that is gone: its segments are taken over. Two processes on one `spoolDir` therefore
//! never read the same segment. Each directory also says whom its records are for (`recipient`).

use super::private;
use super::recipient::{self, Label, Recipient};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

const LOCK_FILE: &str = "lock";

/// A directory this process holds the lock of.
pub struct Owned {
    pub dir: PathBuf,
    lock: File,
}

impl Owned {
    /// Gives the directory up: removes the lock file, and the label and the directory if nothing
    /// else is in it (a segment this version could not read stays, with its directory and label).
    pub fn release_if_empty(self) {
        let _ = std::fs::remove_file(self.dir.join(LOCK_FILE));
        drop(self.lock);
        let others = std::fs::read_dir(&self.dir)
            .map(|entries| entries.filter_map(Result::ok).filter(|e| e.file_name() != recipient::FILE).count());
        if others.is_ok_and(|n| n == 0) {
            let _ = std::fs::remove_file(self.dir.join(recipient::FILE));
            let _ = std::fs::remove_dir(&self.dir);
        }
    }

    /// Whom the directory's records are for.
    pub fn label(&self) -> Label {
        recipient::read(&self.dir)
    }
}

fn lock(dir: &Path) -> io::Result<Option<File>> {
    let file = private::write_options().create(true).truncate(false).open(dir.join(LOCK_FILE))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Creates and locks this process's directory in `stream_dir` (named by pid and start time, so
/// that a restarted process with a reused pid still gets a new one), labelled for `recipient`. The
/// spool's directory and the stream's must be this user's alone (`private::check_dir`).
pub fn claim(stream_dir: &Path, recipient: &Recipient) -> io::Result<Owned> {
    if let Some(spool_dir) = stream_dir.parent() {
        private::ensure_dir(spool_dir)?;
    }
    private::ensure_dir(stream_dir)?;
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let dir = stream_dir.join(format!("p{}-{nanos}", std::process::id()));
    private::create_dir(&dir)?;
    let lock = lock(&dir)?.ok_or_else(|| io::Error::other("the new spool directory is locked by another process"))?;
    recipient::write(&dir, recipient)?;
    Ok(Owned { dir, lock })
}

/// Locks `dir`, another process's directory, if that process is gone (`None`: it runs).
pub fn lock_if_gone(dir: &Path) -> io::Result<Option<Owned>> {
    Ok(lock(dir)?.map(|lock| Owned { dir: dir.to_path_buf(), lock }))
}

/// The other directories in `stream_dir` whose owner is gone, locked by us now: only this user's
/// own directories (not symbolic links, not another user's).
pub fn orphans(stream_dir: &Path, own: &Path) -> Vec<Owned> {
    let Ok(entries) = std::fs::read_dir(stream_dir) else { return Vec::new() };
    let mut found: Vec<Owned> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p != own && private::is_ours(p, true))
        .filter_map(|dir| lock(&dir).ok().flatten().map(|lock| Owned { dir, lock }))
        .collect();
    found.sort_by(|a, b| a.dir.cmp(&b.dir));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_owners_directory_is_not_an_orphan_and_a_released_one_is() {
        let root = std::env::temp_dir().join(format!("spool-owner-{}", std::process::id())).join("traces");
        let _ = std::fs::remove_dir_all(root.parent().unwrap());
        let here = Recipient {
            experiment: crate::config::ExperimentRef::Name("openclaw".into()),
            workspace: None,
            address: "http://127.0.0.1:5000".into(),
        };
        let first = claim(&root, &here).unwrap();
        let second = claim(&root, &here).unwrap();
        // flock locks belong to the open file: within one process a second open file conflicts too.
        assert!(orphans(&root, &second.dir).is_empty(), "a held lock is respected");
        let first_dir = first.dir.clone();
        drop(first); // as when its process dies: the lock goes, the directory stays
        let taken = orphans(&root, &second.dir);
        assert_eq!(taken.iter().map(|o| o.dir.clone()).collect::<Vec<_>>(), vec![first_dir.clone()]);
        taken.into_iter().for_each(Owned::release_if_empty);
        assert!(!first_dir.exists());
        let _ = std::fs::remove_dir_all(root.parent().unwrap());
    }
}
