//! `openclaw mlflow doctor` in the gateway's CLI: the checks every host shares, run off the
//! JavaScript thread (they wait on the network). OpenClaw has already read and validated the
//! configuration against the package's schema, so the file's own checks are its.

use napi::{Env, Task};
use napi_derive::napi;
use openclaw_plugin_api::abi_stable::prefix_type::PrefixTypeTrait;
use openclaw_plugin_api::abi_stable::std_types::RStr;
use openclaw_plugin_api::{contain_host_panic, DoctorCheck, HostHandle, HostHandleRef, LogLevel};
use openclaw_plugin_host::doctor::{all_pass, checks as host_checks, report_json, report_text};
use std::io::Write;
use std::path::Path;

#[napi(object)]
pub struct DoctorReport {
    /// Every check passed (warnings pass).
    pub ok: bool,
    /// `{"ok", "checks": [{name, verdict, detail, fix}]}`, for `--json`.
    pub json: String,
    /// One line per check, for a terminal.
    pub text: String,
}

pub struct Doctor {
    pub plugins_dir: String,
    pub config_json: String,
}

/// A CLI command's plugins log straight to stderr (no gateway logger to hand lines to), warnings
/// and errors only: the report is the output.
extern "C" fn to_stderr(level: LogLevel, line: RStr<'_>) {
    contain_host_panic(|| {
        let _ = writeln!(std::io::stderr().lock(), "[mlflow] {}: {}", level.as_str(), line.as_str());
    });
}

pub(crate) fn host_handle() -> HostHandleRef {
    HostHandle { max_log_level: LogLevel::Warn, log: to_stderr }.leak_into_prefix()
}

fn checks(plugins_dir: &Path, config_json: &str) -> Vec<DoctorCheck> {
    let config: serde_json::Value = match serde_json::from_str(config_json) {
        Ok(config) => config,
        Err(e) => {
            return vec![DoctorCheck::fail("config file", format!("the gateway's configuration is not JSON: {e}"), "")]
        }
    };
    let host = host_handle();
    let read = DoctorCheck::pass("config file", "read and validated by OpenClaw");
    host_checks(read, &config, plugins_dir, host, &|level, line| host.write(level, line))
}

impl Task for Doctor {
    type Output = DoctorReport;
    type JsValue = DoctorReport;

    fn compute(&mut self) -> napi::Result<DoctorReport> {
        let run = || {
            let checks = checks(Path::new(&self.plugins_dir), &self.config_json);
            DoctorReport { ok: all_pass(&checks), json: report_json(&checks).to_string(), text: report_text(&checks) }
        };
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
            .map_err(|_| napi::Error::from_reason("the MLflow doctor panicked; please report it with this output"))
    }

    fn resolve(&mut self, _env: Env, output: DoctorReport) -> napi::Result<DoctorReport> {
        Ok(output)
    }
}
