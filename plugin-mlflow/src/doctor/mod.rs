//! `doctor`: the plugin's troubleshooting, run by the host's `doctor` command (`openclaw-host
//! doctor`, `openclaw mlflow doctor` in the gateway) for the settings it would start with. The
//! checks go in the order an operator would: the settings, then reaching the server (`reach`),
//! then what the server says (`server`), then a real turn through the plugin's own pipeline
//! (`test_trace`). A check whose premise failed is skipped, naming what it needed. Last, on its
//! own, the spool on this machine (`spool_admin`).
//!
//! Read-only on the server except for the test turns (and the experiment, created by name when
//! missing, as the plugin would); credentials are never printed.

mod reach;
mod server;
mod test_trace;

use crate::config::{Config, Env};
use crate::exporter::mlflow_rest::MlflowRest;
use crate::exporter::transport::{agent, MlflowScope, TraceEndpoint};
use crate::log::Log;
use openclaw_plugin_api::{DoctorCheck, Verdict};
use std::time::{Duration, SystemTime};

/// The checks after the settings, in order, skipped from the first failure on: each needs the
/// ones before it.
const MLFLOW_CHECKS: [&str; 13] = [
    "tracking URI",
    "TCP connection",
    "TLS",
    "HTTP",
    "credentials",
    "workspace",
    "MLflow version",
    "backend store",
    "experiment",
    "permission",
    "test trace",
    "clock skew",
    "cost estimation",
];

pub fn run(config_json: &str, env: &dyn Env, log: Log) -> Vec<DoctorCheck> {
    let config = match Config::parse(config_json, env) {
        Ok(config) => config,
        Err(e) => {
            let mut checks =
                vec![DoctorCheck::fail("settings", e, "correct that key (the README's Configuration lists each one)")];
            checks.extend(MLFLOW_CHECKS.iter().map(|name| DoctorCheck::skip(name, "valid settings")));
            checks.push(DoctorCheck::skip("spool", "valid settings"));
            return checks;
        }
    };
    let mut checks = vec![DoctorCheck::pass("settings", settings_summary(&config))];
    match config.destination.tracking_uri.clone() {
        Some(uri) => mlflow(&config, &uri, log, &mut checks),
        None => checks
            .push(DoctorCheck::pass("tracking URI", "none: traces go to the otlp endpoint only (not checked here)")),
    }
    // Local, whatever the server said: what waits on this machine, and for whom.
    checks.push(crate::spool_admin::doctor_check(&config));
    checks
}

fn settings_summary(config: &Config) -> String {
    let to = &config.destination;
    format!(
        "every key valid; trackingUri {}, experiment {}, {}",
        to.tracking_uri.as_deref().unwrap_or("(none)"),
        match &to.experiment {
            crate::config::ExperimentRef::Id(id) => format!("ID {id}"),
            crate::config::ExperimentRef::Name(name) => format!("{name:?}"),
        },
        server::who(&to.auth)
    )
}

/// Pushes each MLflow check in turn; at the first failure, the rest are skipped naming it.
fn mlflow(config: &Config, uri: &str, log: Log, checks: &mut Vec<DoctorCheck>) {
    let mut steps = Steps { checks, failed: None };
    let to = &config.destination;
    let timeout = to.request_timeout;
    let target = match reach::target(uri) {
        Ok(t) => t,
        Err(e) => {
            return steps.fail_rest(DoctorCheck::fail("tracking URI", e, "write trackingUri as http(s)://host:port"))
        }
    };
    let addrs = match reach::resolve("tracking URI", &target) {
        Ok((check, addrs)) => {
            steps.push(check);
            addrs
        }
        Err(check) => return steps.fail_rest(check),
    };
    if !steps.push(reach::connect(&target, &addrs, timeout.min(Duration::from_secs(5)))) {
        return steps.fail_rest_after();
    }
    let http = match agent(timeout, &to.tls) {
        Ok(a) => a,
        Err(e) => return steps.fail_rest(DoctorCheck::fail("TLS", e, "correct caBundle")),
    };
    let scope = MlflowScope::new(to);
    let rest = MlflowRest::new(http.clone(), uri, scope.clone());
    let asked = SystemTime::now();
    let health = rest.without_workspace().get_raw("/health");
    let answered = SystemTime::now();
    let health = match health {
        Err(e) if target.https && reach::is_tls_error(&e) => {
            let text = e.to_string();
            return steps.fail_rest(DoctorCheck::fail(
                "TLS",
                format!("handshake with {}:{} failed: {text}", target.host, target.port),
                reach::tls_fix(&text),
            ));
        }
        Err(e) => {
            steps.push(tls_verdict(&target, to));
            return steps.fail_rest(DoctorCheck::fail(
                "HTTP",
                format!("GET /health: {e}"),
                "check that the URL's port is MLflow's (mlflow server --port)",
            ));
        }
        Ok(reply) => reply,
    };
    steps.push(tls_verdict(&target, to));
    let http_check = match health.status {
        200 => DoctorCheck::pass("HTTP", "GET /health answered 200"),
        401 | 403 => {
            DoctorCheck::pass("HTTP", format!("GET /health answered {} (the server wants credentials)", health.status))
        }
        status => DoctorCheck::fail(
            "HTTP",
            format!("GET /health answered {status}: {}", server::first_line(&health.body)),
            "this URL is not an MLflow server's root: check the host, port and that there is no path after it",
        ),
    };
    if !steps.push(http_check)
        || !steps.push(server::credentials(&rest, &to.auth, scope.workspace()))
        || !steps.push(server::workspace(&rest, scope.workspace()))
    {
        return steps.fail_rest_after();
    }
    let mut traces = TraceEndpoint::mlflow(http, uri, &scope);
    traces.set_header("x-mlflow-experiment-id", "0".into());
    let (version, release) = server::version(&rest, &traces);
    let server_ok = steps.push(version) & steps.push(server::backend(&rest));
    steps.checks.extend(release.and_then(server::shown));
    let (experiment, experiment_id) = server::experiment(&rest, &to.experiment);
    let experiment_ok = steps.push(experiment);
    let permission = match experiment_ok {
        true => server::permission(&rest, &mut traces, experiment_id.as_deref(), &to.auth),
        false => DoctorCheck::skip("permission", "a usable experiment"),
    };
    let permission_ok = steps.push(permission);
    let clock = server::clock(health.date.as_deref(), asked, answered);
    if server_ok && experiment_ok && permission_ok {
        let mut trace_checks = test_trace::send_and_read_back(config, &rest, log).into_iter();
        steps.checks.extend(trace_checks.next());
        steps.checks.push(clock);
        steps.checks.extend(trace_checks);
    } else {
        steps.checks.push(DoctorCheck::skip(
            "test trace",
            "a server that takes traces, a usable experiment and the permission to write to it",
        ));
        steps.checks.push(clock);
        steps.checks.push(DoctorCheck::skip("cost estimation", "the test trace"));
    }
}

fn tls_verdict(target: &reach::Target, to: &crate::config::Destination) -> DoctorCheck {
    match (target.https, to.tls.insecure_skip_verify) {
        (false, _) if to.mlflow_credentials_in_clear() => DoctorCheck::warn(
            "TLS",
            format!("not used (http://): the credentials and the conversations go to {} in clear text", target.host),
            "serve MLflow over https:// (behind a TLS-terminating proxy or ingress; caBundle for a private CA)",
        ),
        (false, _) => DoctorCheck::pass("TLS", "not used (http://): credentials and content travel in clear text"),
        (true, false) => DoctorCheck::pass("TLS", "handshake done, certificate verified"),
        (true, true) => DoctorCheck::warn(
            "TLS",
            "handshake done, certificate NOT verified (insecureSkipVerify: true)",
            "trust the server's CA with caBundle and remove insecureSkipVerify",
        ),
    }
}

/// The checks so far and the first that failed.
struct Steps<'a> {
    checks: &'a mut Vec<DoctorCheck>,
    failed: Option<String>,
}

impl Steps<'_> {
    /// Adds `check`; whether it passed (a warning passes).
    fn push(&mut self, check: DoctorCheck) -> bool {
        let passed = matches!(check.verdict, Verdict::Pass | Verdict::Warn);
        if !passed && self.failed.is_none() {
            self.failed = Some(check.name.to_string());
        }
        self.checks.push(check);
        passed
    }

    /// Adds the failed `check`, then every check after it, skipped.
    fn fail_rest(&mut self, check: DoctorCheck) {
        self.push(check);
        self.fail_rest_after();
    }

    /// Every check after the last one added, skipped because of the first failure.
    fn fail_rest_after(&mut self) {
        let needs = self.failed.clone().unwrap_or_default();
        let done = self.checks.last().map(|c| c.name.to_string()).unwrap_or_default();
        let rest = MLFLOW_CHECKS.iter().skip_while(|n| **n != done).skip(1);
        let skipped: Vec<DoctorCheck> = rest.map(|name| DoctorCheck::skip(name, &needs)).collect();
        self.checks.extend(skipped);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No environment: the settings are the file's alone.
    struct NoEnv;
    impl Env for NoEnv {
        fn var(&self, _: &str) -> Option<String> {
            None
        }
    }

    #[test]
    fn credentials_over_plain_http_to_another_machine_are_a_tls_warning() {
        let verdict = |uri: &str, extra: &str| {
            let config = Config::parse(&format!(r#"{{"trackingUri": "{uri}"{extra}}}"#), &NoEnv).unwrap();
            tls_verdict(&reach::target(uri).unwrap(), &config.destination).verdict
        };
        assert_eq!(verdict("http://mlflow.mlflow.svc:5000", r#", "trackingToken": "t""#), Verdict::Warn);
        assert_eq!(verdict("http://mlflow.mlflow.svc:5000", ""), Verdict::Pass);
        assert_eq!(verdict("http://127.0.0.1:5000", r#", "trackingToken": "t""#), Verdict::Pass);
    }
}
