//! The stable plugin interface between an OpenClaw host and observability plugins.
//!
//! Three parts, as in `abi_stable`'s interface/implementation/user examples:
//! - this crate, the interface, shared by both sides;
//! - a plugin library (a `cdylib`) that exports a [`PluginMod`] with `#[export_root_module]`;
//! - a host that loads the library ([`load_plugin_library`]) and calls the hooks.
//!
//! Evolution: every table and event is a prefix type. Appending a hook or a field is compatible in
//! both directions (an old plugin in a new host, a new plugin in an old host); the new entries read
//! as absent where the other side predates them. Reordering or removing anything is not.

pub mod events;
mod guard;
pub mod host;
pub mod plugin;

pub use events::*;
pub use guard::contain_panic;
pub use host::{HostHandle, HostHandleRef, LogLevel};
pub use plugin::{PluginHooks, PluginHooksRef, PluginMod, PluginModRef, PluginObject, PluginState, PluginStats};

pub use abi_stable;

use abi_stable::library::{lib_header_from_path, LibraryError};
use std::path::Path;

/// Loads a plugin library and checks it: that it is an `abi_stable` library, that its interface
/// version is compatible with ours and that every type layout matches. Each library is loaded
/// once and never unloaded (unloading is unsound with `abi_stable`).
pub fn load_plugin_library(path: &Path) -> Result<PluginModRef, LibraryError> {
    lib_header_from_path(path)?.init_root_module::<PluginModRef>()
}
