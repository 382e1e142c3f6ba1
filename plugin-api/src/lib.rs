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
pub mod plugin;
pub mod sdk;

pub use content::ContentParts;
pub use doctor::{DoctorCheck, Verdict};
pub use events::*;
pub use guard::{contain_host_panic, contain_panic};
pub use host::{HostHandle, HostHandleRef, LogLevel};
pub use plugin::{
    HookEvent, PluginHooks, PluginHooksRef, PluginMod, PluginModRef, PluginObject, PluginState, PluginStats,
};
pub use sdk::Plugin;

pub use abi_stable;

use abi_stable::abi_stability::abi_checking::{check_layout_compatibility_with_globals, CheckingGlobals};
use abi_stable::library::{lib_header_from_path, LibraryError, RootModule};
use abi_stable::StableAbi;
use std::path::Path;

/// Loads a plugin library and checks it before anything in it runs: that it is an `abi_stable`
/// library, that its interface version is compatible with ours (same 0.x minor) and that every
/// type layout matches. Each library is loaded once and never unloaded (unloading is unsound with
/// `abi_stable`).
///
/// Why the layout check runs in both directions: `abi_stable` accepts a library whose prefix types
/// have at least the fields the loader knows (a newer plugin in an older host). Our contract also
/// promises the converse (an older plugin in a newer host). That is sound as long as one side's
/// interface is an extension of the other's: the host reads the hooks a plugin lacks through
/// accessors that check, at run time, the field-accessibility bits the plugin's own tables carry
/// (`None` for a hook the plugin predates), and a plugin reads only the event fields it knows,
/// which the newer host's events start with. So the library is accepted when either interface
/// extends the other; a mix of both (each side has fields the other lacks) is refused.
///
/// Each library is checked on its own (fresh checking globals): `abi_stable`'s process-wide map
/// merges every library's view of a prefix type, which would refuse a 0.1.1 plugin once a 0.1.0
/// plugin had loaded. Plugins never hand each other values, so their views need not agree.
pub fn load_plugin_library(path: &Path) -> Result<PluginModRef, LibraryError> {
    let header = lib_header_from_path(path)?;
    let ours = <PluginModRef as StableAbi>::LAYOUT;
    let Some(theirs) = header.layout() else {
        return Err(LibraryError::RootModule {
            err: abi_stable::library::RootModuleError::Unwound,
            module_name: PluginModRef::NAME,
            version: header.version_strings(),
        });
    };
    if let Err(newer_or_same) = check_layout_compatibility_with_globals(ours, theirs, &CheckingGlobals::new()) {
        if check_layout_compatibility_with_globals(theirs, ours, &CheckingGlobals::new()).is_err() {
            return Err(LibraryError::AbiInstability(abi_stable::std_types::RBoxError::new(newer_or_same)));
        }
    }
    // SAFETY: the layout was checked just above, in the direction that applies.
    unsafe { header.init_root_module_with_unchecked_layout::<PluginModRef>() }
}
