//! The plugin's side of the contract: the root module a library exports, the object `init`
//! returns, and the hooks table.

use crate::doctor::DoctorCheck;
use crate::events::*;
use crate::host::HostHandleRef;
use abi_stable::{
    library::RootModule,
    marker_type::ErasedObject,
    package_version_strings,
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
/// is dropped) and its hooks.
#[repr(C)]
#[derive(StableAbi)]
pub struct PluginObject {
    pub state: RBox<ErasedObject>,
    pub hooks: PluginHooksRef,
}

pub type PluginState = ErasedObject;

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
