//! A queue of items waiting for one destination, generic over the item (encoded traces, metric
//! points). Items taken for a request stay here, in flight, until the request settles them; what it
//! did not settle goes back to the front, in order (so a panic between taking and settling loses
//! nothing: `give_back`). No locking here: the destination's delivery thread owns its outboxes
//! (`Mailbox`).
//!
//! Two ways to hold what waits:
//! - in memory only (`spool: false`, or no usable directory): at most `capacity` items; when the
//!   destination is away longer than that, the oldest are dropped (recent ones are what an
//!   operator looks for);
//! - with the `spool`: every item is appended to disk as it arrives, and memory holds only a small
//!   window from the front of the queue (kept as appended while the destination keeps up, read back
//!   from disk after an outage or a restart). Settling acknowledges items in the spool. The spool's
//!   size limit drops the oldest records instead. Items the disk refuses (full, failing) wait in
//!   memory as above, so nothing accepted is lost to a disk error while memory holds.

use super::spool::{Position, Spool};
use super::wire::Record;
use std::collections::VecDeque;

/// An item in memory and, when it is in the spool, where.
struct Entry<T> {
    /// `None`: a spooled record this version cannot decode; acknowledged when it reaches the front.
    item: Option<T>,
    at: Option<Position>,
}

/// What `clear` gave up on.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Cleared {
    /// Items that were only in memory: lost.
    pub lost: usize,
    /// Records left in the spool for the next start.
    pub spooled: u64,
}

pub struct Outbox<T> {
    window: VecDeque<Entry<T>>,
    /// The items taken for requests in flight, in order, and where each is in the spool.
    in_flight: VecDeque<(T, Option<Position>)>,
    /// Memory only: the most items held. With the spool: the most items the disk refused.
    capacity: usize,
    spool: Option<Spool>,
    /// With the spool: how many items memory holds from the front of the queue.
    window_capacity: usize,
    /// With the spool: items the disk refused, sent after the spooled ones.
    refused_by_disk: VecDeque<T>,
    /// Since last asked (`take_notes`): spooled records lost to damage or an unreadable file, and
    /// the last append error.
    unreadable: u64,
    write_error: Option<std::io::Error>,
}

impl<T: Record> Outbox<T> {
    pub fn new(capacity: usize) -> Outbox<T> {
        Outbox {
            window: VecDeque::new(),
            in_flight: VecDeque::new(),
            capacity,
            spool: None,
            window_capacity: 0,
            refused_by_disk: VecDeque::new(),
            unreadable: 0,
            write_error: None,
        }
    }

    /// Keeps what waits in `spool` from now on, memory holding at most `window` items. What
    /// waited in memory is appended after what the spool already holds (an earlier process's).
    pub fn attach_spool(&mut self, spool: Spool, window: usize) -> u64 {
        let waiting: Vec<T> = self.window.drain(..).filter_map(|e| e.item).collect();
        self.spool = Some(spool);
        self.window_capacity = window.max(1);
        self.push(waiting)
    }

    /// Whether what waits is on disk (the spool is open).
    pub fn is_spooled(&self) -> bool {
        self.spool.is_some()
    }

    #[cfg(test)]
    pub fn spool(&self) -> Option<&Spool> {
        self.spool.as_ref()
    }

    /// Adds items at the back; returns how many of the oldest were dropped to make room.
    pub fn push(&mut self, items: impl IntoIterator<Item = T>) -> u64 {
        let items: Vec<T> = items.into_iter().collect();
        let Some(spool) = &mut self.spool else {
            self.window.extend(items.into_iter().map(|item| Entry { item: Some(item), at: None }));
            return trim(&mut self.window, self.capacity);
        };
        if items.is_empty() {
            return 0;
        }
        let payloads: Vec<Vec<u8>> = items.iter().map(Record::to_bytes).collect();
        let nothing_unread = spool.unread() == 0;
        let (positions, error) = spool.append(&payloads);
        let mut items = items.into_iter();
        // While the destination keeps up, what was just written is also kept in memory, and never
        // read back; once something waits on disk, order says read it from there.
        let mut room = if nothing_unread && self.refused_by_disk.is_empty() {
            self.window_capacity.saturating_sub(self.window.len() + self.in_flight.len())
        } else {
            0
        };
        for at in positions {
            let item = items.next();
            if room > 0 {
                spool.mark_read(at);
                self.window.push_back(Entry { item, at: Some(at) });
                room -= 1;
            }
        }
        let mut dropped = 0;
        if let Some(e) = error {
            self.write_error = Some(e);
            self.refused_by_disk.extend(items);
            dropped += trim(&mut self.refused_by_disk, self.capacity);
        }
        dropped + self.trim_spool()
    }

    /// Applies the spool's size limit: its oldest records go, those held in memory with them.
    fn trim_spool(&mut self) -> u64 {
        let Some(spool) = &mut self.spool else { return 0 };
        let (segments, unread) = spool.trim();
        if segments == 0 {
            return 0;
        }
        let before = self.window.len();
        self.window.retain(|e| e.at.is_none_or(|at| spool.holds(at)));
        unread + (before - self.window.len()) as u64
    }

    /// Takes up to `max` items from the front; they are in flight, after any taken before, until
    /// `acknowledge` or `settle`.
    pub fn take(&mut self, max: usize) -> Vec<T> {
        let mut taken = Vec::new();
        while taken.len() < max {
            self.refill();
            let Some(front) = self.window.pop_front() else { break };
            match front {
                Entry { item: Some(item), at } => {
                    taken.push(item.clone());
                    self.in_flight.push_back((item, at));
                }
                // Unreadable: acknowledged with what is before it, or now when nothing is.
                Entry { item: None, at } if self.in_flight.is_empty() => {
                    if let (Some(spool), Some(at)) = (&mut self.spool, at) {
                        spool.ack(at);
                    }
                }
                unreadable => {
                    self.window.push_front(unreadable);
                    break;
                }
            }
        }
        if self.window.is_empty() && self.spool.as_ref().is_none_or(|s| s.unread() == 0) {
            while taken.len() < max {
                let Some(item) = self.refused_by_disk.pop_front() else { break };
                taken.push(item.clone());
                self.in_flight.push_back((item, None));
            }
        }
        taken
    }

    /// Reads from the spool what the window has room for.
    fn refill(&mut self) {
        let Some(spool) = &mut self.spool else { return };
        let room = self.window_capacity.saturating_sub(self.window.len());
        if room == 0 || spool.unread() == 0 {
            return;
        }
        let (records, lost) = spool.read(room);
        self.unreadable += lost;
        for (at, bytes) in records {
            let item = T::from_bytes(&bytes);
            self.unreadable += u64::from(item.is_none());
            self.window.push_back(Entry { item, at: Some(at) });
        }
    }

    /// The oldest `n` items in flight are done with (delivered, or refused for good), while later
    /// ones may still be out.
    pub fn acknowledge(&mut self, n: usize) {
        let done = self.in_flight.drain(..n.min(self.in_flight.len()));
        if let (Some(spool), Some(at)) = (&mut self.spool, done.filter_map(|(_, at)| at).last()) {
            spool.ack(at);
        }
    }

    /// Ends the requests of every item in flight: the first `settled` are done with, the rest go
    /// back to the front in order. Returns how many of the oldest were dropped because newer items
    /// filled the queue meanwhile.
    pub fn settle(&mut self, settled: usize) -> u64 {
        self.acknowledge(settled);
        let back: Vec<(T, Option<Position>)> = self.in_flight.drain(..).collect();
        let mut dropped = 0;
        for (item, at) in back.into_iter().rev() {
            match (&self.spool, at) {
                (None, _) => self.window.push_front(Entry { item: Some(item), at }),
                (Some(_), None) => self.refused_by_disk.push_front(item),
                (Some(spool), Some(at)) if spool.holds(at) => {
                    self.window.push_front(Entry { item: Some(item), at: Some(at) })
                }
                // Its record was dropped while it was in flight: the spool was full.
                (Some(_), Some(_)) => dropped += 1,
            }
        }
        match self.spool {
            None => trim(&mut self.window, self.capacity),
            Some(_) => dropped,
        }
    }

    /// Waiting to be taken.
    pub fn waiting(&self) -> usize {
        self.window.len() + self.refused_by_disk.len() + self.spool.as_ref().map_or(0, |s| s.unread() as usize)
    }

    /// Not yet delivered: waiting or in flight.
    pub fn pending(&self) -> usize {
        self.waiting() + self.in_flight.len()
    }

    /// Gives up on everything waiting or in flight: memory is emptied, and the spool closed with
    /// what it still holds (delivered by the next process that opens it).
    pub fn clear(&mut self) -> Cleared {
        let dropped_coming_back = self.settle(0) as usize;
        let in_memory_only = |e: &Entry<T>| e.at.is_none();
        let lost =
            self.window.iter().filter(|e| in_memory_only(e)).count() + self.refused_by_disk.len() + dropped_coming_back;
        let spooled = self.spool.as_ref().map_or(0, Spool::unacked);
        self.window.clear();
        self.refused_by_disk.clear();
        self.spool = None;
        Cleared { lost, spooled }
    }

    /// When the spool's appended bytes must be forced to disk, if any wait.
    pub fn sync_due(&self) -> Option<std::time::Instant> {
        self.spool.as_ref().and_then(Spool::sync_due)
    }

    pub fn sync(&mut self) {
        if let Some(s) = &mut self.spool {
            s.sync();
        }
    }

    /// Spooled records found unreadable, and the last disk error, since the last call.
    pub fn take_notes(&mut self) -> (u64, Option<std::io::Error>) {
        (std::mem::take(&mut self.unreadable), self.write_error.take())
    }
}

/// Drops the oldest entries beyond `capacity`; how many.
fn trim<T>(queue: &mut VecDeque<T>, capacity: usize) -> u64 {
    let excess = queue.len().saturating_sub(capacity);
    queue.drain(..excess);
    excess as u64
}

#[cfg(test)]
mod tests;
