//! The plugin's side of the contract: the root module a library exports, the object `init`
//! returns, and the hooks table.

use crate::doctor::DoctorCheck;
use crate::events::*;
use crate::host::HostHandleRef;
use abi_stable::{
    library::RootModule,
    marker_type::ErasedObject,
    package_version_strings,
    prefix_type::PrefixTypeTrait,
    sabi_types::VersionStrings,
    std_types::{RBox, RResult, RStr, RString, RVec, Tuple2},
    StableAbi,
};

/// The library's root module, exported with `#[export_root_module]` and checked by the host
/// (interface version and type layouts) before anything in it is called.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModRef)))]
#[sabi(missing_field(panic))]
pub struct PluginMod {
    /// The plugin id: the host looks its settings up as `plugins.entries.<id>.config`.
    pub id: extern "C" fn() -> RStr<'static>,
    pub version: extern "C" fn() -> RStr<'static>,
    /// Parses the configuration (the JSON text of the plugin's section) and starts the plugin.
    /// Must return quickly and must not wait on the network. An `RErr` is a message for the
    /// operator that names the offending setting.
    #[sabi(last_prefix_field)]
    pub init: extern "C" fn(config_json: RStr<'_>, host: HostHandleRef) -> RResult<PluginObject, RString>,
    // ---- 0.1.2 ----
    /// Runs the plugin's own troubleshooting for this configuration (the same JSON text `init`
    /// takes) without starting it for the host: settings, the backend's reachability and what it
    /// accepts. May take seconds and use the network: hosts call it from their `doctor` command,
    /// never from a hook. Absent (`None`) in a plugin built before 0.1.2.
    #[sabi(missing_field(option))]
    pub doctor: extern "C" fn(config_json: RStr<'_>, host: HostHandleRef) -> RVec<DoctorCheck>,
    // ---- 0.1.3 ----
    /// Runs one of the plugin's own operator commands (`args`: its words, the command's name
    /// first, e.g. `spool list`) for this configuration, without starting the plugin: `ROk` is
    /// the output to print, `RErr` a message (with the usage when the words were wrong). Like
    /// `doctor`, for a host's command line, never from a hook. Absent in a plugin built before
    /// 0.1.3.
    #[sabi(missing_field(option))]
    pub command:
        extern "C" fn(config_json: RStr<'_>, args: RVec<RString>, host: HostHandleRef) -> RResult<RString, RString>,
}

impl RootModule for PluginModRef {
    abi_stable::declare_root_module_statics! {PluginModRef}
    const BASE_NAME: &'static str = "openclaw_plugin";
    const NAME: &'static str = "openclaw_plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

/// A started plugin: its state (opaque to the host, freed by the plugin's own allocator when this
/// is dropped) and the hooks written for that state. Both are private and go together: a host calls
/// a hook through the methods here, which hand it this object's own state, so no safe code can pass
/// one plugin's state to another plugin's hooks (each hook casts the state back to its own type).
///
/// ```compile_fail
/// # fn host(object: &openclaw_plugin_api::PluginObject) {
/// let state = &object.state; // private: a host cannot take the state apart from its hooks
/// # }
/// ```
#[repr(C)]
#[derive(StableAbi)]
pub struct PluginObject {
    pub(crate) state: RBox<ErasedObject>,
    pub(crate) hooks: PluginHooksRef,
}

pub type PluginState = ErasedObject;

impl PluginObject {
    /// A started plugin from its state and its hooks, for a plugin written without [`crate::sdk`]
    /// (the SDK makes its objects itself).
    ///
    /// # Safety
    /// Every hook in `hooks` must take `state` as the type it was made from: the hooks receive it
    /// back as `&PluginState` and cast it.
    pub unsafe fn from_parts(state: RBox<ErasedObject>, hooks: PluginHooksRef) -> PluginObject {
        PluginObject { state, hooks }
    }

    /// The hooks table, to ask which hooks the plugin's interface version has.
    pub fn hooks(&self) -> PluginHooksRef {
        self.hooks
    }

    /// Calls the plugin's hook for `event` with `ctx`; whether the plugin has that hook (one
    /// appended after its interface version reads as absent and is skipped).
    pub fn give<E: HookEvent>(&self, ctx: EventContext<'_>, event: E) -> bool {
        let Some(hook) = E::hook(self.hooks) else { return false };
        let state = &*self.state;
        // SAFETY (`lend`): the hook returns nothing, so neither lent reference can come back out.
        unsafe { lend(ctx, |ctx| lend(event, |event| hook(state, ctx, event))) };
        true
    }

    /// Sends what is pending, waiting at most `timeout_ms`; an error says what could not be sent.
    pub fn flush(&self, timeout_ms: u64) -> Result<(), String> {
        self.hooks.flush()(&self.state, timeout_ms).into_result().map_err(Into::into)
    }

    /// Flushes and stops the plugin's threads within `timeout_ms`; an error says what was left.
    pub fn shutdown(&self, timeout_ms: u64) -> Result<(), String> {
        self.hooks.shutdown()(&self.state, timeout_ms).into_result().map_err(Into::into)
    }

    pub fn stats(&self) -> PluginStats {
        self.hooks.stats()(&self.state)
    }
}

/// An event a hook takes, and which hook of the table is its own (sealed: the events of this
/// interface only).
pub trait HookEvent: PrefixTypeTrait + sealed::Sealed {
    /// The event's hook, or `None` when the plugin's interface version predates it.
    fn hook(hooks: PluginHooksRef) -> Option<extern "C" fn(&PluginState, EventContextRef<'_>, Self::PrefixRef)>;
}

mod sealed {
    pub trait Sealed {}
}

macro_rules! hook_events {
    ($($event:ident => $hook:ident $(as $since:literal)?),* $(,)?) => {$(
        impl sealed::Sealed for $event<'_> {}
        impl HookEvent for $event<'_> {
            fn hook(hooks: PluginHooksRef) -> Option<extern "C" fn(&PluginState, EventContextRef<'_>, Self::PrefixRef)> {
                hook_events!(@get hooks.$hook() $(, $since)?)
            }
        }
    )*};
    (@get $hooks:ident.$hook:ident()) => { Some($hooks.$hook()) };
    (@get $hooks:ident.$hook:ident(), $since:literal) => { $hooks.$hook() };
}

hook_events! {
    MessageStart => on_message_start,
    MessageEnd => on_message_end,
    ModelCallStart => on_model_call_start,
    ModelCallEnd => on_model_call_end,
    ToolCallStart => on_tool_call_start,
    ToolCallEnd => on_tool_call_end,
    SessionStart => on_session_start as "0.1.1",
    SessionEnd => on_session_end as "0.1.1",
    SubagentSpawned => on_subagent_spawned as "0.1.1",
    SubagentEnded => on_subagent_ended as "0.1.1",
}

/// The hooks. Hooks run on the host's threads, concurrently: they must return quickly, never
/// block, never panic across the boundary (see [`crate::contain_panic`]) and copy what they keep.
///
/// Hooks after `stats` were appended in 0.1.1; their accessors return `None` for a plugin built
/// against 0.1.0, and the host treats them as absent.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginHooksRef)))]
pub struct PluginHooks {
    pub on_message_start: extern "C" fn(&PluginState, EventContextRef, MessageStartRef),
    pub on_message_end: extern "C" fn(&PluginState, EventContextRef, MessageEndRef),
    pub on_model_call_start: extern "C" fn(&PluginState, EventContextRef, ModelCallStartRef),
    pub on_model_call_end: extern "C" fn(&PluginState, EventContextRef, ModelCallEndRef),
    pub on_tool_call_start: extern "C" fn(&PluginState, EventContextRef, ToolCallStartRef),
    pub on_tool_call_end: extern "C" fn(&PluginState, EventContextRef, ToolCallEndRef),
    /// Sends what is pending; waits at most `timeout_ms`. `RErr` says what could not be sent.
    pub flush: extern "C" fn(&PluginState, timeout_ms: u64) -> RResult<(), RString>,
    /// Flushes and stops the plugin's threads within `timeout_ms`; hooks called afterwards are
    /// ignored. `RErr` says what was left unsent.
    pub shutdown: extern "C" fn(&PluginState, timeout_ms: u64) -> RResult<(), RString>,
    #[sabi(last_prefix_field)]
    pub stats: extern "C" fn(&PluginState) -> PluginStats,
    // ---- 0.1.1 ----
    pub on_session_start: extern "C" fn(&PluginState, EventContextRef, SessionStartRef),
    pub on_session_end: extern "C" fn(&PluginState, EventContextRef, SessionEndRef),
    pub on_subagent_spawned: extern "C" fn(&PluginState, EventContextRef, SubagentSpawnedRef),
    pub on_subagent_ended: extern "C" fn(&PluginState, EventContextRef, SubagentEndedRef),
}

/// Counters since `init`.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, Default, PartialEq)]
pub struct PluginStats {
    /// Events the hooks took in.
    pub accepted: u64,
    /// Events or traces given up on the plugin's side (full queue or buffer, invalid input).
    pub dropped: u64,
    /// Items (traces) delivered to the backend.
    pub exported: u64,
    /// Items the backend refused or that could not be delivered in the end.
    pub failed: u64,
    /// Further named counters, so that plugins can report more without an interface change.
    pub extra: RVec<Tuple2<RString, u64>>,
}

impl PluginStats {
    pub fn extra(&self, name: &str) -> Option<u64> {
        self.extra.iter().find(|t| t.0.as_str() == name).map(|t| t.1)
    }
}
