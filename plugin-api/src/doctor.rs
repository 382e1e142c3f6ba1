//! What a plugin's `doctor` entry returns: its checks, in the order an operator would go, each
//! with a verdict, what was found, and the fix when it failed. The host prints them (as text or
//! JSON) after its own checks of the configuration.

use abi_stable::{std_types::RString, StableAbi};

/// One check's outcome.
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// Works, with advice worth reading (a small clock skew, a slow first trace).
    Warn,
    Fail,
    /// Not run, because a check it needs failed.
    Skip,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
            Verdict::Skip => "skip",
        }
    }
}

#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct DoctorCheck {
    /// Short and stable, for scripts: `tracking URI`, `credentials`, `test trace`...
    pub name: RString,
    pub verdict: Verdict,
    /// What was found (never a secret).
    pub detail: RString,
    /// What to do about it; empty when there is nothing to do.
    pub fix: RString,
}

impl DoctorCheck {
    pub fn new(name: &str, verdict: Verdict, detail: impl Into<String>, fix: impl Into<String>) -> DoctorCheck {
        DoctorCheck { name: name.into(), verdict, detail: RString::from(detail.into()), fix: RString::from(fix.into()) }
    }

    pub fn pass(name: &str, detail: impl Into<String>) -> DoctorCheck {
        DoctorCheck::new(name, Verdict::Pass, detail, "")
    }

    pub fn warn(name: &str, detail: impl Into<String>, fix: impl Into<String>) -> DoctorCheck {
        DoctorCheck::new(name, Verdict::Warn, detail, fix)
    }

    pub fn fail(name: &str, detail: impl Into<String>, fix: impl Into<String>) -> DoctorCheck {
        DoctorCheck::new(name, Verdict::Fail, detail, fix)
    }

    /// A check that did not run because `needs` failed.
    pub fn skip(name: &str, needs: &str) -> DoctorCheck {
        DoctorCheck::new(name, Verdict::Skip, format!("not checked: needs {needs}"), "")
    }
}
