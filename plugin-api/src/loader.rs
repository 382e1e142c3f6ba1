//! Loading a plugin library, checked before anything in it runs, and saying in one line why a
//! library was refused.

use crate::plugin::PluginModRef;
use abi_stable::abi_stability::abi_checking::{
    check_layout_compatibility_with_globals, AbiInstability, AbiInstabilityErrors, CheckingGlobals,
};
use abi_stable::library::{lib_header_from_path, LibraryError, RootModule, RootModuleError};
use abi_stable::type_layout::{TLFieldOrFunction, TypeLayout};
use abi_stable::StableAbi;
use std::fmt;
use std::path::Path;

/// Why a library is not a plugin this host can run.
#[derive(Debug)]
pub enum LoadError {
    /// Not a library, not an `abi_stable` one, not ours, or of another interface version.
    Library(LibraryError),
    /// An OpenClaw plugin whose types differ from ours in a way neither side can read: what
    /// `abi_stable`'s checker found, place by place.
    Layout(AbiInstabilityErrors),
}

impl LoadError {
    /// One line for a log (`abi_stable`'s own text spans hundreds): for a layout mismatch, each
    /// place that differs and how, else the gist of the library error.
    pub fn summary(&self) -> String {
        match self {
            LoadError::Library(error) => {
                let text = error.to_string();
                text.lines().map(str::trim).filter(|l| !l.is_empty()).take(4).collect::<Vec<_>>().join(" ")
            }
            LoadError::Layout(errors) => {
                let mut places: Vec<String> = Vec::new();
                for error in &errors.errors {
                    let path = place(error.stack_trace.iter().map(|step| &step.expected));
                    for problem in &error.errs {
                        let line = format!("{path}: {}", describe(problem));
                        if !places.contains(&line) {
                            places.push(line);
                        }
                    }
                }
                format!("interface layout differs: {}", places.join("; "))
            }
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Library(error) => fmt::Display::fmt(error, f),
            LoadError::Layout(errors) => fmt::Display::fmt(errors, f),
        }
    }
}

impl std::error::Error for LoadError {}

impl From<LibraryError> for LoadError {
    fn from(error: LibraryError) -> Self {
        LoadError::Library(error)
    }
}

/// `hooks.on_message_start`: the fields from the root module down to where the layouts differ.
fn place<'a>(steps: impl Iterator<Item = &'a TLFieldOrFunction>) -> String {
    let names: Vec<&str> = steps
        .map(|step| match step {
            TLFieldOrFunction::Field(field) => field.name(),
            TLFieldOrFunction::Function(function) => function.name.as_str(),
        })
        .collect();
    if names.is_empty() {
        "the root module".to_string()
    } else {
        names.join(".")
    }
}

/// What differs, ours first, then the library's.
fn describe(problem: &AbiInstability) -> String {
    match problem {
        AbiInstability::Size(v) => format!("{} bytes here, {} in the library", v.expected, v.found),
        AbiInstability::Alignment(v) => format!("aligned to {} here, {} in the library", v.expected, v.found),
        AbiInstability::Name(v) => format!("type {} here, {} in the library", v.expected, v.found),
        AbiInstability::FieldCountMismatch(v) => format!("{} fields here, {} in the library", v.expected, v.found),
        AbiInstability::UnexpectedField(v) => {
            format!("field `{}` here, `{}` in the library", v.expected.name(), v.found.name())
        }
        AbiInstability::MismatchedPrimitive(v) => format!("{:?} here, {:?} in the library", v.expected, v.found),
        AbiInstability::PackageVersion(v) => format!("interface {} here, {} in the library", v.expected, v.found),
        AbiInstability::Package(v) => format!("package {} here, {} in the library", v.expected, v.found),
        other => {
            let debug = format!("{other:?}");
            let variant = debug.split(['(', ' ', '{']).next().unwrap_or("");
            format!("{variant} (abi_stable's check)")
        }
    }
}

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
pub fn load_plugin_library(path: &Path) -> Result<PluginModRef, LoadError> {
    let header = lib_header_from_path(path)?;
    let Some(theirs) = header.layout() else {
        return Err(LoadError::Library(LibraryError::RootModule {
            err: RootModuleError::Unwound,
            module_name: PluginModRef::NAME,
            version: header.version_strings(),
        }));
    };
    check_either_way(<PluginModRef as StableAbi>::LAYOUT, theirs).map_err(LoadError::Layout)?;
    // SAFETY: the layout was checked just above, in the direction that applies.
    Ok(unsafe { header.init_root_module_with_unchecked_layout::<PluginModRef>() }?)
}

/// Whether one layout extends the other; when neither does, what differs as seen from ours.
///
/// Each library is checked on its own (fresh checking globals): `abi_stable`'s process-wide map
/// merges every library's view of a prefix type, which would refuse a 0.1.1 plugin once a 0.1.0
/// plugin had loaded. Plugins never hand each other values, so their views need not agree.
fn check_either_way(ours: &'static TypeLayout, theirs: &'static TypeLayout) -> Result<(), AbiInstabilityErrors> {
    match check_layout_compatibility_with_globals(ours, theirs, &CheckingGlobals::new()) {
        Ok(()) => Ok(()),
        Err(newer_or_same) => match check_layout_compatibility_with_globals(theirs, ours, &CheckingGlobals::new()) {
            Ok(()) => Ok(()),
            Err(_) => Err(newer_or_same),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    mod ours {
        #[repr(C)]
        #[derive(abi_stable::StableAbi)]
        pub struct Hooks {
            pub on_message_start: extern "C" fn(u32),
            pub stats: u64,
        }
    }

    mod theirs {
        #[repr(C)]
        #[derive(abi_stable::StableAbi)]
        pub struct Hooks {
            pub on_message_start: extern "C" fn(u32),
            pub stats: u32,
        }
    }

    #[test]
    fn a_layout_mismatch_is_said_in_one_line_naming_the_field_and_the_difference() {
        let errors = check_either_way(ours::Hooks::LAYOUT, theirs::Hooks::LAYOUT).expect_err("the layouts differ");
        let summary = LoadError::Layout(errors).summary();
        assert_eq!(summary.lines().count(), 1, "{summary}");
        assert!(summary.starts_with("interface layout differs: "), "{summary}");
        assert!(summary.contains("stats: "), "names the field: {summary}");
        assert!(summary.contains("type u64 here, u32 in the library"), "says how: {summary}");
    }

    #[test]
    fn the_same_layout_passes_either_way() {
        assert!(check_either_way(ours::Hooks::LAYOUT, ours::Hooks::LAYOUT).is_ok());
    }
}
