use super::*;

/// Test items: a number, four bytes in the spool.
impl Record for u32 {
    fn to_bytes(&self) -> Vec<u8> {
        self.to_le_bytes().to_vec()
    }
    fn from_bytes(bytes: &[u8]) -> Option<u32> {
        Some(u32::from_le_bytes(bytes.try_into().ok()?))
    }
}

fn spooled(name: &str, window: usize) -> Outbox<u32> {
    let dir = std::env::temp_dir().join(format!("outbox-test-{}-{name}", std::process::id())).join("traces");
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
    let mut o = Outbox::new(100);
    o.attach_spool(Spool::open(&dir, 1 << 30, &crate::exporter::spool::tests::here()).unwrap().0, window);
    o
}

#[test]
fn unsettled_items_go_back_in_order_ahead_of_newer_ones() {
    for mut o in [Outbox::new(10), spooled("order", 3)] {
        o.push([1, 2, 3, 4]);
        let taken = o.take(3);
        assert_eq!(taken, vec![1, 2, 3]);
        assert_eq!((o.waiting(), o.pending()), (1, 4));
        o.push([5]);
        assert_eq!(o.settle(1), 0);
        assert_eq!(o.take(10), vec![2, 3, 4, 5]);
    }
}

#[test]
fn a_full_memory_queue_drops_its_oldest_items_and_says_how_many() {
    let mut o = Outbox::new(3);
    assert_eq!(o.push([1, 2, 3, 4, 5]), 2);
    assert_eq!(o.take(2), vec![3, 4]);
    o.push([6, 7]);
    // 5, 6, 7 wait; 3 and 4 come back in front of them, and as the oldest they go.
    assert_eq!(o.settle(0), 2);
    assert_eq!(o.take(10), vec![5, 6, 7]);
    assert_eq!(o.pending(), 3);
}

#[test]
fn settling_everything_leaves_nothing_pending() {
    for mut o in [Outbox::new(5), spooled("settle", 5)] {
        o.push([1, 2]);
        assert_eq!(o.take(5), vec![1, 2]);
        assert_eq!(o.settle(2), 0);
        assert_eq!(o.pending(), 0);
    }
}

#[test]
fn with_the_spool_memory_holds_a_window_and_the_rest_is_read_back_in_order() {
    let mut o = spooled("window", 4);
    o.push(0..1000);
    assert_eq!(o.window.len(), 4, "memory holds the window only");
    assert_eq!(o.pending(), 1000);
    let mut delivered = Vec::new();
    loop {
        let batch = o.take(7);
        if batch.is_empty() {
            break;
        }
        assert!(o.window.len() <= 4);
        let n = batch.len();
        delivered.extend(batch.iter().copied());
        o.settle(n);
    }
    assert_eq!(delivered, (0..1000).collect::<Vec<_>>());
    assert_eq!((o.pending(), o.spool().unwrap().unacked()), (0, 0));
}

#[test]
fn clearing_keeps_spooled_items_for_the_next_start_and_counts_memory_only_ones_as_lost() {
    let mut memory = Outbox::new(10);
    memory.push([1, 2, 3]);
    assert_eq!(memory.clear(), Cleared { lost: 3, spooled: 0 });
    let mut o = spooled("clear", 2);
    o.push([1, 2, 3]);
    assert_eq!(o.take(1), vec![1]);
    o.settle(1);
    assert_eq!(o.clear(), Cleared { lost: 0, spooled: 2 });
    assert_eq!(o.pending(), 0);
}

#[test]
fn a_full_spool_drops_the_oldest_items_in_memory_too_and_counts_each_once() {
    let dir = std::env::temp_dir().join(format!("outbox-test-{}-full", std::process::id())).join("traces");
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
    let mut o: Outbox<u32> = Outbox::new(1000);
    o.push(0..300); // before the spool opens: in memory
    let dropped = o.attach_spool(Spool::open(&dir, 2048, &crate::exporter::spool::tests::here()).unwrap().0, 200);
    assert!(dropped > 0);
    let mut kept = Vec::new();
    loop {
        let batch = o.take(50);
        if batch.is_empty() {
            break;
        }
        kept.extend(batch.iter().copied());
        let n = batch.len();
        o.settle(n);
    }
    assert_eq!(kept.len() as u64 + dropped, 300, "each item delivered or counted as dropped");
    assert_eq!(kept, (300 - kept.len() as u32..300).collect::<Vec<_>>(), "the newest are kept, in order");
}
