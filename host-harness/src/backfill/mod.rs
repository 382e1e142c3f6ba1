//! `openclaw-host backfill`: past conversations from OpenClaw's own store into MLflow, each turn as
//! the trace the live plugin would have sent, through the same plugin and settings.
//!
//! store (read-only SQLite) -> turns (transcript -> hook calls) -> the plugin, in chunks: after each
//! chunk the backfill waits until the plugin has delivered it, then records how far it got (resume).

mod resume;
mod store;
mod turns;

use crate::Host;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use openclaw_plugin_api::{LogLevel, PluginStats};
use resume::Resume;
use serde_json::Value;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use time::format_description::well_known::Rfc3339;

#[derive(Args)]
pub struct BackfillOptions {
    /// OpenClaw's state directory (it holds agents/<id>/agent/openclaw-agent.sqlite)
    #[arg(long, value_name = "DIR")]
    pub state_dir: PathBuf,
    /// Only this agent's conversations
    #[arg(long, value_name = "ID")]
    pub agent: Option<String>,
    /// Only turns that ended at or after this day (YYYY-MM-DD, UTC) or time (RFC 3339)
    #[arg(long, value_name = "DATE", value_parser = parse_since)]
    pub since: Option<u64>,
    /// Read the store and say what would be sent; send nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Turns sent between two waits for delivery (each wait records the progress)
    #[arg(long, value_name = "N", default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..))]
    pub chunk: u64,
}

/// `2026-11-01` (midnight UTC) or `2026-11-01T08:00:00Z`, as milliseconds since the epoch.
fn parse_since(text: &str) -> Result<u64, String> {
    let at = time::OffsetDateTime::parse(text, &Rfc3339)
        .or_else(|_| time::OffsetDateTime::parse(&format!("{text}T00:00:00Z"), &Rfc3339))
        .map_err(|_| format!("{text:?} is not a date (YYYY-MM-DD) or an RFC 3339 time"))?;
    Ok((at.unix_timestamp_nanos() / 1_000_000).max(0) as u64)
}

/// What the store holds for this destination, before anything is sent.
#[derive(Default)]
struct Plan {
    agents: usize,
    sessions: Vec<(turns::Session, Vec<turns::Turn>)>,
    turns: u64,
    already_delivered: u64,
    before_since: u64,
    unfinished: u64,
    unreadable_entries: u64,
}

fn plan(o: &BackfillOptions, resume: &Resume, log: &dyn Fn(LogLevel, &str)) -> Result<Plan, String> {
    let stores = store::agent_stores(&o.state_dir, o.agent.as_deref())?;
    if stores.is_empty() {
        return Err(format!(
            "no agent store (agents/<id>/agent/openclaw-agent.sqlite) under {}",
            o.state_dir.display()
        ));
    }
    let mut plan = Plan { agents: stores.len(), ..Plan::default() };
    for store in &stores {
        for session in store.sessions()? {
            let through = resume.delivered_through(&session.session_id);
            let mut bad = |line: String| {
                plan.unreadable_entries += 1;
                log(LogLevel::Warn, &format!("backfill: skipped an unreadable entry: {line}"));
            };
            // All entries: turns are found from the start, and a delivered one is skipped whole.
            let entries = store.transcript(&session.session_id, &mut bad)?;
            let mut keep = Vec::new();
            for turn in turns::turns(&session, &entries) {
                if turn.last_seq <= through {
                    plan.already_delivered += 1;
                } else if !turn.finished {
                    plan.unfinished += 1;
                } else if o.since.is_some_and(|since| turn.ended_ms < since) {
                    plan.before_since += 1;
                } else {
                    keep.push(turn);
                }
            }
            plan.turns += keep.len() as u64;
            if !keep.is_empty() {
                plan.sessions.push((session, keep));
            }
        }
    }
    Ok(plan)
}

/// Traces the plugin is done with: delivered, refused or dropped. MLflow's counters, else the
/// `otlp` endpoint's for a configuration that exports there only; with both, the one further on
/// (the other's traces wait in its spool, and the host's stop waits for them within its budget).
fn settled(s: &PluginStats) -> u64 {
    let extra = |name| s.extra(name).unwrap_or(0);
    let mlflow = s.exported + s.failed;
    let otlp = extra("otlp_traces_exported") + extra("otlp_traces_failed") + extra("otlp_traces_sampled_out");
    mlflow.max(otlp) + extra("traces_dropped")
}

/// Backfills into the plugins `host` started (None with `--dry-run`); `destination` is the plugin's
/// settings, which key the progress record.
pub fn run(
    host: Option<&Host>,
    o: &BackfillOptions,
    destination: &Value,
    log: &dyn Fn(LogLevel, &str),
) -> Result<(), String> {
    let mut resume = Resume::load(&o.state_dir, destination)?;
    let plan = plan(o, &resume, log)?;
    let left_out = format!(
        "{} already delivered by an earlier backfill, {} unfinished (no final answer yet), {} before --since, {} unreadable entries",
        plan.already_delivered, plan.unfinished, plan.before_since, plan.unreadable_entries
    );
    let (Some(host), false) = (host, o.dry_run) else {
        println!(
            "backfill (dry run): {} turns in {} sessions of {} agent(s) would be sent; left out: {left_out}",
            plan.turns,
            plan.sessions.len(),
            plan.agents
        );
        return Ok(());
    };
    let plugin = host.plugins.plugins.iter().find(|p| p.id == "mlflow").ok_or(
        "the mlflow plugin is not running: is diagnostics.mlflow.enabled true and the plugin in the plugins directory?",
    )?;
    let delivered = || settled(&plugin.stats());

    let started = Instant::now();
    let base = delivered();
    let progress = Progress::new(plan.turns);
    let mut sent = 0u64;
    let mut pending: Vec<(String, i64)> = Vec::new();
    for (session, turns) in &plan.sessions {
        for turn in turns {
            turn.events.iter().for_each(|e| host.dispatch(e));
            sent += 1;
            pending.push((session.session_id.clone(), turn.last_seq));
            if sent.is_multiple_of(o.chunk) {
                wait_delivered(&delivered, base, sent, &progress)?;
                pending.drain(..).for_each(|(session, seq)| resume.mark(&session, seq));
                resume.save()?;
            }
        }
    }
    wait_delivered(&delivered, base, sent, &progress)?;
    pending.drain(..).for_each(|(session, seq)| resume.mark(&session, seq));
    resume.save()?;
    progress.finish();

    let secs = started.elapsed().as_secs_f64();
    let stats = plugin.stats();
    println!(
        "backfill: {sent} turns from {} sessions of {} agent(s) sent in {secs:.1} s ({:.0} turns/s); {} traces refused by the server; left out: {left_out}; progress recorded in {}",
        plan.sessions.len(),
        plan.agents,
        sent as f64 / secs.max(1e-3),
        stats.failed,
        resume.path().display()
    );
    Ok(())
}

/// How long the server may take no trace at all before the backfill stops (what was sent stays in
/// the plugin's spool, and the next backfill resumes after what was delivered).
const NO_PROGRESS_LIMIT: Duration = Duration::from_secs(60);

/// Waits until the plugin has delivered (or given up on) everything sent: `base + sent` in its counts.
fn wait_delivered(delivered: &dyn Fn() -> u64, base: u64, sent: u64, progress: &Progress) -> Result<(), String> {
    let mut last = (delivered(), Instant::now());
    loop {
        let now = delivered();
        progress.delivered(now.saturating_sub(base).min(sent));
        if now >= base + sent {
            return Ok(());
        }
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > NO_PROGRESS_LIMIT {
            return Err(format!(
                "MLflow took no trace for {} s; stopped after {} of {sent} sent turns were delivered. The rest wait in the \
                 plugin's spool; run backfill again to resume",
                NO_PROGRESS_LIMIT.as_secs(),
                now.saturating_sub(base)
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Turns delivered so far: a bar with counts and rate on a terminal, a plain line every 5 s otherwise.
struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    started: Instant,
    last_line: std::cell::Cell<Instant>,
}

impl Progress {
    fn new(total: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            let style = ProgressStyle::with_template("backfill {bar:40} {pos}/{len} turns  {per_sec}  eta {eta}")
                .expect("a valid template");
            bar.set_style(style);
            bar
        });
        Progress { bar, total, started: Instant::now(), last_line: std::cell::Cell::new(Instant::now()) }
    }

    fn delivered(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(n);
        } else if self.last_line.get().elapsed() >= Duration::from_secs(5) {
            self.last_line.set(Instant::now());
            let rate = n as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
            eprintln!("backfill: {n}/{} turns delivered ({rate:.0} turns/s)", self.total);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
