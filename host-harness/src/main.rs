//! `openclaw-host`: a host that loads OpenClaw plugins from a plugins directory the way the gateway
//! does, and drives them with a built-in demo, a replay of a recorded OpenClaw run, or a load test.

mod bench;
mod config;
mod demo;
mod logger;

use openclaw_plugin_api::LogLevel;
use openclaw_plugin_host::{host_event, PluginSet};
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: openclaw-host <command> [options]

commands:
  demo                 a built-in scenario: several sessions and agents, tools, a failure, a subagent
  replay FILE          drive the plugins from a JSONL recording (OpenClaw hooks.jsonl format)
  bench                concurrent sessions on several threads; hook latency per kind and events/s
  check                load and start the plugins, report what they provide, stop them

options:
  --config PATH        openclaw.json (default: $OPENCLAW_CONFIG_PATH, else ~/.openclaw/openclaw.json)
  --plugins-dir DIR    where plugin libraries are (default: ~/.openclaw/plugins)
  --shutdown-ms N      budget for flush + shutdown at exit (default 5000, OpenClaw's gateway_stop budget)
  --verbose            show debug lines (or OPENCLAW_LOG_LEVEL=debug)
  --events-out FILE    demo, replay: also write every hook call made, as JSON lines (for checks)
  --linger-ms N        keep running N ms after the last hook call before stopping, like a gateway
  bench: --sessions N (default 100) --messages M per session (default 20) --threads T (default 4)
         --rate R messages per second in all (default 0: as fast as the threads go)
";

pub struct Options {
    pub command: String,
    pub file: Option<PathBuf>,
    pub config: Option<PathBuf>,
    pub plugins_dir: Option<PathBuf>,
    pub shutdown_ms: u64,
    pub verbose: bool,
    pub sessions: usize,
    pub messages: usize,
    pub threads: usize,
    pub rate: u64,
    pub events_out: Option<PathBuf>,
    pub linger_ms: u64,
}

fn parse_args(args: Vec<String>) -> Result<Options, String> {
    let mut it = args.into_iter();
    let command = it.next().ok_or("missing command")?;
    let mut o = Options {
        command,
        file: None,
        config: None,
        plugins_dir: None,
        shutdown_ms: 5000,
        verbose: false,
        sessions: 100,
        messages: 20,
        threads: 4,
        rate: 0,
        events_out: None,
        linger_ms: 0,
    };
    fn number(flag: &str, v: Option<String>) -> Result<u64, String> {
        let v = v.ok_or(format!("{flag} needs a value"))?;
        v.parse().map_err(|_| format!("{flag} {v}: expected a non-negative integer"))
    }
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--config" => o.config = Some(it.next().ok_or("--config needs a path")?.into()),
            "--plugins-dir" => o.plugins_dir = Some(it.next().ok_or("--plugins-dir needs a path")?.into()),
            "--shutdown-ms" => o.shutdown_ms = number(&arg, it.next())?,
            "--sessions" => o.sessions = number(&arg, it.next())? as usize,
            "--messages" => o.messages = number(&arg, it.next())? as usize,
            "--threads" => o.threads = number(&arg, it.next())?.max(1) as usize,
            "--rate" => o.rate = number(&arg, it.next())?,
            "--verbose" => o.verbose = true,
            "--events-out" => o.events_out = Some(it.next().ok_or("--events-out needs a path")?.into()),
            "--linger-ms" => o.linger_ms = number(&arg, it.next())?,
            "-h" | "--help" => return Err(String::new()),
            other if !other.starts_with('-') && o.file.is_none() && o.command == "replay" => {
                o.file = Some(other.into())
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if o.command == "replay" && o.file.is_none() {
        return Err("replay needs a FILE".into());
    }
    Ok(o)
}

/// The started plugins.
pub struct Host {
    pub plugins: PluginSet,
}

impl Host {
    fn start(o: &Options) -> Result<Host, String> {
        let config_path = config::config_path(o.config.as_deref());
        let config = config::load(&config_path)?;
        let dir = config::plugins_dir(o.plugins_dir.as_deref());
        logger::host(LogLevel::Info, &format!("config {}; plugins from {}", config_path.display(), dir.display()));
        Ok(Host { plugins: PluginSet::start(&dir, &config, logger::host_handle(), &logger::host) })
    }

    pub fn dispatch(&self, event: &host_event::HostEvent) {
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

/// Dispatches `events` in order, after writing them to `--events-out` if asked.
fn drive(host: &Host, o: &Options, what: &str, events: Vec<host_event::HostEvent>) -> Result<(), String> {
    if let Some(path) = &o.events_out {
        let lines: String = events.iter().map(|e| e.to_json().to_string() + "\n").collect();
        std::fs::write(path, lines).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    logger::host(LogLevel::Info, &format!("{what}: {} hook calls", events.len()));
    events.iter().for_each(|e| host.dispatch(e));
    Ok(())
}

fn main() -> ExitCode {
    let o = match parse_args(std::env::args().skip(1).collect()) {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("openclaw-host: {e}");
            }
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = logger::init(o.verbose) {
        eprintln!("openclaw-host: {e}");
        return ExitCode::from(2);
    }
    let host = match Host::start(&o) {
        Ok(host) => host,
        Err(e) => {
            logger::host(LogLevel::Error, &e);
            return ExitCode::from(2);
        }
    };
    let result = match o.command.as_str() {
        "demo" => drive(&host, &o, "demo", demo::scenario(demo::now_ms())),
        "replay" => {
            let path = o.file.as_deref().expect("checked in parse_args");
            std::fs::read_to_string(path)
                .map_err(|e| format!("{}: {e}", path.display()))
                .and_then(|recording| openclaw_plugin_host::translate_recording(&recording))
                .and_then(|events| drive(&host, &o, &format!("replay {}", path.display()), events))
        }
        "bench" => bench::run(&host, &o),
        "check" => Ok(()),
        other => Err(format!("unknown command {other}")),
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
