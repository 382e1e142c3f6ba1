//! A bounded queue of items waiting for one destination, generic over the item (finished traces,
//! metric points). Items taken for a request stay counted as in flight until the request settles
//! them; what it did not settle goes back to the front, in order. When the destination is away
//! longer than the queue holds, the oldest items are dropped: recent ones are what an operator
//! looks for. No locking here: `Mailbox` owns the lock and the waiting.

use std::collections::VecDeque;

pub struct Outbox<T> {
    queue: VecDeque<T>,
    /// Taken for a request and not yet settled.
    in_flight: usize,
    capacity: usize,
}

impl<T> Outbox<T> {
    pub fn new(capacity: usize) -> Outbox<T> {
        Outbox { queue: VecDeque::new(), in_flight: 0, capacity }
    }

    /// Adds items at the back; returns how many of the oldest were dropped to make room.
    pub fn push(&mut self, items: impl IntoIterator<Item = T>) -> u64 {
        self.queue.extend(items);
        self.trim()
    }

    /// Takes up to `max` items from the front; they are in flight until `settle`.
    pub fn take(&mut self, max: usize) -> Vec<T> {
        let n = self.queue.len().min(max);
        self.in_flight += n;
        self.queue.drain(..n).collect()
    }

    /// Ends a request for `items` (as taken): the first `settled` are done with (delivered, or
    /// refused for good), the rest go back to the front in order. Returns how many of the oldest
    /// were dropped because newer items filled the queue meanwhile.
    pub fn settle(&mut self, mut items: Vec<T>, settled: usize) -> u64 {
        self.in_flight = self.in_flight.saturating_sub(items.len());
        let unsettled = items.split_off(settled.min(items.len()));
        for item in unsettled.into_iter().rev() {
            self.queue.push_front(item);
        }
        self.trim()
    }

    fn trim(&mut self) -> u64 {
        let excess = self.queue.len().saturating_sub(self.capacity);
        self.queue.drain(..excess);
        excess as u64
    }

    /// Waiting to be taken.
    pub fn waiting(&self) -> usize {
        self.queue.len()
    }

    /// Not yet delivered: waiting or in flight.
    pub fn pending(&self) -> usize {
        self.queue.len() + self.in_flight
    }

    /// Gives up on everything waiting; returns how many items that was.
    pub fn clear(&mut self) -> usize {
        let n = self.queue.len();
        self.queue.clear();
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsettled_items_go_back_in_order_ahead_of_newer_ones() {
        let mut o = Outbox::new(10);
        o.push([1, 2, 3, 4]);
        let taken = o.take(3);
        assert_eq!(taken, vec![1, 2, 3]);
        assert_eq!((o.waiting(), o.pending()), (1, 4));
        o.push([5]);
        assert_eq!(o.settle(taken, 1), 0);
        assert_eq!(o.take(10), vec![2, 3, 4, 5]);
    }

    #[test]
    fn a_full_queue_drops_its_oldest_items_and_says_how_many() {
        let mut o = Outbox::new(3);
        assert_eq!(o.push([1, 2, 3, 4, 5]), 2);
        let taken = o.take(2);
        o.push([6, 7]);
        // 5, 6, 7 wait; 3 and 4 come back in front of them, and as the oldest they go.
        assert_eq!(o.settle(taken, 0), 2);
        assert_eq!(o.take(10), vec![5, 6, 7]);
        assert_eq!(o.pending(), 3);
    }

    #[test]
    fn settling_everything_leaves_nothing_pending() {
        let mut o = Outbox::new(5);
        o.push(["a", "b"]);
        let taken = o.take(5);
        assert_eq!(o.settle(taken, 2), 0);
        assert_eq!(o.pending(), 0);
    }
}
