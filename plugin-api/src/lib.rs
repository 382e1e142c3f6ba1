//! The stable plugin interface between an OpenClaw host and observability plugins.
//!
//! Three parts, as in `abi_stable`'s interface/implementation/user examples:
//! - this crate, the interface, shared by both sides;
//! - a plugin library (a `cdylib`) that implements [`Plugin`] and exports it with
//!   [`export_plugin!`] ([`sdk`] writes the `extern "C"` side);
//! - a host that loads the library ([`load_plugin_library`]) and calls the hooks.
//!
//! Evolution: every table and event is a prefix type. Appending a hook or a field is compatible in
//! both directions (an old plugin in a new host, a new plugin in an old host); the new entries read
//! as absent where the other side predates them. Reordering or removing anything is not.

pub mod content;
pub mod doctor;
pub mod events;
mod guard;
pub mod host;
mod loader;
pub mod owned;
pub mod plugin;
pub mod sdk;

pub use content::ContentParts;
pub use doctor::{DoctorCheck, Verdict};
pub use events::*;
pub use guard::{contain_host_panic, contain_panic};
pub use host::{HostHandle, HostHandleRef, LogLevel};
pub use loader::{load_plugin_library, LoadError};
pub use owned::{Hook, OwnedContext, OwnedEvent, HOOK_KINDS};
pub use plugin::{
    HookEvent, PluginHooks, PluginHooksRef, PluginMod, PluginModRef, PluginObject, PluginState, PluginStats,
};
pub use sdk::Plugin;

pub use abi_stable;
