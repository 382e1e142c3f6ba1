//! What waits for a destination, in the form it is sent and spooled in: a finished trace encoded
//! once, on the assembler thread, as the OTLP request of its own spans (`EncodedTrace`); a metric
//! point of the MLflow run. `Record` is their byte form in the spool.
//!
//! Encoding once means the spool stores exactly what goes on the wire, and a batch is the bytes of
//! its traces one after another: in protobuf, concatenated `ExportTraceServiceRequest`s are one
//! request whose `resource_spans` are all of theirs.

use super::mlflow_spans::TraceSpans;
use super::run_metrics::MetricPoint;
use opentelemetry::trace::TraceId;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use prost::Message as _;
use std::sync::Arc;

/// A finished trace as one destination's OTLP request body.
#[derive(Clone, Debug, PartialEq)]
pub struct EncodedTrace {
    pub trace_id: TraceId,
    /// Shared by every request that carries the trace (a window's posts, a retry).
    pub body: Arc<[u8]>,
}

/// Encodes traces with a destination's resource (the service name differs per destination).
pub struct TraceEncoder {
    resource: ResourceAttributesWithSchema,
}

impl TraceEncoder {
    pub fn new(resource: &opentelemetry_sdk::Resource) -> TraceEncoder {
        TraceEncoder { resource: resource.into() }
    }

    pub fn encode(&self, trace: &TraceSpans) -> EncodedTrace {
        let resource_spans = group_spans_by_resource_and_scope(trace.spans.clone(), &self.resource);
        EncodedTrace {
            trace_id: trace.trace_id,
            body: ExportTraceServiceRequest { resource_spans }.encode_to_vec().into(),
        }
    }
}

/// One request carrying `traces`: their bodies one after another.
pub fn request_body(traces: &[EncodedTrace]) -> Vec<u8> {
    let mut body = Vec::with_capacity(traces.iter().map(|t| t.body.len()).sum());
    for t in traces {
        body.extend_from_slice(&t.body);
    }
    body
}

/// An item's bytes in the spool. `from_bytes` refuses what it cannot read (`None`), never panics.
pub trait Record: Sized + Clone {
    fn to_bytes(&self) -> Vec<u8>;
    fn from_bytes(bytes: &[u8]) -> Option<Self>;
}

/// The trace id (16 bytes), then the request body.
impl Record for EncodedTrace {
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.body.len());
        out.extend_from_slice(&self.trace_id.to_bytes());
        out.extend_from_slice(&self.body);
        out
    }

    fn from_bytes(bytes: &[u8]) -> Option<EncodedTrace> {
        let id: [u8; 16] = bytes.get(..16)?.try_into().ok()?;
        let body = bytes[16..].to_vec();
        // A body that is not a trace request would make the server refuse the whole batch.
        ExportTraceServiceRequest::decode(body.as_slice()).ok()?;
        Some(EncodedTrace { trace_id: TraceId::from_bytes(id), body: body.into() })
    }
}

/// Value (f64), timestamp and step (u64), then the key (UTF-8), little endian.
impl Record for MetricPoint {
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24 + self.key.len());
        out.extend_from_slice(&self.value.to_le_bytes());
        out.extend_from_slice(&self.timestamp_ms.to_le_bytes());
        out.extend_from_slice(&self.step.to_le_bytes());
        out.extend_from_slice(self.key.as_bytes());
        out
    }

    fn from_bytes(bytes: &[u8]) -> Option<MetricPoint> {
        let word = |i: usize| -> Option<[u8; 8]> { bytes.get(i..i + 8)?.try_into().ok() };
        Some(MetricPoint {
            value: f64::from_le_bytes(word(0)?),
            timestamp_ms: u64::from_le_bytes(word(8)?),
            step: u64::from_le_bytes(word(16)?),
            key: std::str::from_utf8(bytes.get(24..)?).ok()?.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_garbage_is_refused() {
        let point =
            MetricPoint { key: "openclaw.tokens.input".into(), value: 12.5, timestamp_ms: 1_764_000_000_000, step: 3 };
        assert_eq!(MetricPoint::from_bytes(&point.to_bytes()), Some(point));
        assert_eq!(MetricPoint::from_bytes(b"short"), None);
        let trace = EncodedTrace {
            trace_id: TraceId::from_bytes([7; 16]),
            body: ExportTraceServiceRequest { resource_spans: vec![] }.encode_to_vec().into(),
        };
        assert_eq!(EncodedTrace::from_bytes(&trace.to_bytes()), Some(trace));
        assert_eq!(EncodedTrace::from_bytes(&[1; 10]), None);
        let mut not_protobuf = vec![7; 16];
        not_protobuf.extend_from_slice(&[0xff; 8]);
        assert_eq!(EncodedTrace::from_bytes(&not_protobuf), None);
    }

    #[test]
    fn concatenated_trace_requests_are_one_request_holding_all_their_spans() {
        use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
        let one = |name: &str| EncodedTrace {
            trace_id: TraceId::from_bytes([1; 16]),
            body: ExportTraceServiceRequest {
                resource_spans: vec![ResourceSpans { schema_url: name.into(), ..Default::default() }],
            }
            .encode_to_vec()
            .into(),
        };
        let merged = ExportTraceServiceRequest::decode(request_body(&[one("a"), one("b")]).as_slice()).unwrap();
        let urls: Vec<&str> = merged.resource_spans.iter().map(|r| r.schema_url.as_str()).collect();
        assert_eq!(urls, ["a", "b"]);
    }
}
