//! Which messages' traces go to the generic OTLP endpoint (`otlp.sampleRate`).

use opentelemetry::trace::TraceId;

/// Root-based sampling: a message's whole trace is kept or dropped together, decided from its trace
/// id the way OpenTelemetry's TraceIdRatioBased sampler does (so the same id gets the same answer).
pub fn sampled(trace_id: TraceId, rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    let bytes = trace_id.to_bytes();
    let low = u64::from_be_bytes(bytes[8..16].try_into().expect("16-byte trace id"));
    let threshold = (rate.max(0.0) * (1u64 << 63) as f64) as u64;
    (low >> 1) < threshold
}
