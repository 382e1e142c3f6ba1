//! The durable spool: one destination's stream of records (finished traces, or the run's metric
//! points) kept on disk until the destination acknowledges them, so that neither a crash nor a
//! restart nor a long outage loses them and memory stays small. The files, per stream:
//!
//! ```text
//! <spoolDir>/<stream>/p<pid>-<start>/lock              held by the owning process (`owner`)
//!                                   /destination       whom the records are for (`recipient`)
//!                                   /<created>-<pid>.seg  append-only records (`segment`)
//!                                   /<created>-<pid>.ack  how far the segment is acknowledged
//! ```
//!
//! Records are read and acknowledged in the order they were written (one reader per stream: the
//! destination's delivery thread), so "acknowledged" is a position: everything before it is done
//! with. Whole segments are deleted once acknowledged, and the oldest are deleted, unsent, when the
//! spool outgrows `maxSpoolBytes`. On open, the segments of processes that are gone are taken over,
//! oldest first, from where their acknowledgement had got to: those spooled for this process's
//! experiment; those for another stay where they are (`Recovered::elsewhere`, `inventory`).
//!
//! Durability: a record is in the kernel once `append` returns (a crash of the process loses
//! nothing appended); it is forced to the disk at most `SYNC_EVERY` later (a power loss loses at
//! most that). Acknowledgements are not forced: after a power loss some delivered records may be
//! sent again, which MLflow takes as the same spans (it keys them by trace and span id).

mod owner;
mod private;
pub mod recipient;
pub mod segment;

pub use recipient::{Label, Recipient};
use segment::{Header, Parsed};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A disk a test makes slow: every write, sync and deletion under a directory registered here
/// waits first (a fault a real disk in a test cannot be made to produce on demand).
#[cfg(test)]
pub mod slow_disk {
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;
    use std::time::Duration;

    static SLOW: Mutex<Vec<(PathBuf, Duration)>> = Mutex::new(Vec::new());

    pub fn slow_down(dir: &Path, by: Duration) {
        SLOW.lock().unwrap().push((dir.to_path_buf(), by));
    }

    pub(super) fn pace(path: &Path) {
        let delay = SLOW.lock().unwrap().iter().find(|(dir, _)| path.starts_with(dir)).map(|(_, by)| *by);
        if let Some(by) = delay {
            std::thread::sleep(by);
        }
    }
}

#[cfg(not(test))]
mod slow_disk {
    #[inline(always)]
    pub(super) fn pace(_: &std::path::Path) {}
}

/// Written records are forced to the disk at most this long after they were appended.
pub const SYNC_EVERY: Duration = Duration::from_secs(1);
/// Segments are this size at most: the unit in which a full spool drops its oldest records.
const MAX_SEGMENT_BYTES: u64 = 4 << 20;
/// The largest segment this version writes: a full segment plus one record that did not fit.
const MAX_SEGMENT_FILE: u64 =
    MAX_SEGMENT_BYTES + (segment::HEADER_LEN + segment::FRAME_LEN + segment::MAX_RECORD_LEN) as u64;
/// Bytes read from a segment at a time (more when one record is larger).
const READ_CHUNK: usize = 1 << 20;

/// Where a record is: what acknowledging it means.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Position {
    segment: u64,
    /// Offset just past the record.
    end: u64,
    /// 1 for the segment's first record.
    ordinal: u64,
}

struct Segment {
    id: u64,
    /// File name without the extension.
    name: String,
    /// The readable length (a torn tail of an earlier process is not counted).
    len: u64,
    /// Readable records, as far as known (damage found while reading lowers it).
    records: u64,
    /// How many records are acknowledged (the offset is in the `.ack` file).
    acked_records: u64,
    /// Up to where records have been handed to the reader, and how many.
    read: u64,
    read_records: u64,
    ack_file: Option<File>,
}

impl Segment {
    fn unacked(&self) -> u64 {
        self.records.saturating_sub(self.acked_records)
    }
    fn unread(&self) -> u64 {
        self.records.saturating_sub(self.read_records.max(self.acked_records))
    }

    /// Nothing more will be read from it (read to the end, or unreadable): whatever was expected and
    /// not read is gone; how many records that was.
    fn stop_reading(&mut self) -> u64 {
        let missing = self.unread();
        self.records -= missing;
        self.read = self.len;
        missing
    }
}

/// What opening the spool found of earlier processes.
#[derive(Debug, Default, PartialEq)]
pub struct Recovered {
    /// Records left unacknowledged by processes that are gone, now ours to deliver.
    pub records: u64,
    /// Damaged stretches skipped (a flipped byte, a torn record in the middle of a file).
    pub damaged: u64,
    /// Segments left alone: written by a newer version, or not segments at all.
    pub unreadable: Vec<PathBuf>,
    /// Records left by processes that are gone for another experiment, left where they are: for
    /// whom, and how many.
    pub elsewhere: Vec<(Label, u64)>,
}

pub struct Spool {
    owned: Option<owner::Owned>,
    dir: PathBuf,
    segments: VecDeque<Segment>,
    /// The segment being appended to (always the last one).
    writer: Option<File>,
    reader: Option<(u64, File)>,
    next_id: u64,
    bytes: u64,
    max_bytes: u64,
    segment_bytes: u64,
    /// When appended bytes were first left unsynced.
    unsynced_since: Option<Instant>,
}

impl Spool {
    /// Claims a directory of its own in `stream_dir`, labelled for `recipient`, and takes over
    /// what processes that are gone left there for the same experiment. Errors are about the
    /// directory itself (missing and not creatable, read-only).
    pub fn open(stream_dir: &Path, max_bytes: u64, recipient: &Recipient) -> io::Result<(Spool, Recovered)> {
        let owned = owner::claim(stream_dir, recipient)?;
        let dir = owned.dir.clone();
        let mut spool = Spool {
            owned: Some(owned),
            dir,
            segments: VecDeque::new(),
            writer: None,
            reader: None,
            next_id: 0,
            bytes: 0,
            max_bytes,
            segment_bytes: (max_bytes / 8).clamp(4 << 10, MAX_SEGMENT_BYTES),
            unsynced_since: None,
        };
        let mut recovered = Recovered::default();
        for orphan in owner::orphans(stream_dir, &spool.dir) {
            let label = orphan.label();
            let waiting = waiting_in(&orphan.dir);
            // What is all delivered is cleared away whoever it was for.
            if label.is_for(recipient) || waiting == 0 {
                spool.take_over(&orphan.dir, &mut recovered);
                orphan.release_if_empty();
            } else {
                recovered.elsewhere.push((label, waiting));
            }
        }
        spool.adopt_own(&mut recovered)?;
        Ok((spool, recovered))
    }

    /// Moves an orphan's readable segments (and their acknowledgements) into our directory: only
    /// this user's own regular files (not symbolic links, not another user's).
    fn take_over(&mut self, orphan: &Path, recovered: &mut Recovered) {
        let Ok(entries) = std::fs::read_dir(orphan) else { return };
        for path in entries.filter_map(Result::ok).map(|e| e.path()) {
            if path.extension().is_none_or(|e| e != "seg") {
                continue;
            }
            let mut head = [0u8; segment::HEADER_LEN];
            let readable = private::is_ours(&path, false)
                && private::open_read(&path).and_then(|f| f.read_exact_at(&mut head, 0)).is_ok()
                && segment::check_header(&head) == Header::Readable;
            let ack = path.with_extension("ack");
            let (Some(name), true) = (path.file_name(), readable) else {
                recovered.unreadable.push(path);
                continue;
            };
            let ack_present = std::fs::symlink_metadata(&ack).is_ok();
            if ack_present && !private::is_ours(&ack, false) {
                recovered.unreadable.push(path);
                continue;
            }
            if ack_present && std::fs::rename(&ack, self.dir.join(name).with_extension("ack")).is_err() {
                recovered.unreadable.push(path);
                continue;
            }
            if std::fs::rename(&path, self.dir.join(name)).is_err() {
                recovered.unreadable.push(path);
            }
        }
    }

    /// Indexes the segments now in our directory (all taken over), oldest first.
    fn adopt_own(&mut self, recovered: &mut Recovered) -> io::Result<()> {
        std::fs::read_dir(&self.dir)?; // the directory itself must be readable
        let mut names = segment_names(&self.dir);
        names.sort();
        for name in names {
            let Some(Surveyed { scan, acked, acked_records }) = survey(&self.dir, &name) else {
                recovered.unreadable.push(self.dir.join(format!("{name}.seg")));
                continue;
            };
            recovered.damaged += scan.damaged;
            recovered.records += scan.record_ends.len() as u64 - acked_records;
            self.bytes += scan.valid_len; // a torn tail is not counted (nor read)
            let id = self.next_id;
            self.next_id += 1;
            self.segments.push_back(Segment {
                id,
                name,
                len: scan.valid_len,
                records: scan.record_ends.len() as u64,
                acked_records,
                read: acked,
                read_records: acked_records,
                ack_file: None,
            });
        }
        // Segments acknowledged to the end are deleted now rather than read for nothing.
        while self.segments.front().is_some_and(|s| s.unacked() == 0) {
            let s = self.segments.pop_front().unwrap();
            self.delete(&s);
        }
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Records not yet acknowledged.
    pub fn unacked(&self) -> u64 {
        self.segments.iter().map(Segment::unacked).sum()
    }

    /// Records not yet handed to the reader.
    pub fn unread(&self) -> u64 {
        self.segments.iter().map(Segment::unread).sum()
    }

    #[cfg(test)]
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Appends records, oldest first, a write per segment (a new segment when the current one is
    /// full). Returns the positions of the records written and, if the disk refused the rest, why
    /// (a partial write is cut off again, so that the file holds only whole records).
    pub fn append(&mut self, payloads: &[Vec<u8>]) -> (Vec<Position>, Option<io::Error>) {
        let mut positions = Vec::with_capacity(payloads.len());
        let mut rest = payloads;
        let mut error = None;
        while !rest.is_empty() {
            match self.append_to_segment(rest, &mut positions) {
                Ok(n) => rest = &rest[n..],
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        if !positions.is_empty() {
            self.unsynced_since.get_or_insert_with(Instant::now);
            if self.sync_due().is_some_and(|due| due <= Instant::now()) {
                self.sync();
            }
        }
        (positions, error)
    }

    /// Appends as many of `payloads` as the current segment has room for (at least one); how many.
    fn append_to_segment(&mut self, payloads: &[Vec<u8>], positions: &mut Vec<Position>) -> io::Result<usize> {
        if self.writer.is_none() || self.segments.back().is_none_or(|s| s.len >= self.segment_bytes) {
            self.start_segment()?;
        }
        slow_disk::pace(&self.dir);
        let (writer, seg) = (self.writer.as_mut().unwrap(), self.segments.back_mut().unwrap());
        let room = self.segment_bytes.saturating_sub(seg.len) as usize;
        let mut buf = Vec::new();
        let mut n = 0;
        for p in payloads {
            if n > 0 && buf.len() + segment::FRAME_LEN + p.len() > room {
                break;
            }
            segment::frame(p, &mut buf);
            n += 1;
            positions.push(Position {
                segment: seg.id,
                end: seg.len + buf.len() as u64,
                ordinal: seg.records + n as u64,
            });
        }
        if let Err(e) = writer.write_all(&buf) {
            let _ = writer.set_len(seg.len);
            self.writer = None; // the next append starts a new segment
            positions.truncate(positions.len() - n);
            return Err(e);
        }
        seg.len += buf.len() as u64;
        seg.records += n as u64;
        self.bytes += buf.len() as u64;
        Ok(n)
    }

    fn start_segment(&mut self) -> io::Result<()> {
        self.sync();
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let name = format!("{nanos:020}-{}", std::process::id());
        let mut file =
            private::write_options().create_new(true).append(true).open(self.dir.join(format!("{name}.seg")))?;
        file.write_all(&segment::header())?;
        // The new name itself must survive a power loss.
        File::open(&self.dir).and_then(|d| d.sync_all())?;
        self.bytes += segment::HEADER_LEN as u64;
        let start = segment::HEADER_LEN as u64;
        self.segments.push_back(Segment {
            id: self.next_id,
            name,
            len: start,
            records: 0,
            acked_records: 0,
            read: start,
            read_records: 0,
            ack_file: None,
        });
        self.next_id += 1;
        self.writer = Some(file);
        Ok(())
    }

    /// When the appended bytes must be forced to disk; `None` when nothing is waiting.
    pub fn sync_due(&self) -> Option<Instant> {
        self.unsynced_since.map(|t| t + SYNC_EVERY)
    }

    /// Forces what was appended to the disk.
    pub fn sync(&mut self) {
        if self.unsynced_since.take().is_some() {
            slow_disk::pace(&self.dir);
            if let Some(w) = &self.writer {
                let _ = w.sync_data();
            }
        }
    }

    /// The reader holds this record, just appended, in memory already: it need not be read back.
    /// Only valid while nothing before it is unread.
    pub fn mark_read(&mut self, at: Position) {
        if let Some(s) = self.segments.iter_mut().find(|s| s.id == at.segment) {
            s.read = at.end;
            s.read_records = at.ordinal;
        }
    }

    /// Reads up to `max` records after those already read, oldest first; also how many records
    /// were lost: those of a segment that cannot be read any more (deleted by hand, an I/O error),
    /// which is given up, and those found damaged in a segment this process wrote (damage in an
    /// earlier process's segments is counted when they are taken over).
    pub fn read(&mut self, max: usize) -> (Vec<(Position, Vec<u8>)>, u64) {
        let mut out = Vec::new();
        let mut lost = 0;
        let mut i = 0;
        while out.len() < max && i < self.segments.len() {
            if self.segments[i].unread() == 0 {
                i += 1;
                continue;
            }
            lost += match self.read_segment(i, max - out.len(), &mut out) {
                Ok(missing) => missing,
                Err(_) => self.segments[i].stop_reading(),
            };
        }
        (out, lost)
    }

    /// Reads from segment `i`; how many of its records turned out unreadable once it is read to the end.
    fn read_segment(&mut self, i: usize, max: usize, out: &mut Vec<(Position, Vec<u8>)>) -> io::Result<u64> {
        let id = self.segments[i].id;
        if self.reader.as_ref().is_none_or(|(r, _)| *r != id) {
            let file = private::open_read(&self.dir.join(format!("{}.seg", self.segments[i].name)))?;
            self.reader = Some((id, file));
        }
        let file = &self.reader.as_ref().unwrap().1;
        let s = &mut self.segments[i];
        let mut chunk = READ_CHUNK;
        let mut taken = 0;
        while taken < max && s.read < s.len {
            let want = ((s.len - s.read) as usize).min(chunk);
            let mut buf = vec![0u8; want];
            file.read_exact_at(&mut buf, s.read)?;
            let eof = s.read + want as u64 == s.len;
            let mut at = 0;
            let mut progressed = false;
            while taken < max {
                match segment::parse(&buf, at, eof) {
                    Parsed::Record { payload, next } => {
                        s.read_records += 1;
                        out.push((
                            Position { segment: id, end: s.read + next as u64, ordinal: s.read_records },
                            payload.to_vec(),
                        ));
                        at = next;
                        taken += 1;
                        progressed = true;
                    }
                    Parsed::Damaged { resume } => {
                        at = resume;
                        progressed = true;
                    }
                    Parsed::Incomplete if eof => {
                        at = buf.len(); // a torn tail: the segment ends here
                        break;
                    }
                    Parsed::Incomplete => break,
                }
            }
            s.read += at as u64;
            if !progressed {
                chunk = chunk.saturating_mul(2); // one record larger than the chunk
            }
        }
        // Read to the end: whatever was expected and not found was damaged.
        Ok(if s.read >= s.len { s.stop_reading() } else { 0 })
    }

    /// Everything up to and including the record at `at` is acknowledged. Segments wholly
    /// acknowledged (other than the one being appended to) are deleted.
    pub fn ack(&mut self, at: Position) {
        while let Some(front) = self.segments.front() {
            if front.id >= at.segment {
                break;
            }
            let s = self.segments.pop_front().unwrap();
            self.delete(&s);
        }
        let several = self.segments.len() > 1;
        let Some(s) = self.segments.front_mut().filter(|s| s.id == at.segment) else { return };
        s.acked_records = at.ordinal;
        // The segment being appended to stays, even when all of it is acknowledged.
        let finished = s.unacked() == 0 && several;
        if finished {
            let s = self.segments.pop_front().unwrap();
            self.delete(&s);
            return;
        }
        let path = self.dir.join(format!("{}.ack", s.name));
        if s.ack_file.is_none() {
            s.ack_file = private::write_options().create(true).truncate(false).open(path).ok();
        }
        if let Some(f) = &s.ack_file {
            let _ = f.write_all_at(&at.end.to_le_bytes(), 0);
        }
    }

    /// Whether the record at `at` is still in the spool (its segment was not dropped by `trim`).
    pub fn holds(&self, at: Position) -> bool {
        self.segments.iter().any(|s| s.id == at.segment)
    }

    fn delete(&mut self, s: &Segment) {
        slow_disk::pace(&self.dir);
        let _ = std::fs::remove_file(self.dir.join(format!("{}.seg", s.name)));
        let _ = std::fs::remove_file(self.dir.join(format!("{}.ack", s.name)));
        self.bytes = self.bytes.saturating_sub(s.len.max(segment::HEADER_LEN as u64));
        if self.reader.as_ref().is_some_and(|(id, _)| *id == s.id) {
            self.reader = None;
        }
    }

    /// Deletes the oldest segments while the spool is larger than `maxSpoolBytes`; returns how
    /// many segments that was and how many records they held that had not been read. (The reader
    /// drops what it holds of them: see `holds`.)
    pub fn trim(&mut self) -> (usize, u64) {
        let (mut segments, mut unread) = (0, 0);
        while self.bytes > self.max_bytes && self.segments.len() > 1 {
            let s = self.segments.pop_front().unwrap();
            unread += s.unread();
            segments += 1;
            self.delete(&s);
        }
        (segments, unread)
    }
}

/// Syncs what is left and gives up the directory when nothing is in it any more (the next
/// process then has nothing to take over from us).
impl Drop for Spool {
    fn drop(&mut self) {
        self.sync();
        self.writer = None;
        self.reader = None;
        if self.unacked() == 0 {
            while let Some(s) = self.segments.pop_front() {
                self.delete(&s);
            }
            if let Some(owned) = self.owned.take() {
                owned.release_if_empty();
            }
        }
    }
}

/// A segment read whole and scanned, with how far it is acknowledged.
struct Surveyed {
    scan: segment::Scan,
    /// The acknowledged offset, within the readable part.
    acked: u64,
    acked_records: u64,
}

/// The segment `<dir>/<name>.seg` and its acknowledgement, if it is a segment this version reads.
fn survey(dir: &Path, name: &str) -> Option<Surveyed> {
    let bytes = read_plausible_segment(&dir.join(format!("{name}.seg")))?;
    let scan = segment::scan(&bytes);
    let acked = read_ack(&dir.join(format!("{name}.ack"))).clamp(segment::HEADER_LEN as u64, scan.valid_len);
    let acked_records = scan.record_ends.iter().take_while(|end| **end <= acked).count() as u64;
    Some(Surveyed { scan, acked, acked_records })
}

/// The names (without `.seg`) of the segments in `dir`.
fn segment_names(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".seg").map(str::to_string))
        .collect()
}

/// How many records in `dir`'s segments are not acknowledged.
fn waiting_in(dir: &Path) -> u64 {
    segment_names(dir)
        .iter()
        .filter_map(|name| survey(dir, name))
        .map(|s| s.scan.record_ends.len() as u64 - s.acked_records)
        .sum()
}

/// One process's directory in a spool, as `inventory` finds it.
#[derive(Debug)]
pub struct Stored {
    /// The stream: `mlflow-traces`, `mlflow-metrics`, `otlp-traces`.
    pub stream: String,
    pub dir: PathBuf,
    pub label: Label,
    /// Its process still runs (and delivers it).
    pub running: bool,
    /// Records not yet acknowledged.
    pub records: u64,
}

/// Every process directory in `spool_dir` (this user's own, as `Spool::open` would see them),
/// without changing anything. A directory whose process is gone is locked for a moment to tell.
pub fn inventory(spool_dir: &Path) -> io::Result<Vec<Stored>> {
    private::check_dir(spool_dir)?;
    let mut found = Vec::new();
    let mut streams: Vec<PathBuf> = std::fs::read_dir(spool_dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| private::is_ours(p, true))
        .collect();
    streams.sort();
    for stream in streams {
        let Some(name) = stream.file_name().and_then(|n| n.to_str()).map(str::to_string) else { continue };
        let Ok(entries) = std::fs::read_dir(&stream) else { continue };
        let mut dirs: Vec<PathBuf> =
            entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| private::is_ours(p, true)).collect();
        dirs.sort();
        for dir in dirs {
            let running = owner::lock_if_gone(&dir).is_ok_and(|held| held.is_none());
            found.push(Stored {
                stream: name.clone(),
                label: recipient::read(&dir),
                records: waiting_in(&dir),
                running,
                dir,
            });
        }
    }
    Ok(found)
}

/// Labels the records of `dir` (a gone process's directory) for `recipient`: the next process
/// sending there takes them over. Refused while the directory's process runs.
pub fn relabel(dir: &Path, recipient: &Recipient) -> io::Result<()> {
    let held = owner::lock_if_gone(dir)?.ok_or_else(|| io::Error::other("its process is running"))?;
    recipient::write(&held.dir, recipient)
}

/// Deletes the records of `dir` (a gone process's directory) and the directory; how many records
/// were not yet delivered. Refused while the directory's process runs.
pub fn discard(dir: &Path) -> io::Result<u64> {
    let held = owner::lock_if_gone(dir)?.ok_or_else(|| io::Error::other("its process is running"))?;
    let records = waiting_in(dir);
    for name in segment_names(dir) {
        for extension in ["seg", "ack"] {
            let path = dir.join(format!("{name}.{extension}"));
            if private::is_ours(&path, false) {
                std::fs::remove_file(path)?;
            }
        }
    }
    held.release_if_empty();
    Ok(records)
}

/// A segment's bytes, if it is one this version could have written: a regular file of ours, no
/// larger than a segment can be, and not sparse (segments are written front to back; a sparse
/// file claims a length it does not hold, and reading it whole would allocate that length).
fn read_plausible_segment(path: &Path) -> Option<Vec<u8>> {
    let file = private::open_read(path).ok()?;
    let meta = file.metadata().ok()?;
    let holds = meta.blocks().saturating_mul(512);
    let sparse = meta.len() > 64 << 10 && holds < meta.len() / 2;
    if !meta.is_file() || meta.len() > MAX_SEGMENT_FILE || sparse {
        return None;
    }
    let mut bytes = vec![0; meta.len() as usize];
    file.read_exact_at(&mut bytes, 0).ok()?;
    Some(bytes)
}

fn read_ack(path: &Path) -> u64 {
    let mut b = [0u8; 8];
    match private::open_read(path).and_then(|f| f.read_exact_at(&mut b, 0)) {
        Ok(()) => u64::from_le_bytes(b),
        Err(_) => 0,
    }
}

#[cfg(test)]
pub(crate) mod tests;
