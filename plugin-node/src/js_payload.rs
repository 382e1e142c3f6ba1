//! A hook's live JavaScript payload, read through Node-API as the shared reading rules ask
//! ([`openclaw_plugin_host::openclaw::payload`]): a field at a time, strings copied only up to the
//! bound asked for. Nothing here runs longer than the rules' budget, whatever the payload's size.
//!
//! A getter that throws (OpenClaw's payloads are plain objects, but a hook must never throw into
//! the gateway) reads as an absent field: the exception is cleared here.

use napi::sys;
use openclaw_plugin_host::openclaw::payload::{cut_str, Payload, Text};
use std::ffi::CString;
use std::ptr;

/// One JavaScript value of the hook call being handled; valid only during that call.
#[derive(Clone, Copy)]
pub struct JsPayload {
    env: sys::napi_env,
    value: sys::napi_value,
    /// `typeof value`, asked once: every read below needs it, and in the gateway each Node-API call
    /// is a cache-cold trip into V8.
    kind: sys::napi_valuetype,
}

impl JsPayload {
    /// # Safety
    /// `env` and `value` are those of the Node-API call under way, and the payload is used only
    /// during it (Node frees its handles when the call returns).
    pub unsafe fn new(env: sys::napi_env, value: sys::napi_value) -> JsPayload {
        // SAFETY: the caller's.
        JsPayload { env, value, kind: unsafe { kind_of(env, value) } }
    }

    fn is_array(&self) -> bool {
        let mut yes = false;
        // SAFETY: a live env and value (see `new`); `yes` outlives the call.
        self.kind == sys::ValueType::napi_object
            && unsafe { sys::napi_is_array(self.env, self.value, &mut yes) == sys::Status::napi_ok && yes }
    }

    fn wrap(&self, value: sys::napi_value, status: sys::napi_status) -> Option<JsPayload> {
        if status != sys::Status::napi_ok {
            self.clear_exception();
            return None;
        }
        // SAFETY: a value of the call under way, as `self`'s.
        let child = unsafe { JsPayload::new(self.env, value) };
        match child.kind {
            sys::ValueType::napi_undefined | sys::ValueType::napi_null => None,
            _ => Some(child),
        }
    }

    /// A string shorter than `SHORT_STRING_BYTES` in one Node-API call (ids, names, roles: most
    /// reads); `None` when it may be longer.
    fn short_string(&self) -> Option<String> {
        let mut buf = [0u8; SHORT_STRING_BYTES + 4];
        let mut written = 0usize;
        // SAFETY: a live env and string; Node writes at most `buf.len() - 1` bytes and a NUL.
        let status = unsafe {
            sys::napi_get_value_string_utf8(self.env, self.value, buf.as_mut_ptr().cast(), buf.len(), &mut written)
        };
        // A longer string fills the buffer but for the NUL and at most 3 bytes of a character Node
        // keeps whole: fewer than `SHORT_STRING_BYTES` written means the string was written whole.
        (status == sys::Status::napi_ok && written < SHORT_STRING_BYTES)
            .then(|| String::from_utf8_lossy(&buf[..written]).into_owned())
    }

    fn clear_exception(&self) {
        let mut pending = false;
        // SAFETY: a live env; the cleared exception's handle is dropped with the call's scope.
        unsafe {
            if sys::napi_is_exception_pending(self.env, &mut pending) == sys::Status::napi_ok && pending {
                let mut exception = ptr::null_mut();
                sys::napi_get_and_clear_last_exception(self.env, &mut exception);
            }
        }
    }
}

/// `typeof value`; undefined if Node cannot say.
///
/// # Safety
/// As for [`JsPayload::new`].
unsafe fn kind_of(env: sys::napi_env, value: sys::napi_value) -> sys::napi_valuetype {
    let mut kind = sys::ValueType::napi_undefined;
    // SAFETY: the caller's; `kind` outlives the call.
    let status = unsafe { sys::napi_typeof(env, value, &mut kind) };
    if status == sys::Status::napi_ok {
        kind
    } else {
        sys::ValueType::napi_undefined
    }
}

/// Strings shorter than this are read in one call ([`JsPayload::short_string`]).
const SHORT_STRING_BYTES: usize = 252;

impl Payload for JsPayload {
    fn field(&self, name: &str) -> Option<Self> {
        if self.kind != sys::ValueType::napi_object {
            return None;
        }
        let name = CString::new(name).ok()?;
        let mut value = ptr::null_mut();
        // SAFETY: a live env and object; `name` is NUL-terminated and outlives the call.
        let status = unsafe { sys::napi_get_named_property(self.env, self.value, name.as_ptr(), &mut value) };
        self.wrap(value, status)
    }

    fn string(&self, max_bytes: usize) -> Option<Text> {
        if self.kind != sys::ValueType::napi_string {
            return None;
        }
        if let Some(mut text) = self.short_string() {
            let whole_len = text.encode_utf16().count();
            let kept = cut_str(&text, max_bytes).len();
            let cut = kept < text.len();
            text.truncate(kept);
            return Some(Text { text, whole_len, cut });
        }
        let mut utf16_len = 0usize;
        // SAFETY: a live env and string; a null buffer asks for the length only (constant time).
        let status =
            unsafe { sys::napi_get_value_string_utf16(self.env, self.value, ptr::null_mut(), 0, &mut utf16_len) };
        if status != sys::Status::napi_ok {
            return None;
        }
        // A UTF-16 unit is at most 3 bytes of UTF-8: no bigger buffer than the whole string needs.
        let room = max_bytes.min(utf16_len.saturating_mul(3));
        let mut buf = vec![0u8; room + 1];
        let mut written = 0usize;
        // SAFETY: `buf` has room + 1 bytes (Node writes at most bufsize - 1 and a NUL); Node never
        // splits a character at the end.
        let status = unsafe {
            sys::napi_get_value_string_utf8(self.env, self.value, buf.as_mut_ptr().cast(), buf.len(), &mut written)
        };
        if status != sys::Status::napi_ok {
            return None;
        }
        buf.truncate(written);
        let text = match String::from_utf8(buf) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        let text = cut_str(&text, max_bytes).to_string();
        let units = text.encode_utf16().count();
        Some(Text { text, whole_len: utf16_len, cut: units < utf16_len })
    }

    fn number(&self) -> Option<f64> {
        if self.kind != sys::ValueType::napi_number {
            return None;
        }
        let mut n = 0.0;
        // SAFETY: a live env and number.
        (unsafe { sys::napi_get_value_double(self.env, self.value, &mut n) } == sys::Status::napi_ok).then_some(n)
    }

    fn boolean(&self) -> Option<bool> {
        if self.kind != sys::ValueType::napi_boolean {
            return None;
        }
        let mut b = false;
        // SAFETY: a live env and boolean.
        (unsafe { sys::napi_get_value_bool(self.env, self.value, &mut b) } == sys::Status::napi_ok).then_some(b)
    }

    fn items(&self, max: usize) -> Vec<Self> {
        let len = self.array_len().unwrap_or(0).min(max);
        (0..len).filter_map(|i| self.item(i)).collect()
    }

    fn array_len(&self) -> Option<usize> {
        if !self.is_array() {
            return None;
        }
        let mut len = 0u32;
        // SAFETY: a live env and array.
        (unsafe { sys::napi_get_array_length(self.env, self.value, &mut len) } == sys::Status::napi_ok)
            .then_some(len as usize)
    }

    fn item(&self, index: usize) -> Option<Self> {
        let index = u32::try_from(index).ok()?;
        let mut value = ptr::null_mut();
        // SAFETY: a live env and array (an index past the end reads undefined).
        let status = unsafe { sys::napi_get_element(self.env, self.value, index, &mut value) };
        self.wrap(value, status)
    }

    fn keys(&self, max: usize) -> Vec<String> {
        if self.kind != sys::ValueType::napi_object || self.is_array() {
            return Vec::new();
        }
        let mut names = ptr::null_mut();
        // SAFETY: a live env and object.
        let status = unsafe { sys::napi_get_property_names(self.env, self.value, &mut names) };
        let Some(names) = self.wrap(names, status) else { return Vec::new() };
        names
            .items(max)
            .iter()
            .filter_map(|name| name.string(super::js_payload::KEY_MAX_BYTES))
            .map(|t| t.text)
            .collect()
    }
}

/// The most of an object key kept when a value is written as JSON.
const KEY_MAX_BYTES: usize = 256;
