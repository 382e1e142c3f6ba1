//! `openclaw-host`: a host that loads OpenClaw plugins from a plugins directory the way the gateway
//! does, and drives them with a built-in demo, a replay of a recorded OpenClaw run, or a load test.

mod backfill;
mod bench;
mod config;
mod demo;
mod doctor;
mod logger;
mod private_file;

use clap::{Args, Parser, Subcommand};
use openclaw_plugin_api::{LogLevel, OwnedEvent};
use openclaw_plugin_host::openclaw::payload::Capture;
use openclaw_plugin_host::PluginSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Loads OpenClaw plugins from a plugins directory the way the gateway does, and drives them.
#[derive(Parser)]
#[command(name = "openclaw-host", version)]
pub struct Options {
    #[command(subcommand)]
    pub command: Command,
    /// openclaw.json [default: $OPENCLAW_CONFIG_PATH, else ~/.openclaw/openclaw.json]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Where plugin libraries are [default: ~/.openclaw/plugins]
    #[arg(long, global = true, value_name = "DIR")]
    pub plugins_dir: Option<PathBuf>,
    /// Budget for flush + shutdown at exit (OpenClaw's gateway_stop budget)
    #[arg(long, global = true, value_name = "MS", default_value_t = 5000)]
    pub shutdown_ms: u64,
    /// Show debug lines (or OPENCLAW_LOG_LEVEL=debug)
    #[arg(long, global = true)]
    pub verbose: bool,
    /// Keep running this long after the last hook call before stopping, like a gateway
    #[arg(long, global = true, value_name = "MS", default_value_t = 0)]
    pub linger_ms: u64,
}

#[derive(Subcommand)]
pub enum Command {
    /// A built-in scenario: several sessions and agents, tools, a failure, a subagent
    Demo {
        /// Also write every hook call made, as JSON lines (for checks)
        #[arg(long, value_name = "FILE")]
        events_out: Option<PathBuf>,
    },
    /// Drive the plugins from a JSONL recording (OpenClaw hooks.jsonl format)
    Replay {
        file: PathBuf,
        /// Also write every hook call made, as JSON lines (for checks)
        #[arg(long, value_name = "FILE")]
        events_out: Option<PathBuf>,
        /// Move the recording's times so that its last event is now (kept as recorded otherwise):
        /// an old recording then shows in MLflow's default "Last 7 days" view
        #[arg(long)]
        shift_to_now: bool,
    },
    /// Past conversations from OpenClaw's store (read-only) into MLflow, each turn as the live
    /// plugin would have sent it; resumable, and never duplicates a turn
    Backfill(backfill::BackfillOptions),
    /// Concurrent sessions on several threads; hook latency per kind and events/s
    Bench(BenchOptions),
    /// Load and start the plugins, report what they provide, stop them
    Check,
    /// Troubleshooting: the config file, each plugin's settings, then the plugin's own checks
    /// (for mlflow: the server reached, credentials, version, backend, experiment, a test trace
    /// read back, clock skew, cost estimation); exit status 0 only when all pass
    Doctor {
        /// The report as JSON, for scripts
        #[arg(long)]
        json: bool,
    },
    /// What waits in the mlflow plugin's spool and for which experiment. A gateway delivers only
    /// what was spooled for its own experiment; what waits for another is sent after `move` or
    /// deleted by `discard`
    Spool {
        #[command(subcommand)]
        action: Option<SpoolAction>,
    },
}

#[derive(Subcommand)]
pub enum SpoolAction {
    /// What waits, for which experiment, and whether it is sent at the next start (the default)
    List,
    /// Make what waits for other experiments this configuration's: sent at the gateway's next start
    Move {
        /// Only what waits for this experiment (its name or ID)
        #[arg(long, value_name = "NAME|ID")]
        experiment: Option<String>,
    },
    /// Delete what waits for another experiment
    Discard {
        /// What waits for this experiment (its name or ID)
        #[arg(long, value_name = "NAME|ID", required_unless_present = "all")]
        experiment: Option<String>,
        /// What waits for every other experiment
        #[arg(long, conflicts_with = "experiment")]
        all: bool,
    },
}

impl SpoolAction {
    /// The words of the plugin's `spool` command.
    fn words(action: &Option<SpoolAction>) -> Vec<String> {
        let mut words = vec!["spool".to_string()];
        let experiment = |words: &mut Vec<String>, e: &Option<String>| {
            if let Some(e) = e {
                words.extend(["--experiment".to_string(), e.clone()]);
            }
        };
        match action {
            None | Some(SpoolAction::List) => words.push("list".into()),
            Some(SpoolAction::Move { experiment: e }) => {
                words.push("move".into());
                experiment(&mut words, e);
            }
            Some(SpoolAction::Discard { experiment: e, all }) => {
                words.push("discard".into());
                experiment(&mut words, e);
                if *all {
                    words.push("--all".into());
                }
            }
        }
        words
    }
}

#[derive(Args)]
pub struct BenchOptions {
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub sessions: usize,
    /// Messages per session
    #[arg(long, value_name = "M", default_value_t = 20)]
    pub messages: usize,
    #[arg(long, value_name = "T", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: u16,
    /// Messages per second in all (0: as fast as the threads go)
    #[arg(long, value_name = "R", default_value_t = 0)]
    pub rate: u64,
    /// Stamp each message so that it ends when its `message_end` is called (wall-clock times, for
    /// measuring how soon a trace is searchable); by default messages are laid out 2 s apart
    #[arg(long)]
    pub live: bool,
    /// Put this name in the runs' and sessions' ids, so that several hosts sending to one experiment
    /// (several gateways) send turns of their own rather than the same ones
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

/// The started plugins.
pub struct Host {
    pub plugins: PluginSet,
}

impl Host {
    /// Starts the plugins in `--plugins-dir` with `config` (`openclaw.json`, read from `config_path`).
    fn start(o: &Options, config_path: &Path, config: &serde_json::Value) -> Host {
        let dir = config::plugins_dir(o.plugins_dir.as_deref());
        logger::host(LogLevel::Info, &format!("config {}; plugins from {}", config_path.display(), dir.display()));
        Host { plugins: PluginSet::start(&dir, config, logger::host_handle(), &logger::host) }
    }

    pub fn dispatch(&self, event: &OwnedEvent) {
        self.plugins.dispatch(event);
    }

    /// Flush and shut down within `budget_ms` in all; print each plugin's stats as a JSON line on
    /// stdout (`STATS {...}`), which scripts and tests read.
    fn stop(&self, budget_ms: u64) {
        for (plugin, result) in self.plugins.stop(budget_ms, &logger::host) {
            if let Err(e) = result {
                logger::host(LogLevel::Warn, &format!("plugin {} shutdown: {e}", plugin.id));
            }
            println!("STATS {}", openclaw_plugin_host::plugin_set::stats_json(plugin));
        }
    }
}

/// Dispatches `events` in order, after writing them to `events_out` if asked.
fn drive(host: &Host, events_out: Option<&Path>, what: &str, events: Vec<OwnedEvent>) -> Result<(), String> {
    if let Some(path) = events_out {
        let lines: Vec<String> =
            events.iter().map(serde_json::to_string).collect::<Result<_, _>>().map_err(|e| e.to_string())?;
        let lines: String = lines.into_iter().map(|line| line + "\n").collect();
        private_file::write(path, lines).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    logger::host(LogLevel::Info, &format!("{what}: {} hook calls", events.len()));
    events.iter().for_each(|e| host.dispatch(e));
    Ok(())
}

/// `events` with every time moved by the same amount, so that the last one is `now_ms` (durations
/// are relative and stay as they are).
fn shifted_to(now_ms: u64, mut events: Vec<OwnedEvent>) -> Vec<OwnedEvent> {
    let last = events.iter().map(|e| e.ctx.ts_ms).max().unwrap_or(now_ms);
    let delta = now_ms as i128 - last as i128;
    for e in &mut events {
        e.ctx.ts_ms = (e.ctx.ts_ms as i128 + delta).max(0) as u64;
    }
    events
}

/// The settings the mlflow plugin is started with (the section the host gives it), which say where
/// its traces go: a backfill's progress is recorded per destination.
fn mlflow_settings(config: &serde_json::Value) -> serde_json::Value {
    match openclaw_plugin_host::settings::plugin_settings(config, "mlflow") {
        openclaw_plugin_host::settings::PluginSettings::Enabled { section, .. } => section,
        openclaw_plugin_host::settings::PluginSettings::Disabled(_) => serde_json::Value::Null,
    }
}

fn main() -> ExitCode {
    let o = Options::parse();
    if let Err(e) = logger::init(o.verbose, matches!(o.command, Command::Doctor { .. })) {
        eprintln!("openclaw-host: {e}");
        return ExitCode::from(2);
    }
    let config_path = config::config_path(o.config.as_deref());
    // The doctor reports a bad file as a failed check rather than stopping at it.
    if let Command::Doctor { json } = o.command {
        let plugins_dir = config::plugins_dir(o.plugins_dir.as_deref());
        return doctor::run(&config_path, &plugins_dir, json);
    }
    let config = match config::load(&config_path) {
        Ok(config) => config,
        Err(e) => {
            logger::host(LogLevel::Error, &e);
            return ExitCode::from(2);
        }
    };
    // A plugin's own command runs without starting the plugins.
    if let Command::Spool { action } = &o.command {
        let plugins_dir = config::plugins_dir(o.plugins_dir.as_deref());
        let words = SpoolAction::words(action);
        return match openclaw_plugin_host::command::run(
            &plugins_dir,
            &config,
            &words,
            logger::host_handle(),
            &logger::host,
        ) {
            Ok(output) => {
                println!("{}", output.trim_end());
                ExitCode::SUCCESS
            }
            Err(e) => {
                logger::host(LogLevel::Error, &e);
                ExitCode::from(1)
            }
        };
    }
    // A dry run reads the store only: no plugin is started.
    if let Command::Backfill(b) = &o.command {
        if b.dry_run {
            return match backfill::run(None, b, &mlflow_settings(&config), &logger::host) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    logger::host(LogLevel::Error, &e);
                    ExitCode::from(1)
                }
            };
        }
    }
    let host = Host::start(&o, &config_path, &config);
    let result = match &o.command {
        Command::Demo { events_out } => drive(&host, events_out.as_deref(), "demo", demo::scenario(demo::now_ms())),
        Command::Replay { file, events_out, shift_to_now } => std::fs::read_to_string(file)
            .map_err(|e| format!("{}: {e}", file.display()))
            .and_then(|recording| openclaw_plugin_host::translate_recording(&recording, Capture::from_config(&config)))
            .map(|events| if *shift_to_now { shifted_to(demo::now_ms(), events) } else { events })
            .and_then(|events| drive(&host, events_out.as_deref(), &format!("replay {}", file.display()), events)),
        Command::Backfill(b) => backfill::run(Some(&host), b, &mlflow_settings(&config), &logger::host),
        Command::Bench(bench) => bench::run(&host, bench),
        Command::Check | Command::Doctor { .. } | Command::Spool { .. } => Ok(()),
    };
    if o.linger_ms > 0 {
        std::thread::sleep(std::time::Duration::from_millis(o.linger_ms));
    }
    host.stop(o.shutdown_ms);
    match result {
        Err(e) => {
            logger::host(LogLevel::Error, &e);
            ExitCode::from(1)
        }
        Ok(()) if host.plugins.start_failed => ExitCode::from(1),
        Ok(()) => ExitCode::SUCCESS,
    }
}
