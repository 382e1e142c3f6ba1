//! Whom a spool directory's records are for. Trace ids are derived for one experiment (in one
//! workspace), and the run's metric values belong to a run in it, so a process delivers only what
//! was spooled for its own experiment; what waits for another stays until an operator moves or
//! discards it (`openclaw-host spool`). The address is recorded to be shown, not compared: a
//! corrected tracking URI or new credentials still deliver what waited through an outage.
//!
//! Stored as `<owner dir>/destination`, JSON, written by the owner before its first segment. A
//! directory without one was written before this file existed and is taken over as before.

use super::private;
use crate::config::ExperimentRef;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::{self, Write};
use std::path::Path;

pub const FILE: &str = "destination";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Recipient {
    pub experiment: ExperimentRef,
    pub workspace: Option<String>,
    /// Where it was to be sent, without credentials (shown only).
    pub address: String,
}

impl Recipient {
    /// Whether records spooled for `self` may be delivered by a process sending to `other`.
    pub fn same_experiment(&self, other: &Recipient) -> bool {
        self.experiment == other.experiment && self.workspace == other.workspace
    }

    /// `experiment "openclaw" in workspace "team-a"` (no address).
    pub fn experiment_label(&self) -> String {
        let experiment = match &self.experiment {
            ExperimentRef::Name(name) => format!("experiment {name:?}"),
            ExperimentRef::Id(id) => format!("experiment ID {id}"),
        };
        match &self.workspace {
            Some(workspace) => format!("{experiment} in workspace {workspace:?}"),
            None => experiment,
        }
    }
}

/// `experiment "openclaw" in workspace "team-a" at https://mlflow.example.com`
impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", self.experiment_label(), self.address)
    }
}

/// What a directory says of its records.
#[derive(Clone, Debug, PartialEq)]
pub enum Label {
    /// No `destination` file: written by a version before it; taken over by anyone.
    Unlabelled,
    For(Recipient),
    /// A `destination` file that cannot be read as one (another user's, a link, damaged): left alone.
    Unreadable,
}

impl Label {
    /// Whether a process sending to `current` takes these records over.
    pub fn is_for(&self, current: &Recipient) -> bool {
        match self {
            Label::Unlabelled => true,
            Label::For(recipient) => recipient.same_experiment(current),
            Label::Unreadable => false,
        }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Label::Unlabelled => f.write_str("(not recorded: written by an earlier version)"),
            Label::For(recipient) => recipient.fmt(f),
            Label::Unreadable => f.write_str("(unreadable destination file)"),
        }
    }
}

pub fn read(dir: &Path) -> Label {
    let path = dir.join(FILE);
    if std::fs::symlink_metadata(&path).is_err() {
        return Label::Unlabelled;
    }
    let text = private::is_ours(&path, false).then(|| private::open_read(&path).and_then(io::read_to_string));
    match text.and_then(Result::ok).and_then(|t| serde_json::from_str(&t).ok()) {
        Some(recipient) => Label::For(recipient),
        None => Label::Unreadable,
    }
}

/// Writes (or replaces, whole) `dir`'s label: a new file renamed over the old one.
pub fn write(dir: &Path, recipient: &Recipient) -> io::Result<()> {
    let json = serde_json::to_vec(recipient).map_err(io::Error::other)?;
    let fresh = dir.join(format!("{FILE}.new"));
    let _ = std::fs::remove_file(&fresh);
    let mut file = private::write_options().create_new(true).open(&fresh)?;
    file.write_all(&json)?;
    file.sync_all()?;
    std::fs::rename(&fresh, dir.join(FILE))
}
