//! The second layer: the environment variables MLflow's and OpenTelemetry's own clients read, for
//! settings the file leaves unset. Each value keeps its source, so that validation names the
//! variable (or the file's key) that holds a bad value.

use super::validate::{percent_decode, Given, Source};
use serde_json::Value;

/// Where settings that the file leaves unset come from; a trait so tests need not touch the
/// process environment.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

/// The file's value of `key` if set, else the variable's (as a string).
pub fn file_or_env(file: Option<Value>, key: &'static str, env: &dyn Env, var: &'static str) -> Option<Given> {
    Given::file(file, key).or_else(|| from_env(env, var))
}

pub fn from_env(env: &dyn Env, var: &'static str) -> Option<Given> {
    env.var(var).map(|v| Given { value: Value::String(v), source: Source::Env(var) })
}

/// `OTEL_EXPORTER_OTLP_HEADERS`: `key=value,key2=value2`, values percent-encoded.
pub fn otel_headers(text: &str) -> Result<Vec<(String, String)>, String> {
    text.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), percent_decode(v.trim()))),
            _ => Err("OTEL_EXPORTER_OTLP_HEADERS: expected key=value pairs separated by commas".to_string()),
        })
        .collect()
}

/// The sample rate from `OTEL_TRACES_SAMPLER`/`_ARG` (the ratio samplers; `always_on`/`off`).
pub fn otel_sample_rate(env: &dyn Env) -> Result<Option<f64>, String> {
    let Some(sampler) = env.var("OTEL_TRACES_SAMPLER") else { return Ok(None) };
    let arg = || -> Result<f64, String> {
        match env.var("OTEL_TRACES_SAMPLER_ARG") {
            None => Ok(1.0),
            Some(a) => a
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| format!("OTEL_TRACES_SAMPLER_ARG: expected a number from 0 to 1, got {a:?}")),
        }
    };
    match sampler.trim() {
        "always_on" | "parentbased_always_on" => Ok(Some(1.0)),
        "always_off" | "parentbased_always_off" => Ok(Some(0.0)),
        "traceidratio" | "parentbased_traceidratio" => arg().map(Some),
        other => Err(format!(
            "OTEL_TRACES_SAMPLER: expected always_on, always_off, traceidratio or parentbased_traceidratio, got {other:?}"
        )),
    }
}
