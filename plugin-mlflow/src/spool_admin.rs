//! The operator's view of the spool: what waits there and for which experiment (the `spool`
//! command, and the doctor's `spool` check). A process delivers only what was spooled for its own
//! experiment (`exporter::spool::recipient`); what waits for another is listed here, and moved to
//! this configuration's experiment or discarded only when the operator says so.

use crate::config::{Config, ExperimentRef};
use crate::exporter::spool::{self, Label, Recipient, Stored};
use crate::exporter::spool_recipient;
use openclaw_plugin_api::DoctorCheck;
use std::path::Path;

pub const USAGE: &str = "usage:
  spool list                                   what waits in the spool, and for which experiment
  spool move [--experiment NAME|ID]            what waits for other experiments (or for that one only) becomes
                                               this configuration's: sent at the gateway's next start
  spool discard (--experiment NAME|ID | --all) deletes what waits for other experiments (that one, or all)";

/// Runs `spool <args>` for `config`: the text to print.
pub fn run(config: &Config, args: &[String]) -> Result<String, String> {
    let Some(spool_dir) = &config.durability.spool_dir else {
        return Ok("no spool: spool is false, or there is no state directory (what waits is kept in memory)".into());
    };
    let here = spool_recipient(config);
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let (action, selection) = match words.as_slice() {
        ["list"] => return list(spool_dir, &here),
        ["move"] => ("move", Selection::AllElsewhere),
        ["move", "--experiment", e] | ["discard", "--experiment", e] => (words[0], Selection::Experiment(e)),
        ["discard", "--all"] => ("discard", Selection::AllElsewhere),
        _ => return Err(USAGE.into()),
    };
    let chosen: Vec<Stored> = stored(spool_dir)?
        .into_iter()
        .filter(|s| !s.running && !s.label.is_for(&here) && selection.takes(&s.label))
        .collect();
    if chosen.is_empty() {
        return Ok(format!("nothing waits for {} in {}", selection, spool_dir.display()));
    }
    let mut done = Vec::new();
    for s in &chosen {
        let result = if action == "move" { spool::relabel(&s.dir, &here) } else { spool::discard(&s.dir).map(drop) };
        result.map_err(|e| format!("{}: {e} (the directories listed before it are done)", s.dir.display()))?;
        done.push(format!("{} {} for {}", s.records, unit(&s.stream), s.label));
    }
    let done = done.join("\n  ");
    Ok(match action {
        "move" => format!("moved to {here}, sent at the gateway's next start:\n  {done}"),
        _ => format!("discarded:\n  {done}"),
    })
}

/// Which of the records waiting for other experiments an action takes.
enum Selection<'a> {
    AllElsewhere,
    /// An experiment by name or ID.
    Experiment(&'a str),
}

impl Selection<'_> {
    fn takes(&self, label: &Label) -> bool {
        match (self, label) {
            (Selection::AllElsewhere, _) => true,
            (Selection::Experiment(e), Label::For(r)) => match &r.experiment {
                ExperimentRef::Name(name) | ExperimentRef::Id(name) => name == e,
            },
            (Selection::Experiment(_), _) => false,
        }
    }
}

impl std::fmt::Display for Selection<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Selection::AllElsewhere => f.write_str("other experiments"),
            Selection::Experiment(e) => write!(f, "experiment {e:?}"),
        }
    }
}

fn stored(spool_dir: &Path) -> Result<Vec<Stored>, String> {
    match spool::inventory(spool_dir) {
        Ok(found) => Ok(found),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("the spool directory cannot be used: {e}")),
    }
}

/// What a stream's records are.
fn unit(stream: &str) -> &'static str {
    if stream.ends_with("-metrics") {
        "metric value(s)"
    } else {
        "trace(s)"
    }
}

fn list(spool_dir: &Path, here: &Recipient) -> Result<String, String> {
    let found = stored(spool_dir)?;
    let mut out = format!("spool {} (this configuration sends to {here})\n", spool_dir.display());
    if found.is_empty() {
        out.push_str("nothing waits\n");
    }
    for s in found {
        let state = if s.running {
            "a running process delivers it"
        } else if s.label.is_for(here) {
            "sent at the next start"
        } else {
            "waits for another experiment"
        };
        out.push_str(&format!("{} {} for {} [{state}] in {}\n", s.records, unit(&s.stream), s.label, s.dir.display()));
    }
    Ok(out)
}

/// The doctor's `spool` check: the directory is usable, and nothing waits for another experiment.
pub fn doctor_check(config: &Config) -> DoctorCheck {
    const NAME: &str = "spool";
    let Some(spool_dir) = &config.durability.spool_dir else {
        return DoctorCheck::pass(NAME, "off (spool: false, or no state directory): what waits is kept in memory only");
    };
    let found = match spool::inventory(spool_dir) {
        Ok(found) => found,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return DoctorCheck::pass(NAME, format!("{}: not created yet, nothing waits", spool_dir.display()))
        }
        Err(e) => {
            return DoctorCheck::warn(
                NAME,
                format!("unusable, so what waits is kept in memory only: {e}"),
                "give spoolDir a directory of this user's that no other user can write to (mode 0700)",
            )
        }
    };
    let here = spool_recipient(config);
    let traces = |s: &&Stored| !s.running && s.stream.ends_with("-traces");
    let ours: u64 = found.iter().filter(traces).filter(|s| s.label.is_for(&here)).map(|s| s.records).sum();
    let mut elsewhere = std::collections::BTreeMap::<String, u64>::new();
    for s in found.iter().filter(traces).filter(|s| !s.label.is_for(&here) && s.records > 0) {
        *elsewhere.entry(s.label.to_string()).or_default() += s.records;
    }
    if elsewhere.is_empty() {
        return DoctorCheck::pass(
            NAME,
            format!(
                "{}: {ours} trace(s) wait to be sent to {} at the next start",
                spool_dir.display(),
                here.experiment_label()
            ),
        );
    }
    let waiting: Vec<String> = elsewhere.iter().map(|(label, n)| format!("{n} trace(s) for {label}")).collect();
    DoctorCheck::warn(
        NAME,
        format!(
            "{}: {}; this configuration sends to {}, so they are not sent",
            spool_dir.display(),
            waiting.join(", "),
            here.experiment_label()
        ),
        "`openclaw mlflow spool list` (or `openclaw-host spool list`) shows them; `spool move` sends them to \
         this experiment at the next start, `spool discard --experiment NAME` deletes them",
    )
}
