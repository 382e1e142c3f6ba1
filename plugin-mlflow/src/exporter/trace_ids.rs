//! Where trace and span ids come from. A turn's ids are derived from its identity (its session key
//! and OpenClaw's run id) and from where it goes (`scope`: the tracking URI and experiment), so the
//! same turn sent again (a recording replayed twice, a resend) is the same trace in MLflow, never a
//! second copy, while the same turn sent to another experiment does not collide with it (MLflow's
//! trace ids are global to the server). A turn without a run id cannot be recognised: its ids are
//! random.

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};

#[derive(Clone, Copy)]
pub struct TraceIds {
    scope: u64,
}

/// FNV-1a over `parts` (each followed by a separator, so that ("ab", "c") and ("a", "bc") differ),
/// then a SplitMix64 finaliser to spread the bits. Stable across releases and platforms.
fn hash(seed: u64, parts: &[&[u8]]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for part in parts {
        for b in part.iter().chain(&[0xff]) {
            h = (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

impl TraceIds {
    pub fn new(scope: &str) -> TraceIds {
        TraceIds { scope: hash(0, &[scope.as_bytes()]) }
    }

    /// The trace of run `run_id` in session `session_key`.
    pub fn trace(&self, session_key: &str, run_id: &str) -> TraceId {
        if run_id.is_empty() {
            return RandomIdGenerator::default().new_trace_id();
        }
        let parts: [&[u8]; 2] = [session_key.as_bytes(), run_id.as_bytes()];
        let high = hash(self.scope, &parts);
        let low = hash(self.scope ^ 0x5bd1_e995, &parts);
        TraceId::from(((u128::from(high) << 64) | u128::from(low)).max(1))
    }

    /// The root span of `trace`.
    pub fn root_span(&self, trace: TraceId) -> SpanId {
        SpanId::from(hash(self.scope, &[&trace.to_bytes(), b"root"]).max(1))
    }

    /// The span of call `call_id`, the run's `index`-th child (a call id the host repeats after its
    /// call ended still gets a span of its own).
    pub fn child_span(&self, trace: TraceId, call_id: &str, index: usize) -> SpanId {
        SpanId::from(hash(self.scope, &[&trace.to_bytes(), call_id.as_bytes(), &index.to_le_bytes()]).max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_turn_to_the_same_place_gets_the_same_ids_and_anything_else_differs() {
        let here = TraceIds::new("http://mlflow:5000|Name(\"openclaw\")");
        let again = TraceIds::new("http://mlflow:5000|Name(\"openclaw\")");
        let elsewhere = TraceIds::new("http://mlflow:5000|Name(\"other\")");
        let t = here.trace("agent:main:main", "run-1");
        assert_eq!(t, again.trace("agent:main:main", "run-1"));
        assert_eq!(here.root_span(t), again.root_span(t));
        assert_eq!(here.child_span(t, "run-1:model:1", 0), again.child_span(t, "run-1:model:1", 0));
        assert_ne!(t, elsewhere.trace("agent:main:main", "run-1"), "another experiment: another trace");
        assert_ne!(t, here.trace("agent:main:main", "run-2"));
        assert_ne!(t, here.trace("agent:main:mai", "nrun-1"), "parts are separated");
        assert_ne!(here.child_span(t, "c", 0), here.child_span(t, "c", 1), "a repeated call id");
        assert_ne!(here.trace("s", ""), here.trace("s", ""), "no run id: random");
    }
}
