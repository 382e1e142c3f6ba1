//! `openclaw-host doctor`: the config file (found, JSON5), then the checks every host shares
//! (`openclaw_plugin_host::doctor`: the hook permission, each plugin's settings and its own checks),
//! printed as text or JSON; exit status 0 only when every check passes.

use crate::{config, logger};
use openclaw_plugin_api::DoctorCheck;
use openclaw_plugin_host::doctor::{all_pass, checks as host_checks, report_json, report_text};
use std::path::Path;
use std::process::ExitCode;

pub fn run(config_path: &Path, plugins_dir: &Path, json: bool) -> ExitCode {
    let checks = checks(config_path, plugins_dir);
    if json {
        println!("{}", report_json(&checks));
    } else {
        print!("{}", report_text(&checks));
    }
    if all_pass(&checks) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn checks(config_path: &Path, plugins_dir: &Path) -> Vec<DoctorCheck> {
    const NAME: &str = "config file";
    let fix = "name the gateway's openclaw.json with --config (or OPENCLAW_CONFIG_PATH)";
    if !config_path.is_file() {
        return vec![
            DoctorCheck::fail(NAME, format!("no file at {}", config_path.display()), fix),
            DoctorCheck::skip("plugin checks", "a config file"),
        ];
    }
    let config = match config::load(config_path) {
        Ok(config) => config,
        Err(e) => {
            return vec![
                DoctorCheck::fail(
                    NAME,
                    e,
                    "correct the syntax there (openclaw.json is JSON5: comments and trailing commas are fine)",
                ),
                DoctorCheck::skip("plugin checks", "a readable config file"),
            ]
        }
    };
    let read = DoctorCheck::pass(NAME, format!("{} (JSON5) read", config_path.display()));
    host_checks(read, &config, plugins_dir, logger::host_handle(), &logger::host)
}
