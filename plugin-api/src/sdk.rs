//! The plugin author's side: implement [`Plugin`], export it with [`export_plugin!`], and this
//! module owns the plumbing (the `extern "C"` shims, panic containment, and the type erasure of
//! the plugin's state), in one audited place. A plugin written this way contains no `unsafe`.
//!
//! ```
//! use openclaw_plugin_api::*;
//! use std::sync::atomic::{AtomicU64, Ordering};
//!
//! struct Counter {
//!     seen: AtomicU64,
//! }
//!
//! impl Plugin for Counter {
//!     const ID: &'static str = "counter";
//!     const VERSION: &'static str = "0.1.0";
//!
//!     fn init(_config_json: &str, _host: HostHandleRef) -> Result<Self, String> {
//!         Ok(Counter { seen: AtomicU64::new(0) })
//!     }
//!
//!     fn on_message_start(&self, _ctx: EventContextRef<'_>, _ev: MessageStartRef<'_>) {
//!         self.seen.fetch_add(1, Ordering::Relaxed);
//!     }
//! }
//!
//! export_plugin!(Counter);
//! ```
//!
//! Panics: every method above runs inside a guard that catches a panic, logs it through the host
//! and returns a fallback, so a bug in a plugin never unwinds into the host. That needs unwinding:
//! a plugin built with `panic = "abort"` (in its Cargo profile) has no panic containment at all,
//! and any panic in it ends the host's whole process (the gateway with it).
//!
//! How the state crosses the boundary: the interface's `PluginObject.state` is an
//! `RBox<ErasedObject>` (it cannot change without breaking 0.1.0 plugins). A host built against
//! this interface cannot separate it from its hooks ([`PluginObject::give`] pairs them), but one
//! built against 0.1.0 sees both as public fields. So inside it this module always puts an
//! `abi_stable` `DynTrait` holding the plugin, and a hook gets its plugin back with `DynTrait`'s
//! checked downcast: a host that handed one plugin's state to another plugin's hooks gets the
//! hook skipped, not memory read as the wrong type.

use crate::doctor::{DoctorCheck, Verdict};
use crate::events::*;
use crate::guard::contain_panic;
use crate::host::HostHandleRef;
use crate::plugin::{PluginHooks, PluginHooksRef, PluginMod, PluginModRef, PluginObject, PluginState, PluginStats};
use abi_stable::{
    marker_type::ErasedObject,
    pointer_trait::TransmuteElement,
    prefix_type::PrefixTypeTrait,
    std_types::{RBox, RErr, ROk, RResult, RStr, RString, RVec},
    DynTrait,
};
use std::time::Duration;

/// An observability plugin. Every hook has a default that ignores the event, so a plugin
/// implements only what it wants.
///
/// Hooks run on the host's threads, concurrently, and must return quickly: copy what you keep and
/// do the work elsewhere. A panic in any method is caught here and reported through the host's
/// logger; the host goes on.
pub trait Plugin: Send + Sync + Sized + 'static {
    /// The plugin id: the host reads its settings from `plugins.entries.<ID>.config`.
    const ID: &'static str;
    const VERSION: &'static str;

    /// Parses the configuration (the JSON text of the plugin's section) and starts the plugin.
    /// Must return quickly and must not wait on the network. An error is shown to the operator:
    /// name the setting and the value expected.
    fn init(config_json: &str, host: HostHandleRef) -> Result<Self, String>;

    /// The plugin's troubleshooting for this configuration, without starting it for the host (the
    /// host's `doctor` command): settings, the backend's reachability, what it accepts. May use the
    /// network and take seconds. By default a plugin has no checks of its own.
    fn doctor(_config_json: &str, _host: HostHandleRef) -> Vec<DoctorCheck> {
        Vec::new()
    }

    /// One of the plugin's operator commands (`args`: its words, the command's name first) for
    /// this configuration, without starting the plugin: the output to print, or a message (with
    /// the usage when the words were wrong). By default a plugin has no commands.
    fn command(_config_json: &str, args: &[String], _host: HostHandleRef) -> Result<String, String> {
        Err(format!("the {} plugin has no command {:?}", Self::ID, args.first().map_or("", String::as_str)))
    }

    fn on_message_start(&self, _ctx: EventContextRef<'_>, _ev: MessageStartRef<'_>) {}
    fn on_message_end(&self, _ctx: EventContextRef<'_>, _ev: MessageEndRef<'_>) {}
    fn on_model_call_start(&self, _ctx: EventContextRef<'_>, _ev: ModelCallStartRef<'_>) {}
    fn on_model_call_end(&self, _ctx: EventContextRef<'_>, _ev: ModelCallEndRef<'_>) {}
    fn on_tool_call_start(&self, _ctx: EventContextRef<'_>, _ev: ToolCallStartRef<'_>) {}
    fn on_tool_call_end(&self, _ctx: EventContextRef<'_>, _ev: ToolCallEndRef<'_>) {}
    fn on_session_start(&self, _ctx: EventContextRef<'_>, _ev: SessionStartRef<'_>) {}
    fn on_session_end(&self, _ctx: EventContextRef<'_>, _ev: SessionEndRef<'_>) {}
    fn on_subagent_spawned(&self, _ctx: EventContextRef<'_>, _ev: SubagentSpawnedRef<'_>) {}
    fn on_subagent_ended(&self, _ctx: EventContextRef<'_>, _ev: SubagentEndedRef<'_>) {}

    /// Sends what is pending, waiting at most `timeout`. An error says what could not be sent.
    fn flush(&self, _timeout: Duration) -> Result<(), String> {
        Ok(())
    }

    /// Flushes and stops the plugin's threads within `timeout`; hooks called afterwards should be
    /// ignored. An error says what was left unsent.
    fn shutdown(&self, _timeout: Duration) -> Result<(), String> {
        Ok(())
    }

    fn stats(&self) -> PluginStats {
        PluginStats::default()
    }
}

/// Exports `$plugin` (a type implementing [`Plugin`]) as the library's root module. The library
/// (a `cdylib`) needs `abi_stable` among its dependencies too: the export attribute this expands
/// names that crate by path.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[$crate::abi_stable::export_root_module]
        fn openclaw_plugin_root_module() -> $crate::PluginModRef {
            $crate::sdk::root_module::<$plugin>()
        }
    };
}

/// The root module of a library whose plugin is `P` (what [`export_plugin!`] exports).
pub fn root_module<P: Plugin>() -> PluginModRef {
    PluginMod { id: id::<P>, version: version::<P>, init: init::<P>, doctor: doctor::<P>, command: command::<P> }
        .leak_into_prefix()
}

/// What `PluginObject.state` holds for every plugin made here (see the module comment).
type ErasedState = DynTrait<'static, RBox<()>, StateInterface>;

mod state_interface {
    // abi_stable's derive implements `InterfaceType` inside a const; nothing here to move.
    #![allow(non_local_definitions)]

    /// What the erased state promises: only that it may be shared across the host's threads.
    #[repr(C)]
    #[derive(abi_stable::StableAbi)]
    #[sabi(impl_InterfaceType(Send, Sync))]
    pub struct StateInterface;
}
use state_interface::StateInterface;

/// A started plugin beside the host handle its shims report panics through.
struct Hosted<P> {
    host: HostHandleRef,
    plugin: P,
}

extern "C" fn id<P: Plugin>() -> RStr<'static> {
    RStr::from_str(P::ID)
}

extern "C" fn version<P: Plugin>() -> RStr<'static> {
    RStr::from_str(P::VERSION)
}

extern "C" fn init<P: Plugin>(config_json: RStr<'_>, host: HostHandleRef) -> RResult<PluginObject, RString> {
    let failed = RErr(RString::from(format!("{} plugin: init panicked", P::ID)));
    contain_panic(host, "init", failed, || match P::init(config_json.as_str(), host) {
        Ok(plugin) => ROk(PluginObject { state: erase(Hosted { host, plugin }), hooks: hooks::<P>() }),
        Err(message) => RErr(RString::from(message)),
    })
}

extern "C" fn doctor<P: Plugin>(config_json: RStr<'_>, host: HostHandleRef) -> RVec<DoctorCheck> {
    let failed = RVec::from(vec![DoctorCheck::new(
        "plugin checks",
        Verdict::Fail,
        format!("{} plugin: its checks panicked", P::ID),
        "report this as a bug in the plugin, with the host's log",
    )]);
    contain_panic(host, "doctor", failed, || RVec::from(P::doctor(config_json.as_str(), host)))
}

extern "C" fn command<P: Plugin>(
    config_json: RStr<'_>,
    args: RVec<RString>,
    host: HostHandleRef,
) -> RResult<RString, RString> {
    let failed = RErr(RString::from(format!("{} plugin: the command panicked", P::ID)));
    contain_panic(host, "command", failed, || {
        let args: Vec<String> = args.into_iter().map(String::from).collect();
        P::command(config_json.as_str(), &args, host).map(RString::from).map_err(RString::from).into()
    })
}

fn erase<P: Plugin>(hosted: Hosted<P>) -> RBox<ErasedObject> {
    let state: RBox<ErasedState> = RBox::new(DynTrait::from_value(hosted));
    // SAFETY: only the pointee's type is forgotten; `RBox` keeps the destructor of the value it
    // was made with (`ErasedState`), so dropping the erased box frees the plugin correctly.
    // `unerase` is the one way back.
    unsafe { state.transmute_element::<ErasedObject>() }
}

/// The plugin behind a state, or `None` (after telling no one: there is no host handle to tell)
/// when the state is not a `P`.
fn unerase<P: Plugin>(state: &PluginState) -> Option<&Hosted<P>> {
    // SAFETY: every `PluginObject` whose hooks are these shims was made by `init::<P>` above, so
    // its state is an `ErasedState` (`erase`), and every state made here is one; a host passes a
    // hook a state from some object (`PluginObject::give` its own). Which plugin type the
    // `DynTrait` holds is then checked, not assumed.
    let erased: &ErasedState = unsafe { &*(state as *const ErasedObject as *const ErasedState) };
    erased.downcast_as::<Hosted<P>>().ok()
}

/// Runs `f` on the plugin behind `state`, panics contained; `fallback` when it cannot run.
#[inline]
fn call<P: Plugin, R>(state: &PluginState, what: &str, fallback: R, f: impl FnOnce(&P) -> R) -> R {
    match unerase::<P>(state) {
        Some(hosted) => contain_panic(hosted.host, what, fallback, || f(&hosted.plugin)),
        None => fallback,
    }
}

macro_rules! event_shims {
    ($($hook:ident: $event:ident),* $(,)?) => {$(
        extern "C" fn $hook<P: Plugin>(state: &PluginState, ctx: EventContextRef<'_>, ev: $event<'_>) {
            call::<P, ()>(state, stringify!($hook), (), |p| p.$hook(ctx, ev));
        }
    )*};
}

/// Calls `$callback! { on_message_start: MessageStartRef, ... }` with every event hook and its event
/// type, for code written once per hook (the shims here; a plugin that treats every event alike).
#[macro_export]
macro_rules! for_each_event_hook {
    ($callback:ident) => {
        $callback! {
            on_message_start: MessageStartRef,
            on_message_end: MessageEndRef,
            on_model_call_start: ModelCallStartRef,
            on_model_call_end: ModelCallEndRef,
            on_tool_call_start: ToolCallStartRef,
            on_tool_call_end: ToolCallEndRef,
            on_session_start: SessionStartRef,
            on_session_end: SessionEndRef,
            on_subagent_spawned: SubagentSpawnedRef,
            on_subagent_ended: SubagentEndedRef,
        }
    };
}

for_each_event_hook!(event_shims);

/// `flush` and `shutdown`: a call with a time budget whose error crosses the boundary as text.
fn timed<P: Plugin>(
    state: &PluginState,
    what: &str,
    timeout_ms: u64,
    f: impl FnOnce(&P, Duration) -> Result<(), String>,
) -> RResult<(), RString> {
    let fallback = RErr(RString::from(format!("{what} panicked or was given another plugin's state")));
    call::<P, _>(state, what, fallback, |p| f(p, Duration::from_millis(timeout_ms)).map_err(RString::from).into())
}

extern "C" fn flush<P: Plugin>(state: &PluginState, timeout_ms: u64) -> RResult<(), RString> {
    timed::<P>(state, "flush", timeout_ms, P::flush)
}

extern "C" fn shutdown<P: Plugin>(state: &PluginState, timeout_ms: u64) -> RResult<(), RString> {
    timed::<P>(state, "shutdown", timeout_ms, P::shutdown)
}

extern "C" fn stats<P: Plugin>(state: &PluginState) -> PluginStats {
    call::<P, _>(state, "stats", PluginStats::default(), |p| p.stats())
}

fn hooks<P: Plugin>() -> PluginHooksRef {
    PluginHooks {
        on_message_start: on_message_start::<P>,
        on_message_end: on_message_end::<P>,
        on_model_call_start: on_model_call_start::<P>,
        on_model_call_end: on_model_call_end::<P>,
        on_tool_call_start: on_tool_call_start::<P>,
        on_tool_call_end: on_tool_call_end::<P>,
        flush: flush::<P>,
        shutdown: shutdown::<P>,
        stats: stats::<P>,
        on_session_start: on_session_start::<P>,
        on_session_end: on_session_end::<P>,
        on_subagent_spawned: on_subagent_spawned::<P>,
        on_subagent_ended: on_subagent_ended::<P>,
    }
    .leak_into_prefix()
}
