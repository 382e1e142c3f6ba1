//! The spool's on-disk format, as pure functions over bytes (the file handling is in `spool`).
//!
//! A segment file starts with a header: the magic `OCMLSPOL` and the format version (u32, little
//! endian), then 4 reserved bytes. Records follow, each framed as
//! `RECORD_MAGIC (u32) | payload length (u32) | CRC-32 of the payload (u32) | payload`, all little
//! endian. The per-record magic lets a reader find the next record after a damaged one: a flipped
//! byte costs that record, not the rest of the segment. A record cut short by a crash (a torn
//! tail) ends the segment.

/// The version this build writes and reads. A segment of a higher version is left alone.
pub const VERSION: u32 = 1;
pub const HEADER_LEN: usize = 16;
const FILE_MAGIC: &[u8; 8] = b"OCMLSPOL";
const RECORD_MAGIC: u32 = 0x5245_434f; // "OCER"
pub const FRAME_LEN: usize = 12;
/// Larger lengths are damage, not records (a trace is cut into parts far below this: `maxTraceBytes`
/// is at most 64 MiB).
pub const MAX_RECORD_LEN: usize = 256 << 20;

pub fn header() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(FILE_MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h
}

/// What a segment's first bytes say.
#[derive(Debug, PartialEq)]
pub enum Header {
    Readable,
    /// Written by a newer version of the plugin: not ours to read or delete.
    Newer(u32),
    /// Not a segment, or its header is damaged.
    Unknown,
}

pub fn check_header(bytes: &[u8]) -> Header {
    if bytes.len() < HEADER_LEN || &bytes[..8] != FILE_MAGIC {
        return Header::Unknown;
    }
    match u32::from_le_bytes(bytes[8..12].try_into().unwrap()) {
        VERSION => Header::Readable,
        v if v > VERSION => Header::Newer(v),
        _ => Header::Unknown,
    }
}

/// Appends one framed record to `out`.
pub fn frame(payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&RECORD_MAGIC.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// What `buf[at..]` starts with. `eof`: the buffer ends where the file's readable part ends, so a
/// record running past it is damage when another record follows (its length was hit), else a
/// torn tail.
#[derive(Debug, PartialEq)]
pub enum Parsed<'a> {
    /// A whole, intact record; the next one starts at `next`.
    Record { payload: &'a [u8], next: usize },
    /// Damaged bytes; reading goes on at `resume` (the next place a record could start).
    Damaged { resume: usize },
    /// The buffer ends inside a record (read more, or at the end of the file: a torn tail).
    Incomplete,
}

pub fn parse(buf: &[u8], at: usize, eof: bool) -> Parsed<'_> {
    let Some(frame) = buf.get(at..at + FRAME_LEN) else { return Parsed::Incomplete };
    let word = |i: usize| u32::from_le_bytes(frame[i..i + 4].try_into().unwrap());
    let (magic, len, crc) = (word(0), word(4) as usize, word(8));
    if magic != RECORD_MAGIC || len > MAX_RECORD_LEN {
        return Parsed::Damaged { resume: resync(buf, at + 1) };
    }
    let Some(payload) = buf.get(at + FRAME_LEN..at + FRAME_LEN + len) else {
        return match find_magic(buf, at + 1) {
            Some(resume) if eof => Parsed::Damaged { resume },
            _ => Parsed::Incomplete,
        };
    };
    if crc32fast::hash(payload) != crc {
        return Parsed::Damaged { resume: resync(buf, at + 1) };
    }
    Parsed::Record { payload, next: at + FRAME_LEN + len }
}

fn find_magic(buf: &[u8], from: usize) -> Option<usize> {
    let magic = RECORD_MAGIC.to_le_bytes();
    buf.get(from..).and_then(|rest| rest.windows(4).position(|w| w == magic)).map(|i| from + i)
}

/// The first offset from `from` where the record magic starts; when the buffer holds none, the
/// last offset at which one could still start once more bytes are read.
fn resync(buf: &[u8], from: usize) -> usize {
    find_magic(buf, from).unwrap_or_else(|| buf.len().saturating_sub(3).max(from))
}

/// What a whole segment holds: its readable records' ends, how many damaged stretches were
/// skipped, and where the readable part ends (a torn tail is not part of it).
#[derive(Debug, Default, PartialEq)]
pub struct Scan {
    pub record_ends: Vec<u64>,
    pub damaged: u64,
    pub valid_len: u64,
}

/// Scans a whole segment file's bytes (header included, already checked).
pub fn scan(bytes: &[u8]) -> Scan {
    let mut scan = Scan { valid_len: HEADER_LEN as u64, ..Scan::default() };
    let mut at = HEADER_LEN;
    while at < bytes.len() {
        match parse(bytes, at, true) {
            Parsed::Record { next, .. } => {
                at = next;
                scan.record_ends.push(next as u64);
                scan.valid_len = next as u64;
            }
            Parsed::Damaged { resume } => {
                scan.damaged += 1;
                at = resume;
            }
            Parsed::Incomplete => break,
        }
    }
    scan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(payloads: &[&[u8]]) -> Vec<u8> {
        let mut bytes = header().to_vec();
        for p in payloads {
            frame(p, &mut bytes);
        }
        bytes
    }

    fn payloads(bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut at = HEADER_LEN;
        while at < bytes.len() {
            match parse(bytes, at, true) {
                Parsed::Record { payload, next } => {
                    out.push(payload.to_vec());
                    at = next;
                }
                Parsed::Damaged { resume } => at = resume,
                Parsed::Incomplete => break,
            }
        }
        out
    }

    #[test]
    fn records_read_back_as_written() {
        let bytes = segment(&[b"one", b"", b"three"]);
        assert_eq!(check_header(&bytes), Header::Readable);
        assert_eq!(payloads(&bytes), vec![b"one".to_vec(), vec![], b"three".to_vec()]);
        let scan = scan(&bytes);
        assert_eq!((scan.record_ends.len(), scan.damaged, scan.valid_len), (3, 0, bytes.len() as u64));
    }

    #[test]
    fn a_torn_last_record_ends_the_segment_and_keeps_the_rest() {
        let whole = segment(&[b"first", b"second"]);
        for cut in 1..(FRAME_LEN + 6) {
            let bytes = &whole[..whole.len() - cut];
            assert_eq!(payloads(bytes), vec![b"first".to_vec()], "cut {cut}");
            assert_eq!(scan(bytes).valid_len, (HEADER_LEN + FRAME_LEN + 5) as u64);
        }
    }

    #[test]
    fn a_flipped_byte_costs_only_its_record() {
        let clean = segment(&[b"alpha", b"bravo", b"charlie"]);
        let second = HEADER_LEN + FRAME_LEN + 5;
        // Every byte of the second record, frame included, flipped in turn.
        for i in second..second + FRAME_LEN + 5 {
            let mut bytes = clean.clone();
            bytes[i] ^= 0x40;
            assert_eq!(payloads(&bytes), vec![b"alpha".to_vec(), b"charlie".to_vec()], "byte {i}");
            let scan = scan(&bytes);
            assert_eq!((scan.record_ends.len(), scan.damaged), (2, 1), "byte {i}");
        }
    }

    #[test]
    fn headers_of_newer_versions_and_other_files_are_told_apart() {
        let mut newer = header();
        newer[8..12].copy_from_slice(&(VERSION + 1).to_le_bytes());
        assert_eq!(check_header(&newer), Header::Newer(VERSION + 1));
        assert_eq!(check_header(b"{\"json\": true} and more bytes"), Header::Unknown);
        assert_eq!(check_header(b"OCML"), Header::Unknown);
    }
}
