//! Metrics for any OTLP backend, with the OpenTelemetry SDK: the GenAI conventions' histograms
//! (`gen_ai.client.token.usage`, `gen_ai.client.operation.duration`, with their advised buckets) and
//! counters for tokens, cost and messages by outcome. Recorded on the assembler thread from the
//! finished traces (the same source as the MLflow run's metrics); the SDK's periodic reader exports
//! them on its own thread every `flushIntervalMs`, cumulative.
//!
//! Attributes are low-cardinality only: provider, model, token type, operation, outcome, channel;
//! never a session key or a run id.

use super::assembler::{ChildKind, FinishedTrace};
use super::transport::otlp_http;
use crate::config::OtlpConfig;
use crate::genai;
use opentelemetry::metrics::{Counter, Histogram, MeterProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use std::collections::HashMap;
use std::time::Duration;

pub const METRIC_TOKENS: &str = "openclaw.tokens";
pub const METRIC_COST: &str = "openclaw.cost";
pub const METRIC_MESSAGES: &str = "openclaw.messages";

pub struct OtlpMetrics {
    provider: SdkMeterProvider,
    toggles: super::run_metrics::MetricToggles,
    token_usage: Histogram<u64>,
    duration: Histogram<f64>,
    tokens: Counter<u64>,
    cost: Counter<f64>,
    messages: Counter<u64>,
}

impl OtlpMetrics {
    pub fn start(
        config: &OtlpConfig,
        interval: Duration,
        request_timeout: Duration,
        tls: &crate::config::TlsSettings,
        toggles: super::run_metrics::MetricToggles,
    ) -> Result<OtlpMetrics, String> {
        let agent = super::transport::agent(request_timeout, tls)?;
        let headers: HashMap<String, String> = config.headers.iter().cloned().collect();
        let builder = opentelemetry_otlp::MetricExporter::builder().with_http();
        let exporter = otlp_http(builder, agent, config.metrics_endpoint.clone(), request_timeout, headers)
            .with_temporality(Temporality::Cumulative)
            .build()
            .map_err(|e| format!("mlflow config `otlp`: the OTLP metric exporter could not be built: {e}"))?;
        let reader = PeriodicReader::builder(exporter).with_interval(interval).build();
        let provider = SdkMeterProvider::builder()
            .with_reader(reader)
            .with_resource(super::resource(&config.service_name))
            .build();
        let meter = provider.meter("openclaw-mlflow");
        Ok(OtlpMetrics {
            toggles,
            token_usage: meter
                .u64_histogram(genai::METRIC_TOKEN_USAGE)
                .with_unit("{token}")
                .with_description("Tokens used per model call, by token type")
                .with_boundaries(genai::TOKEN_USAGE_BOUNDARIES.to_vec())
                .build(),
            duration: meter
                .f64_histogram(genai::METRIC_OPERATION_DURATION)
                .with_unit("s")
                .with_description("Duration of model calls")
                .with_boundaries(genai::OPERATION_DURATION_BOUNDARIES.to_vec())
                .build(),
            tokens: meter
                .u64_counter(METRIC_TOKENS)
                .with_unit("{token}")
                .with_description("Tokens, by type incl. cache")
                .build(),
            cost: meter.f64_counter(METRIC_COST).with_unit("USD").with_description("Model cost").build(),
            messages: meter
                .u64_counter(METRIC_MESSAGES)
                .with_unit("{message}")
                .with_description("Messages by outcome")
                .build(),
            provider,
        })
    }

    /// Records one finished trace (its calls priced already).
    pub fn record(&self, trace: &FinishedTrace) {
        let run = &trace.run;
        // A message in several traces counts once, with its last part.
        if trace.continued_in.is_none() {
            let mut message_attrs = vec![KeyValue::new("openclaw.outcome", trace.outcome_label())];
            if !run.ctx.channel.is_empty() {
                message_attrs.push(KeyValue::new("openclaw.channel", run.ctx.channel.clone()));
            }
            self.messages.add(1, &message_attrs);
        }
        for child in &run.children {
            let ChildKind::Model { provider, model, usage, cost, .. } = &child.kind else { continue };
            let base = [
                KeyValue::new(genai::OPERATION_NAME, genai::OP_CHAT),
                KeyValue::new(genai::PROVIDER_NAME, provider.clone()),
                KeyValue::new(genai::REQUEST_MODEL, model.clone()),
            ];
            if self.toggles.latency {
                if let Some(end) = child.end_ms {
                    let mut attrs = base.to_vec();
                    if child.outcome.is_some_and(|o| o.is_error()) {
                        attrs.push(KeyValue::new(genai::ERROR_TYPE, child.outcome.map_or("error", |o| o.as_str())));
                    }
                    self.duration.record(end.saturating_sub(child.start_ms) as f64 / 1000.0, &attrs);
                }
            }
            if let (true, Some(u)) = (self.toggles.tokens, usage) {
                for (kind, n) in [("input", u.input), ("output", u.output)] {
                    let mut attrs = base.to_vec();
                    attrs.push(KeyValue::new(genai::TOKEN_TYPE, kind));
                    self.token_usage.record(n, &attrs);
                }
                for (kind, n) in [
                    ("input", u.input),
                    ("output", u.output),
                    ("cache_read", u.cache_read),
                    ("cache_write", u.cache_write),
                ] {
                    let mut attrs = base[1..].to_vec();
                    attrs.push(KeyValue::new(genai::TOKEN_TYPE, kind));
                    self.tokens.add(n, &attrs);
                }
            }
            if let (true, Some(c)) = (self.toggles.costs, cost) {
                self.cost.add(c.total, &base[1..]);
            }
        }
    }

    /// Exports the last values and stops the reader (on the caller's thread; bound it by running it
    /// where a deadline is kept).
    pub fn shutdown(&self) -> Result<(), String> {
        self.provider.shutdown().map_err(|e| e.to_string())
    }
}
