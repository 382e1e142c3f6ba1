//! Files that hold conversations or what was sent of them (`--events-out`, the backfill's progress
//! record): readable by this user only (0600), whatever the umask, an existing file included.

use std::fs::{OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

pub fn write(path: &Path, bytes: impl AsRef<[u8]>) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.set_permissions(Permissions::from_mode(0o600))?;
    file.write_all(bytes.as_ref())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn new_and_existing_files_end_up_0600() {
        let dir = std::env::temp_dir().join(format!("oc-host-private-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (new, existing) = (dir.join("new.jsonl"), dir.join("existing.jsonl"));
        let _ = std::fs::remove_file(&new);
        std::fs::write(&existing, "old").unwrap();
        std::fs::set_permissions(&existing, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
        for path in [&new, &existing] {
            super::write(path, "{}\n").unwrap();
            assert_eq!(std::fs::metadata(path).unwrap().mode() & 0o777, 0o600, "{}", path.display());
            assert_eq!(std::fs::read_to_string(path).unwrap(), "{}\n");
        }
    }
}
