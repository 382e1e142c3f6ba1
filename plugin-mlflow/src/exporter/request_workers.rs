//! The requests a delivery thread has out, each posted by one of a fixed pool of worker threads
//! (`maxConcurrentRequests` of them, started with the destination): the delivery thread hands a
//! request over and goes on waiting; the worker posts it and sends the reply back with the
//! request's number and how long it took. Idle workers sleep on their queue.

use super::transport::{Reply, Transport};
use super::wire::EncodedTrace;
use crossbeam_channel::{SendError, Sender};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where a request's reply goes: its number, the reply, how long it took.
pub type Replies = Sender<(u64, Reply, Duration)>;

/// One request to post.
struct Job {
    transport: Arc<dyn Transport>,
    batch: Vec<EncodedTrace>,
    number: u64,
    replies: Replies,
}

impl Job {
    fn run(self) {
        let started = Instant::now();
        let reply = std::panic::catch_unwind(AssertUnwindSafe(|| self.transport.post(&self.batch)))
            .unwrap_or_else(|_| Reply { body: "the request's thread panicked".into(), ..Reply::default() });
        let _ = self.replies.send((self.number, reply, started.elapsed()));
    }
}

pub struct RequestWorkers {
    /// `None`: no worker could be started, and requests are posted on the caller's thread.
    jobs: Option<Sender<Job>>,
}

impl RequestWorkers {
    /// Starts `count` workers named `{name}-post-{i}`; they end once this is dropped and their
    /// request is back.
    pub fn start(name: &str, count: usize) -> RequestWorkers {
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        let started = (0..count.max(1))
            .filter(|i| {
                let queue = queue.clone();
                std::thread::Builder::new()
                    .name(format!("{name}-post-{i}"))
                    .spawn(move || queue.iter().for_each(Job::run))
                    .is_ok()
            })
            .count();
        RequestWorkers { jobs: (started > 0).then_some(jobs) }
    }

    /// Posts `batch` in one request on a worker; the reply goes to `replies` with the request's
    /// `number`.
    pub fn post(&self, transport: Arc<dyn Transport>, batch: Vec<EncodedTrace>, number: u64, replies: Replies) {
        let job = Job { transport, batch, number, replies };
        match &self.jobs {
            Some(jobs) => {
                if let Err(SendError(job)) = jobs.send(job) {
                    job.run();
                }
            }
            None => job.run(),
        }
    }
}
