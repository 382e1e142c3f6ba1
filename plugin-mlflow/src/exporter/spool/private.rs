//! The spool holds people's conversations: only this process's user may read or change it.
//! Directories are made 0700 and files 0600 whatever the umask; a directory that is a symbolic
//! link, belongs to another user or that others may write to is refused (the caller then keeps
//! what waits in memory); files are opened without following symbolic links, and only this user's
//! regular files and directories are taken over from processes that are gone.

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The user this process runs as.
fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

fn refuse(dir: &Path, why: String) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, format!("{}: {why}", dir.display()))
}

/// Creates `dir` (and the parents it needs, each 0700) and checks it (`check_dir`).
pub fn ensure_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    check_dir(dir)
}

/// Creates the new directory `dir`, 0700.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().mode(0o700).create(dir)
}

/// Refuses a directory that is a symbolic link, another user's, or writable by others; one of ours
/// that others may read (made by an earlier version, under the umask) is made 0700.
pub fn check_dir(dir: &Path) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(dir)?;
    if meta.file_type().is_symlink() {
        return Err(refuse(dir, "is a symbolic link; give the real directory".into()));
    }
    if !meta.is_dir() {
        return Err(refuse(dir, "is not a directory".into()));
    }
    if meta.uid() != euid() {
        return Err(refuse(dir, format!("belongs to user {}, not to this process's user {}", meta.uid(), euid())));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(refuse(dir, format!("other users may write to it (mode {:o})", meta.mode() & 0o777)));
    }
    if meta.mode() & 0o777 != 0o700 {
        std::fs::set_permissions(dir, Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Whether `path` is this user's own directory (`dir`) or regular file, not a symbolic link.
pub fn is_ours(path: &Path, dir: bool) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| {
        let kind = if dir { m.is_dir() } else { m.is_file() };
        kind && m.uid() == euid()
    })
}

/// For writing: created 0600, never through a symbolic link.
pub fn write_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true).mode(0o600).custom_flags(libc::O_NOFOLLOW);
    options
}

/// Opens `path` for reading, never through a symbolic link.
pub fn open_read(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(path)
}
