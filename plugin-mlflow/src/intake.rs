//! The hot path: what runs on the host's thread inside a hook. It copies the event (cutting content
//! to its budget) and offers it to the bounded queue (`event_queue`) without waiting, then rings
//! the exporter's doorbell (a load and a branch unless the exporter sleeps); what to copy (content
//! or not, how much) was decided once at `init`.

use crate::doorbell::{Doorbell, RingOnDrop};
use crate::event_queue::EventQueue;
use crate::stats::Counters;
use openclaw_plugin_api::abi_stable::std_types::RStr;
use openclaw_plugin_api::{ContentParts, EventContextRef, OwnedContext, OwnedEvent};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

pub struct Intake {
    /// The content parts captured (`captureContent`).
    pub parts: ContentParts,
    max_content_bytes: usize,
    /// The most a conversation (JSON chat messages) may hold: its messages, each content-sized.
    max_conversation_bytes: usize,
    /// The most a model call's tool definitions may hold: each tool content-sized.
    max_tool_definitions_bytes: usize,
    queue: EventQueue,
    closed: AtomicBool,
    stats: Arc<Counters>,
    /// Wakes the exporter's assembler if it sleeps. Last, so that it rings after `queue` is dropped.
    doorbell: RingOnDrop,
}

pub const TRUNCATION_MARKER: &str = "…[truncated by openclaw-mlflow: ";

impl Intake {
    pub fn new(
        capture: &crate::config::Capture,
        queue: EventQueue,
        stats: Arc<Counters>,
        doorbell: Arc<Doorbell>,
    ) -> Intake {
        let per_message =
            capture.max_content_bytes.saturating_add(REDACTION_MARGIN).saturating_add(CHAT_MESSAGE_OVERHEAD);
        Intake {
            parts: capture.parts,
            max_content_bytes: capture.max_content_bytes,
            // The history, the prompt and the system prompt.
            max_conversation_bytes: per_message.saturating_mul(capture.max_history_messages.saturating_add(2)),
            max_tool_definitions_bytes: per_message.saturating_mul(MAX_TOOL_DEFINITIONS),
            queue,
            closed: AtomicBool::new(false),
            stats,
            doorbell: RingOnDrop(doorbell),
        }
    }

    /// True after shutdown: the event is counted as dropped and goes nowhere.
    #[inline]
    pub fn refuse_if_closed(&self) -> bool {
        let closed = self.closed.load(Relaxed);
        if closed {
            Counters::add(&self.stats.events_dropped, 1);
        }
        closed
    }

    /// After shutdown hooks are ignored (and counted as dropped).
    pub fn close(&self) {
        self.closed.store(true, Relaxed);
    }

    /// Offers `event` to the queue; never blocks.
    pub fn offer(&self, event: OwnedEvent) {
        if self.queue.offer(event) {
            Counters::add(&self.stats.events_accepted, 1);
            self.doorbell.0.ring();
        } else {
            Counters::add(&self.stats.events_dropped, 1);
        }
    }

    /// An error's text, under the content rules (it often quotes the user's input): empty unless
    /// `captured` (the part the error belongs to), else cut like content.
    #[inline]
    pub fn error_text(&self, captured: bool, text: RStr<'_>) -> String {
        self.content(captured, text).unwrap_or_default()
    }

    /// Content of a part (prompt, answer, tool payloads): `None` unless `captured`, else a copy
    /// cut to `maxContentBytes` plus `REDACTION_MARGIN` (the exporter redacts, then cuts to
    /// `maxContentBytes`: `cut`).
    #[inline]
    pub fn content(&self, captured: bool, text: RStr<'_>) -> Option<String> {
        if !captured || text.is_empty() {
            return None;
        }
        Some(cut(text.as_str(), self.max_content_bytes.saturating_add(REDACTION_MARGIN)).into_owned())
    }

    /// JSON content of a part (chat messages: a model call's input or its tool calls; a tool's
    /// documents): `None` unless `captured`, or when it is larger than a conversation of content-
    /// sized messages could be (a host that does not bound it; JSON cannot be cut and stay JSON).
    #[inline]
    pub fn json_content(&self, captured: bool, json: RStr<'_>) -> Option<String> {
        self.json_within(captured, json, self.max_conversation_bytes)
    }

    /// A model call's tool definitions (JSON), like [`Intake::json_content`].
    #[inline]
    pub fn tool_definitions(&self, json: RStr<'_>) -> Option<String> {
        self.json_within(self.parts.tool_definitions, json, self.max_tool_definitions_bytes)
    }

    fn json_within(&self, captured: bool, json: RStr<'_>, max_bytes: usize) -> Option<String> {
        if !captured || json.is_empty() || json.len() > max_bytes {
            return None;
        }
        Some(json.as_str().to_owned())
    }
}

/// Tool definitions a model call keeps (the host's own bound).
const MAX_TOOL_DEFINITIONS: usize = 256;

/// What a chat message's JSON adds to its content (role, ids, names, tool calls' framing).
const CHAT_MESSAGE_OVERHEAD: usize = 4 << 10;

/// What content keeps beyond `maxContentBytes` until it is redacted: longer than the secrets the
/// redaction rules know (a 4096-bit RSA private key block is about 3.3 KB), so that one across the
/// final cut is redacted whole.
pub const REDACTION_MARGIN: usize = 8 << 10;

/// `text` cut to `max` bytes at a character boundary, with a marker saying how long it was. A text
/// an earlier hop cut (the host cuts before crossing into the plugin) ends
/// with its own marker, which knows the real length: it is kept, and only the text before it is cut
/// further if needed.
pub fn cut(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    let (body, upstream_marker) = split_marker(text);
    if body.len() <= max {
        return text.into();
    }
    let end = body.floor_char_boundary(max);
    let mut out = String::with_capacity(end + 64);
    out.push_str(&body[..end]);
    match upstream_marker {
        Some(marker) => out.push_str(marker),
        None => {
            out.push_str(TRUNCATION_MARKER);
            out.push_str(&text.len().to_string());
            out.push_str(" bytes in all]");
        }
    }
    out.into()
}

/// The most an id, name or other label keeps (a session key, a tool name): what a label needs, far
/// below what would cost the host's thread to copy.
pub const MAX_LABEL_BYTES: usize = 1024;

/// `text` up to `MAX_LABEL_BYTES`, cut at a character boundary.
pub fn label(text: &str) -> String {
    text[..text.floor_char_boundary(MAX_LABEL_BYTES)].to_owned()
}

/// `("text", Some("…[truncated by openclaw-mlflow: N characters in all]"))` for a text an earlier
/// hop cut, else `(text, None)`.
fn split_marker(text: &str) -> (&str, Option<&str>) {
    if text.ends_with(" in all]") {
        if let Some(at) = text.rfind(TRUNCATION_MARKER) {
            return (&text[..at], Some(&text[at..]));
        }
    }
    (text, None)
}

pub fn copy_ctx(ctx: EventContextRef<'_>) -> OwnedContext {
    OwnedContext::copied(ctx, label)
}
