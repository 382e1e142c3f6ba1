//! The queue between the hooks and the assembler thread, bounded twice: in events
//! (`queueCapacity`) and in the bytes they hold (`maxQueueBytes`: each event's own size plus its
//! content), so that neither a burst of huge prompts nor a large `queueCapacity` can take the host's
//! memory. Nothing is allocated up front (the channel grows in small blocks as events come), so a
//! large capacity costs nothing until it is used. The producer's half counts in, the consumer's half
//! counts out; nothing else touches the counts.

use crossbeam_channel::{Receiver, Sender, TryRecvError};
use openclaw_plugin_api::OwnedEvent;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

pub fn event_queue(capacity: usize, max_bytes: usize) -> (EventQueue, QueuedEvents) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let held = Arc::new(Held::default());
    (EventQueue { tx, held: held.clone(), capacity, max_bytes }, QueuedEvents { rx, held })
}

/// What the queue holds, counted by both halves.
#[derive(Default)]
struct Held {
    events: AtomicUsize,
    bytes: AtomicUsize,
}

/// The memory an event takes in the queue.
fn footprint(event: &OwnedEvent) -> usize {
    std::mem::size_of::<OwnedEvent>() + event.text_bytes()
}

/// The hooks' half.
pub struct EventQueue {
    tx: Sender<OwnedEvent>,
    held: Arc<Held>,
    capacity: usize,
    max_bytes: usize,
}

impl EventQueue {
    /// Queues `event` unless either bound is reached; never blocks. False: not queued.
    #[inline]
    pub fn offer(&self, event: OwnedEvent) -> bool {
        let size = footprint(&event);
        if self.held.events.fetch_add(1, Relaxed) >= self.capacity {
            self.held.events.fetch_sub(1, Relaxed);
            return false;
        }
        if self.held.bytes.fetch_add(size, Relaxed) + size > self.max_bytes {
            self.held.bytes.fetch_sub(size, Relaxed);
            self.held.events.fetch_sub(1, Relaxed);
            return false;
        }
        match self.tx.send(event) {
            Ok(()) => true,
            Err(_) => {
                self.held.bytes.fetch_sub(size, Relaxed);
                self.held.events.fetch_sub(1, Relaxed);
                false
            }
        }
    }
}

/// The assembler's half.
pub struct QueuedEvents {
    rx: Receiver<OwnedEvent>,
    held: Arc<Held>,
}

impl QueuedEvents {
    /// The next event without waiting; `Disconnected` once the hooks' half is gone and all is taken.
    pub fn try_take(&self) -> Result<OwnedEvent, TryRecvError> {
        let event = self.rx.try_recv()?;
        self.held.bytes.fetch_sub(footprint(&event), Relaxed);
        self.held.events.fetch_sub(1, Relaxed);
        Ok(event)
    }

    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openclaw_plugin_api::{Hook, OwnedContext};

    fn prompt(text: &str) -> OwnedEvent {
        OwnedEvent {
            ctx: OwnedContext::default(),
            hook: Hook::MessageStart { prompt: Some(text.into()), trigger: String::new() },
        }
    }

    const EVENT: usize = std::mem::size_of::<OwnedEvent>();

    #[test]
    fn the_byte_budget_refuses_what_does_not_fit_and_frees_what_is_taken() {
        let (queue, events) = event_queue(10, 2 * EVENT + 10);
        assert!(queue.offer(prompt("123456")));
        assert!(!queue.offer(prompt("123456")), "12 content bytes would exceed the budget");
        assert!(queue.offer(prompt("1234")));
        assert!(events.try_take().is_ok());
        assert!(queue.offer(prompt("12345")), "taking the first event freed its bytes");
    }

    #[test]
    fn events_without_content_are_bounded_by_bytes_too() {
        let (queue, _events) = event_queue(10_000_000, 100 * EVENT);
        let accepted = (0..1000).filter(|_| queue.offer(prompt(""))).count();
        assert_eq!(accepted, 100);
    }

    /// The process's resident memory (`/proc/self/statm`), in bytes.
    fn resident_bytes() -> usize {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        statm.split_whitespace().nth(1).unwrap().parse::<usize>().unwrap() * 4096
    }

    #[test]
    fn the_largest_queue_capacity_allocates_nothing_up_front() {
        let before = resident_bytes();
        let (queue, _events) = event_queue(10_000_000, 64 << 20);
        let grown = resident_bytes().saturating_sub(before);
        assert!(grown < 16 << 20, "creating the queue took {grown} bytes");
        drop(queue);
    }

    #[test]
    fn the_event_bound_refuses_without_keeping_the_bytes() {
        let (queue, events) = event_queue(1, EVENT + 100);
        assert!(queue.offer(prompt("a")));
        assert!(!queue.offer(prompt("b")));
        events.try_take().unwrap();
        assert!(queue.offer(prompt("0123456789".repeat(9).as_str())), "the refused event's byte was given back");
        assert!(events.try_take().is_ok());
        assert!(matches!(events.try_take(), Err(TryRecvError::Empty)));
        drop(queue);
        assert!(matches!(events.try_take(), Err(TryRecvError::Disconnected)));
    }
}
