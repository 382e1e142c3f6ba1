//! The queue between the hooks and the assembler thread, bounded twice: in events
//! (`queueCapacity`) and in the content bytes they hold (`maxQueueBytes`), so that a burst of huge
//! prompts cannot take the host's memory. The producer's half counts bytes in, the consumer's half
//! counts them out; nothing else touches the count.

use crate::event::Event;
use crossbeam_channel::{Receiver, Sender, TryRecvError};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

pub fn event_queue(capacity: usize, max_bytes: usize) -> (EventQueue, QueuedEvents) {
    let (tx, rx) = crossbeam_channel::bounded(capacity);
    let bytes = Arc::new(AtomicUsize::new(0));
    (EventQueue { tx, bytes: bytes.clone(), max_bytes }, QueuedEvents { rx, bytes })
}

/// The hooks' half.
pub struct EventQueue {
    tx: Sender<Event>,
    /// Content bytes of the events in the queue.
    bytes: Arc<AtomicUsize>,
    max_bytes: usize,
}

impl EventQueue {
    /// Queues `event` unless either bound is reached; never blocks. False: not queued.
    #[inline]
    pub fn offer(&self, event: Event) -> bool {
        let size = event.content_bytes();
        if self.bytes.fetch_add(size, Relaxed) + size > self.max_bytes {
            self.bytes.fetch_sub(size, Relaxed);
            return false;
        }
        match self.tx.try_send(event) {
            Ok(()) => true,
            Err(_) => {
                self.bytes.fetch_sub(size, Relaxed);
                false
            }
        }
    }
}

/// The assembler's half.
pub struct QueuedEvents {
    rx: Receiver<Event>,
    bytes: Arc<AtomicUsize>,
}

impl QueuedEvents {
    /// The next event without waiting; `Disconnected` once the hooks' half is gone and all is taken.
    pub fn try_take(&self) -> Result<Event, TryRecvError> {
        let event = self.rx.try_recv()?;
        self.bytes.fetch_sub(event.content_bytes(), Relaxed);
        Ok(event)
    }

    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Ctx;

    fn prompt(text: &str) -> Event {
        Event::MessageStart { ctx: Ctx::default(), prompt: Some(text.into()), trigger: String::new() }
    }

    #[test]
    fn the_byte_budget_refuses_what_does_not_fit_and_frees_what_is_taken() {
        let (queue, events) = event_queue(10, 10);
        assert!(queue.offer(prompt("123456")));
        assert!(!queue.offer(prompt("123456")), "12 bytes would exceed the 10-byte budget");
        assert!(queue.offer(prompt("1234")));
        assert!(events.try_take().is_ok());
        assert!(queue.offer(prompt("12345")), "taking the first event freed its 6 bytes");
    }

    #[test]
    fn the_event_bound_refuses_without_keeping_the_bytes() {
        let (queue, events) = event_queue(1, 100);
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
