//! The host and the plugin interface, without MLflow: loading, skipping, panics, old plugins,
//! and hooks that do not block.

use openclaw_plugin_tests::*;
use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;

fn demo_event_counts() -> (usize, usize) {
    // The demo's hook calls, all of them and those that exist in interface 0.1.0.
    let dir = scratch_dir("demo-events");
    let events = dir.join("events.jsonl");
    let run = run_host(&["demo", "--events-out", events.to_str().unwrap()], "{}", &plugins_dir(&[]));
    run.assert_success();
    let events = read_events(&events);
    let newer = ["session_start", "session_end", "subagent_spawned", "subagent_ended"];
    let old = events.iter().filter(|e| !newer.contains(&e["hook"].as_str().unwrap())).count();
    (events.len(), old)
}

#[test]
fn a_panicking_hook_is_reported_and_the_host_goes_on() {
    let plugins = plugins_dir(&[built(PANICKING_PLUGIN)]);
    let config = "{ plugins: { entries: { panicking: { config: { enabled: true } } } } }";
    let run = run_host(&["demo"], config, &plugins);
    run.assert_success();
    let (all, _) = demo_event_counts();
    let stats = run.stats("panicking");
    assert_eq!(stats["extra"]["panics_contained"], all as u64, "every hook panicked and was contained");
    assert!(
        run.stderr.contains("plugin panicked in on_message_start: deliberate panic in on_message_start"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("plugin panicked in on_subagent_ended"), "{}", run.stderr);
}

#[test]
fn a_plugin_built_against_interface_0_1_0_loads_and_gets_the_hooks_it_has() {
    let plugins = plugins_dir(&[built("libold_plugin.so")]);
    let config = r#"{ plugins: { entries: { "old-counter": { config: { enabled: true } } } } }"#;
    let run = run_host(&["demo"], config, &plugins);
    run.assert_success();
    assert!(
        run.stderr.contains("plugin old-counter predates hooks session_start, session_end, subagent_spawned, subagent_ended; they are skipped"),
        "{}",
        run.stderr
    );
    let (_, old_kinds) = demo_event_counts();
    let stats = run.stats("old-counter");
    assert_eq!(stats["accepted"], old_kinds as u64, "{stats}");
    assert_eq!(stats["extra"]["bad_context"], 0, "the old plugin read every context field it knows: {stats}");
    assert_eq!(stats["extra"]["message_start"], 6, "{stats}");
    assert!(stats["extra"]["prompt_bytes"].as_u64().unwrap() > 100, "prompts arrive intact: {stats}");
}

#[test]
fn the_doctor_says_a_plugin_built_against_interface_0_1_0_has_no_checks_of_its_own() {
    let plugins = plugins_dir(&[built("libold_plugin.so")]);
    let config = r#"{ plugins: { entries: { "old-counter": { config: { enabled: true } } } } }"#;
    let run = run_host(&["doctor"], config, &plugins);
    assert_eq!(run.status.code(), Some(1), "{}", run.stdout);
    assert!(run.stdout.contains("PASS  plugin library      old-counter"), "{}", run.stdout);
    assert!(
        run.stdout.contains("FAIL  plugin checks       old-counter 0.1.0 predates the doctor entry"),
        "{}",
        run.stdout
    );
}

#[test]
fn files_that_are_not_plugins_are_skipped_and_the_rest_load() {
    let plugins = plugins_dir(&[built(PANICKING_PLUGIN)]);
    std::fs::write(plugins.join("libgarbage.so"), b"not a library").unwrap();
    let config = "{ plugins: { entries: { panicking: { config: { enabled: true } } } } }";
    let run = run_host(&["check"], config, &plugins);
    run.assert_success();
    assert!(
        run.stderr.contains("skipping") && run.stderr.contains("libgarbage.so: not a compatible OpenClaw plugin"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("plugin panicking started"), "{}", run.stderr);
}

#[test]
fn the_mlflow_plugin_is_not_started_unless_enabled_is_true() {
    let plugins = plugins_dir(&[built(MLFLOW_PLUGIN)]);
    let config = r#"{ diagnostics: { mlflow: { trackingUri: "http://127.0.0.1:9" } } }"#;
    let run = run_host(&["demo"], config, &plugins);
    run.assert_success();
    assert!(run.stderr.contains("plugin mlflow not started: diagnostics.mlflow.enabled is not true"), "{}", run.stderr);
    assert!(!run.stdout.contains("STATS"), "{}", run.stdout);
}

#[test]
fn invalid_mlflow_settings_fail_init_with_the_key_and_what_it_expects() {
    let plugins = plugins_dir(&[built(MLFLOW_PLUGIN)]);
    let cases = [
        (r#"batchSize: 0"#, "mlflow config `batchSize`: expected an integer from 1 to 10000, got 0"),
        (r#"batchsize: 10"#, "mlflow config: unknown key `batchsize`"),
        (
            r#"flushIntervalMs: "soon""#,
            "mlflow config `flushIntervalMs`: expected an integer from 10 to 3600000, got \"soon\"",
        ),
        (
            r#"captureContent: "yes""#,
            "mlflow config `captureContent`: expected true, false or an object of previews, inputMessages, \
             outputMessages, toolInputs, toolOutputs, systemPrompt, toolDefinitions set to true or false, got \"yes\"",
        ),
        (
            r#"captureContent: { systemPrompts: true }"#,
            "mlflow config `captureContent.systemPrompts`: no such part; expected one of previews, inputMessages, \
             outputMessages, toolInputs, toolOutputs, systemPrompt, toolDefinitions",
        ),
    ];
    for (setting, message) in cases {
        let config = format!(
            r#"{{ diagnostics: {{ mlflow: {{ enabled: true, trackingUri: "http://127.0.0.1:9", {setting} }} }} }}"#
        );
        let run = run_host(&["check"], &config, &plugins);
        assert_eq!(run.status.code(), Some(1), "{setting}: {}", run.stderr);
        assert!(run.stderr.contains(&format!("plugin mlflow failed to start: {message}")), "{setting}: {}", run.stderr);
    }
    let config = r#"{ diagnostics: { mlflow: { enabled: true, trackingUri: "file:///tmp/mlruns" } } }"#;
    let run = run_host(&["check"], config, &plugins);
    assert!(
        run.stderr.contains("mlflow config `trackingUri`: expected the MLflow server's http:// or https:// URL"),
        "{}",
        run.stderr
    );
}

/// The exporter is stalled by a log sink that stops reading (the host's stderr pipe, full), the
/// queue is small: the hooks must keep returning, dropping and counting what does not fit.
#[test]
fn hooks_do_not_block_when_the_exporter_is_stalled_and_the_queue_is_full() {
    let plugins = plugins_dir(&[built(MLFLOW_PLUGIN)]);
    let config =
        r#"{ diagnostics: { mlflow: { enabled: true, trackingUri: "http://127.0.0.1:9", queueCapacity: 64 } } }"#;
    let args =
        ["bench", "--sessions", "40", "--messages", "100", "--threads", "2", "--verbose", "--shutdown-ms", "1000"];
    let mut child =
        host_command(&args, config, &plugins, &[]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // Nobody reads stderr until the bench has finished driving the hooks.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let summary = loop {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "the host ended before finishing the bench");
        if line.starts_with("BENCH ") {
            break line;
        }
    };
    let mut stderr = child.stderr.take().unwrap();
    let drain = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(child.wait().unwrap().success());
    let _log = drain.join().unwrap();
    let bench: serde_json::Value = serde_json::from_str(summary.trim_start_matches("BENCH ")).unwrap();
    let stats_line = rest.lines().find_map(|l| l.strip_prefix("STATS ")).expect("stats line");
    let stats: serde_json::Value = serde_json::from_str(stats_line).unwrap();
    let calls = bench["hook_calls"].as_u64().unwrap();
    assert_eq!(calls, 40 * 100 * 8);
    assert!(stats["dropped"].as_u64().unwrap() > 0, "the queue must have filled: {stats}");
    assert_eq!(stats["accepted"].as_u64().unwrap() + stats["dropped"].as_u64().unwrap(), calls, "{stats}");
}
