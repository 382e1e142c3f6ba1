use super::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

/// A fresh stream directory in a spool directory of its own under the system's temp dir (whose
/// own directory others may write to: a spool is refused there).
fn stream_dir(name: &str) -> PathBuf {
    let spool = std::env::temp_dir().join(format!("spool-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&spool);
    spool.join("traces")
}

/// The destination the tests' processes send to.
pub fn here() -> Recipient {
    recipient_for("openclaw")
}

fn recipient_for(experiment: &str) -> Recipient {
    Recipient {
        experiment: crate::config::ExperimentRef::Name(experiment.into()),
        workspace: None,
        address: "http://127.0.0.1:5000".into(),
    }
}

fn payload(i: usize) -> Vec<u8> {
    format!("record {i:04} {}", "x".repeat(i % 50)).into_bytes()
}

fn read_all(spool: &mut Spool) -> Vec<(Position, Vec<u8>)> {
    spool.read(usize::MAX).0
}

/// Simulates a process that dies: nothing of `Drop` runs, and its lock goes.
fn crash(mut spool: Spool) {
    spool.writer = None;
    spool.reader = None;
    drop(spool.owned.take());
    std::mem::forget(spool);
}

fn segment_files(stream: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for owner in std::fs::read_dir(stream).unwrap().filter_map(Result::ok) {
        for f in std::fs::read_dir(owner.path()).unwrap().filter_map(Result::ok) {
            if f.path().extension().is_some_and(|e| e == "seg") {
                files.push(f.path());
            }
        }
    }
    files.sort();
    files
}

#[test]
fn records_come_back_in_order_and_acknowledged_ones_are_released() {
    let dir = stream_dir("order");
    let (mut spool, recovered) = Spool::open(&dir, 1 << 30, &here()).unwrap();
    assert_eq!(recovered, Recovered::default());
    let written: Vec<Vec<u8>> = (0..10).map(payload).collect();
    let positions = spool.append(&written).0;
    assert_eq!((spool.unacked(), spool.unread()), (10, 10));
    let read = read_all(&mut spool);
    assert_eq!(read.iter().map(|(_, p)| p.clone()).collect::<Vec<_>>(), written);
    assert_eq!(read.iter().map(|(at, _)| *at).collect::<Vec<_>>(), positions);
    spool.ack(positions[3]);
    assert_eq!((spool.unacked(), spool.unread()), (6, 0));
    spool.ack(positions[9]);
    assert_eq!(spool.unacked(), 0);
    drop(spool);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "a spool with nothing left leaves nothing behind");
}

#[test]
fn a_crashed_process_records_are_taken_over_from_where_its_acknowledgement_got_to() {
    let dir = stream_dir("crash");
    let (mut first, _) = Spool::open(&dir, 1 << 30, &here()).unwrap();
    let positions = first.append(&(0..20).map(payload).collect::<Vec<_>>()).0;
    first.ack(positions[4]);
    crash(first);
    let (mut second, recovered) = Spool::open(&dir, 1 << 30, &here()).unwrap();
    assert_eq!((recovered.records, recovered.damaged), (15, 0));
    let read = read_all(&mut second);
    assert_eq!(read.iter().map(|(_, p)| p.clone()).collect::<Vec<_>>(), (5..20).map(payload).collect::<Vec<_>>());
    // New records go after the old ones.
    second.append(&[b"new".to_vec()]);
    let (more, _) = second.read(10);
    assert_eq!(more.iter().map(|(_, p)| p.clone()).collect::<Vec<_>>(), vec![b"new".to_vec()]);
}

#[test]
fn a_torn_last_record_and_a_flipped_byte_lose_only_those_records() {
    let dir = stream_dir("damage");
    let (mut first, _) = Spool::open(&dir, 1 << 30, &here()).unwrap();
    first.append(&(0..10).map(payload).collect::<Vec<_>>());
    crash(first);
    let file = segment_files(&dir).pop().unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.truncate(bytes.len() - 7); // the last record torn
    let third = segment::HEADER_LEN + 2 * segment::FRAME_LEN + payload(0).len() + payload(1).len();
    bytes[third + segment::FRAME_LEN + 3] ^= 0x01; // a byte of the third record's payload
    std::fs::write(&file, &bytes).unwrap();
    let (mut second, recovered) = Spool::open(&dir, 1 << 30, &here()).unwrap();
    assert_eq!((recovered.records, recovered.damaged), (8, 1));
    let read: Vec<Vec<u8>> = read_all(&mut second).into_iter().map(|(_, p)| p).collect();
    let expected: Vec<Vec<u8>> = [0, 1, 3, 4, 5, 6, 7, 8].into_iter().map(payload).collect();
    assert_eq!(read, expected);
}

#[test]
fn a_segment_of_a_newer_version_is_left_alone_and_the_rest_is_read() {
    let dir = stream_dir("newer");
    let (mut first, _) = Spool::open(&dir, 1 << 30, &here()).unwrap();
    first.append(&[payload(1)]);
    let owner_dir = first.dir().to_path_buf();
    crash(first);
    let mut newer = segment::header().to_vec();
    newer[8..12].copy_from_slice(&(segment::VERSION + 1).to_le_bytes());
    segment::frame(b"from the future", &mut newer);
    let future = owner_dir.join("99999999999999999999-1.seg");
    std::fs::write(&future, &newer).unwrap();
    let (mut second, recovered) = Spool::open(&dir, 1 << 30, &here()).unwrap();
    assert_eq!(recovered.records, 1);
    assert_eq!(recovered.unreadable, vec![future.clone()]);
    assert_eq!(read_all(&mut second).len(), 1);
    assert_eq!(std::fs::read(&future).unwrap(), newer, "not ours to change or delete");
}

#[test]
fn a_full_spool_drops_its_oldest_unread_records_and_says_how_many() {
    let dir = stream_dir("full");
    let max = 256 << 10; // segments of 64 KiB
    let (mut spool, _) = Spool::open(&dir, max, &here()).unwrap();
    let record = vec![7u8; 1000];
    let mut dropped = 0;
    for _ in 0..1000 {
        spool.append(std::slice::from_ref(&record));
        dropped += spool.trim().1;
    }
    assert!(spool.bytes() <= max, "{} bytes kept", spool.bytes());
    let kept = spool.unread();
    assert_eq!(kept + dropped, 1000);
    assert!(kept > 150 && dropped > 600, "kept {kept}, dropped {dropped}");
    assert_eq!(read_all(&mut spool).len() as u64, kept);
    // One large append is split into segments too, so that the limit holds for it as well.
    let (mut spool, _) = Spool::open(&stream_dir("full-at-once"), max, &here()).unwrap();
    let (written, error) = spool.append(&vec![record; 1000]);
    assert!(error.is_none() && written.len() == 1000);
    let dropped = spool.trim().1;
    assert!(spool.bytes() <= max && dropped > 600, "{} bytes kept, {dropped} dropped", spool.bytes());
}

#[test]
fn two_processes_on_one_directory_never_read_the_same_records() {
    let dir = stream_dir("two");
    let (mut a, _) = Spool::open(&dir, 1 << 30, &here()).unwrap();
    let (mut b, recovered) = Spool::open(&dir, 1 << 30, &here()).unwrap();
    a.append(&[b"a's".to_vec()]);
    assert_eq!(recovered.records, 0);
    // A third process starting while both live takes over nothing.
    let (mut c, recovered) = Spool::open(&dir, 1 << 30, &here()).unwrap();
    assert_eq!(recovered.records, 0);
    assert!(read_all(&mut b).is_empty() && read_all(&mut c).is_empty());
    assert_eq!(read_all(&mut a).len(), 1);
}

#[test]
fn a_directory_that_cannot_be_created_is_an_error_not_a_panic() {
    let blocker = std::env::temp_dir().join(format!("spool-test-{}-file", std::process::id()));
    std::fs::write(&blocker, b"a file where the directory should be").unwrap();
    assert!(Spool::open(&blocker.join("traces"), 1 << 30, &here()).is_err());
}

#[test]
fn damage_to_this_processs_own_records_is_skipped_and_reported_as_lost() {
    let dir = stream_dir("own-damage");
    let (mut spool, _) = Spool::open(&dir, 1 << 30, &here()).unwrap();
    spool.append(&(0..5).map(payload).collect::<Vec<_>>());
    let file = segment_files(&dir).pop().unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    let third = segment::HEADER_LEN + 2 * segment::FRAME_LEN + payload(0).len() + payload(1).len();
    bytes[third + segment::FRAME_LEN] ^= 0x01;
    std::fs::write(&file, &bytes).unwrap();
    let (read, lost) = spool.read(usize::MAX);
    let expected: Vec<Vec<u8>> = [0, 1, 3, 4].into_iter().map(payload).collect();
    assert_eq!(read.into_iter().map(|(_, p)| p).collect::<Vec<_>>(), expected);
    assert_eq!((lost, spool.unread()), (1, 0));
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().mode() & 0o777
}

#[test]
fn only_this_user_may_read_the_spool_whatever_the_umask() {
    let dir = stream_dir("modes");
    let (mut spool, _) = Spool::open(&dir, 1 << 30, &here()).unwrap();
    let positions = spool.append(&[payload(1), payload(2)]).0;
    read_all(&mut spool);
    spool.ack(positions[0]);
    let own = spool.dir().to_path_buf();
    for d in [dir.parent().unwrap(), &dir, &own] {
        assert_eq!(mode(d), 0o700, "{}", d.display());
    }
    let files: Vec<PathBuf> = std::fs::read_dir(&own).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 4, "lock, destination, segment, acknowledgement: {files:?}");
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
}

#[test]
fn a_spool_directory_that_is_a_link_or_others_may_write_to_is_refused() {
    let dir = stream_dir("linked");
    let real = dir.parent().unwrap().with_extension("real");
    std::fs::create_dir_all(&real).unwrap();
    std::fs::create_dir_all(dir.parent().unwrap().parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&real, dir.parent().unwrap()).unwrap();
    let err = Spool::open(&dir, 1 << 30, &here()).err().expect("refused");
    assert!(err.to_string().contains("is a symbolic link"), "{err}");

    let dir = stream_dir("writable");
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    std::fs::set_permissions(dir.parent().unwrap(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = Spool::open(&dir, 1 << 30, &here()).err().expect("refused");
    assert!(err.to_string().contains("other users may write to it"), "{err}");
}

#[test]
fn a_spool_directory_of_another_user_is_refused() {
    // Root can give a directory away; another user finds one that is root's.
    let foreign = if rustix::process::geteuid().is_root() {
        let dir = stream_dir("foreign");
        std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
        std::os::unix::fs::chown(dir.parent().unwrap(), Some(65534), Some(65534)).unwrap();
        dir
    } else {
        PathBuf::from("/traces")
    };
    let err = Spool::open(&foreign, 1 << 30, &here()).err().expect("refused");
    assert!(err.to_string().contains("not to this process's user"), "{err}");
}

#[test]
fn a_linked_orphan_is_not_taken_over() {
    let dir = stream_dir("linked-orphan");
    let (mut first, _) = Spool::open(&dir, 1 << 30, &here()).unwrap();
    first.append(&[payload(1)]);
    let planted = dir.parent().unwrap().join("planted");
    std::fs::rename(first.dir(), &planted).unwrap();
    crash(first);
    std::os::unix::fs::symlink(&planted, dir.join("p1-1")).unwrap();
    let (second, recovered) = Spool::open(&dir, 1 << 30, &here()).unwrap();
    assert_eq!(recovered.records, 0, "nothing taken through the link");
    let own: Vec<PathBuf> = std::fs::read_dir(second.dir()).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(own.iter().all(|p| p.extension().is_none_or(|x| x != "seg")), "{own:?}");
    assert!(std::fs::read_dir(&planted).unwrap().any(|e| e.unwrap().path().extension().is_some_and(|x| x == "seg")));
}

/// The process's resident memory (`/proc/self/statm`), in bytes.
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    statm.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 4096
}

#[test]
fn a_sparse_segment_is_left_unread_without_allocating_its_length() {
    let dir = stream_dir("sparse");
    let (mut first, _) = Spool::open(&dir, 1 << 30, &here()).unwrap();
    first.append(&[payload(1)]);
    crash(first);
    let segment = segment_files(&dir).pop().unwrap();
    std::fs::OpenOptions::new().write(true).open(&segment).unwrap().set_len(200 << 20).unwrap();
    let before = resident_bytes();
    let (_second, recovered) = Spool::open(&dir, 1 << 30, &here()).unwrap();
    let grown = resident_bytes().saturating_sub(before);
    assert!(grown < 64 << 20, "opening took {grown} bytes");
    assert_eq!(recovered.records, 0);
    assert_eq!(recovered.unreadable.len(), 1, "{recovered:?}");
}

#[test]
fn records_for_another_experiment_stay_until_moved_and_unlabelled_ones_are_taken_over() {
    let dir = stream_dir("recipients");
    let elsewhere = recipient_for("old");
    let (mut old, _) = Spool::open(&dir, 1 << 30, &elsewhere).unwrap();
    old.append(&(0..3).map(payload).collect::<Vec<_>>());
    let old_dir = old.dir().to_path_buf();
    crash(old);

    // A process for another experiment leaves them, says so, and delivers none of them.
    let (mut here_spool, recovered) = Spool::open(&dir, 1 << 30, &here()).unwrap();
    assert_eq!(recovered.records, 0);
    assert_eq!(recovered.elsewhere, vec![(Label::For(elsewhere.clone()), 3)]);
    assert!(read_all(&mut here_spool).is_empty());
    drop(here_spool);
    assert_eq!(inventory(dir.parent().unwrap()).unwrap().iter().map(|s| s.records).sum::<u64>(), 3);

    // A corrected address is the same experiment: delivered.
    let moved_address = Recipient { address: "https://mlflow.example.com".into(), ..elsewhere.clone() };
    assert!(Label::For(elsewhere.clone()).is_for(&moved_address));

    // Moved by the operator: the next process for this experiment takes them over.
    relabel(&old_dir, &here()).unwrap();
    let (mut taken, recovered) = Spool::open(&dir, 1 << 30, &here()).unwrap();
    assert_eq!((recovered.records, recovered.elsewhere.len()), (3, 0));
    assert_eq!(read_all(&mut taken).len(), 3);
    drop(taken);

    // A directory of an earlier version (no label) is taken over by anyone, as before.
    let (mut legacy, _) = Spool::open(&dir, 1 << 30, &elsewhere).unwrap();
    legacy.append(&[payload(7)]);
    std::fs::remove_file(legacy.dir().join(recipient::FILE)).unwrap();
    crash(legacy);
    let (_, recovered) = Spool::open(&dir, 1 << 30, &here()).unwrap();
    assert_eq!((recovered.records, recovered.elsewhere.len()), (1 + 3, 0), "the legacy record and the moved ones");
}

#[test]
fn discarding_deletes_a_gone_processs_records_and_refuses_a_running_ones() {
    let dir = stream_dir("discard");
    let (mut gone, _) = Spool::open(&dir, 1 << 30, &recipient_for("old")).unwrap();
    gone.append(&(0..4).map(payload).collect::<Vec<_>>());
    let gone_dir = gone.dir().to_path_buf();
    crash(gone);
    let (mut running, _) = Spool::open(&dir, 1 << 30, &recipient_for("other")).unwrap();
    running.append(&[payload(1)]);
    let stored = inventory(dir.parent().unwrap()).unwrap();
    let state: Vec<(bool, u64)> = stored.iter().map(|s| (s.running, s.records)).collect();
    assert!(state.contains(&(false, 4)) && state.contains(&(true, 1)), "{stored:?}");

    assert!(discard(running.dir()).is_err(), "a running process's records are its own");
    assert!(relabel(running.dir(), &here()).is_err());
    assert_eq!(discard(&gone_dir).unwrap(), 4);
    assert!(!gone_dir.exists(), "nothing of it is left");
}
