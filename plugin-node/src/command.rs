//! `openclaw mlflow spool …` in the gateway's CLI: a plugin's own operator command (the words
//! after `mlflow`), run off the JavaScript thread with the gateway's configuration, as `doctor` is.

use napi::{Env, Task};
use std::path::Path;

pub struct PluginCommand {
    pub plugins_dir: String,
    pub config_json: String,
    pub args: Vec<String>,
}

impl Task for PluginCommand {
    type Output = String;
    type JsValue = String;

    /// The command's output; its error (or a panic) becomes a rejected promise with the message.
    fn compute(&mut self) -> napi::Result<String> {
        let run = || {
            let config: serde_json::Value = serde_json::from_str(&self.config_json)
                .map_err(|e| format!("the gateway's configuration is not JSON: {e}"))?;
            let host = crate::doctor::host_handle();
            openclaw_plugin_host::command::run(
                Path::new(&self.plugins_dir),
                &config,
                &self.args,
                host,
                &|level, line| host.write(level, line),
            )
        };
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
            .unwrap_or_else(|_| Err("the command panicked; please report it with this output".into()))
            .map_err(napi::Error::from_reason)
    }

    fn resolve(&mut self, _env: Env, output: String) -> napi::Result<String> {
        Ok(output)
    }
}
