//! A generic OTLP endpoint as a destination: the same traces, sampled (`sampling`), to any
//! OTLP/HTTP backend (an OpenTelemetry Collector, Jaeger, Tempo, Honeycomb, or MLflow's own
//! endpoint). Plain policy (`classify`): a request too large (413) is sent again in halves;
//! refused credentials (401, 403) keep the traces, retried with backoff as for an outage, so that
//! fixing the header delivers them; any other refusal (4xx other than 408/429) is dropped and
//! counted; anything else is retried with backoff while the buffer holds.

use super::delivery::{Destination, NextStep, Settlement};
use super::transport::{Reply, TraceEndpoint, Transport};
use super::wire::EncodedTrace;
use crate::config::OtlpConfig;
use crate::log::{Log, Throttle};
use crate::stats::Counters;
use std::sync::Arc;
use std::time::Duration;

/// What an OTLP endpoint's status code means for a batch (the OTLP/HTTP specification's rules).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OtlpReply {
    Accepted,
    /// Refused for good: retrying the same data cannot succeed.
    Refused,
    /// The request is too large (413): smaller ones may pass.
    TooLarge,
    /// Our credentials were refused (401, 403): the data is fine, the configuration is not.
    Denied,
    /// No answer, throttled (429), timed out (408) or a server-side failure: retry.
    Unavailable,
}

pub fn classify(status: u16) -> OtlpReply {
    match status {
        200..=299 => OtlpReply::Accepted,
        408 | 429 => OtlpReply::Unavailable,
        413 => OtlpReply::TooLarge,
        401 | 403 => OtlpReply::Denied,
        400..=499 => OtlpReply::Refused,
        _ => OtlpReply::Unavailable,
    }
}

pub struct OtlpDestination {
    stats: Arc<Counters>,
    log: Log,
    traces: Arc<TraceEndpoint>,
    problems: Throttle,
    /// Partial successes are said once a minute at most (counted each time).
    partial: Throttle,
}

impl OtlpDestination {
    /// `settings` gives the timeout and TLS shared with the MLflow export.
    pub fn new(
        settings: &crate::config::Destination,
        config: &OtlpConfig,
        stats: Arc<Counters>,
        log: Log,
    ) -> Result<OtlpDestination, String> {
        let agent = super::transport::agent(settings.request_timeout, &settings.tls)?;
        let mut traces = TraceEndpoint::new(agent, config.traces_endpoint.clone());
        for (name, value) in &config.headers {
            traces.set_header(name, value.clone());
        }
        log.info(|| {
            format!(
                "OTLP export of traces to {} (sample rate {})",
                crate::config::printable_url(&config.traces_endpoint),
                config.sample_rate
            )
        });
        Ok(OtlpDestination {
            stats,
            log,
            traces: Arc::new(traces),
            problems: Throttle::new(Duration::from_secs(60)),
            partial: Throttle::new(Duration::from_secs(60)),
        })
    }
}

impl Destination for OtlpDestination {
    fn transport(&self) -> Arc<dyn Transport> {
        self.traces.clone()
    }

    fn on_reply(&mut self, batch: &[EncodedTrace], reply: Reply, buffered: usize) -> Settlement {
        let n = batch.len();
        match classify(reply.status) {
            OtlpReply::Accepted => {
                Counters::add(&self.stats.otlp_traces_exported, n as u64);
                self.problems.reset();
                if let Some(rejected) = &reply.rejected {
                    Counters::add(&self.stats.otlp_spans_rejected, rejected.spans);
                    if self.partial.due() {
                        let (spans, message) = (rejected.spans, &rejected.message);
                        self.log.warn(|| {
                            format!("OTLP endpoint accepted a request but rejected {spans} of its span(s): {message}")
                        });
                    }
                }
                Settlement::all(n)
            }
            OtlpReply::TooLarge if n > 1 => Settlement::none(NextStep::Split),
            OtlpReply::Refused | OtlpReply::TooLarge => {
                Counters::add(&self.stats.otlp_traces_failed, n as u64);
                self.log.warn(|| {
                    format!("OTLP endpoint refused {n} trace(s) ({}): {}; they are dropped", reply.status, reply.body)
                });
                Settlement::all(n)
            }
            OtlpReply::Denied => {
                if self.problems.due() {
                    let status = reply.status;
                    self.log.error(|| {
                        format!(
                            "OTLP endpoint refused our credentials ({status}): check otlp.headers (or \
                             OTEL_EXPORTER_OTLP_HEADERS); {buffered} trace(s) kept, retrying with backoff"
                        )
                    });
                }
                Settlement::none(NextStep::Retry(reply.retry_after))
            }
            OtlpReply::Unavailable => {
                if self.problems.due() {
                    let what = reply.summary();
                    self.log
                        .warn(|| format!("OTLP endpoint {what}; {buffered} trace(s) buffered, retrying with backoff"));
                }
                Settlement::none(NextStep::Retry(reply.retry_after))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_final_except_timeouts_throttling_size_and_credentials() {
        for (status, reply) in [
            (200, OtlpReply::Accepted),
            (202, OtlpReply::Accepted),
            (400, OtlpReply::Refused),
            (401, OtlpReply::Denied),
            (403, OtlpReply::Denied),
            (404, OtlpReply::Refused),
            (413, OtlpReply::TooLarge),
            (408, OtlpReply::Unavailable),
            (429, OtlpReply::Unavailable),
            (0, OtlpReply::Unavailable),
            (500, OtlpReply::Unavailable),
            (503, OtlpReply::Unavailable),
        ] {
            assert_eq!(classify(status), reply, "status {status}");
        }
    }
}
