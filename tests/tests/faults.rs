//! Faults between the plugin and MLflow, against the real server (with a fault-injecting proxy in
//! front of it where the server cannot be made to misbehave on demand). Each test asserts what
//! lands in MLflow at the end and what `stats()` says.

use openclaw_plugin_tests::fault_proxy::{Fault, FaultProxy, Rule, Seen};
use openclaw_plugin_tests::tcp_relay::TcpRelay;
use openclaw_plugin_tests::*;
use serde_json::Value;
use std::time::Duration;

/// Runs the demo through `proxy` into a fresh experiment; returns the run, its hook calls and the
/// experiment id.
fn demo_through(
    mlflow: &Mlflow,
    proxy: &FaultProxy,
    extra: &str,
    env: &[(&str, &str)],
    args: &[&str],
) -> (HostRun, Vec<Value>, String) {
    let name = unique("fault");
    let config = format!(
        "{{ diagnostics: {{ mlflow: {{ enabled: true, trackingUri: \"{}\", experimentName: \"{name}\", flushIntervalMs: 200, {extra} }} }} }}",
        proxy.url
    );
    let events = scratch_dir("fault").join("events.jsonl");
    let mut all_args = vec!["demo", "--events-out", events.to_str().unwrap()];
    all_args.extend_from_slice(args);
    let run = run_host_with_env(&all_args, &config, &plugins_dir(&[built(MLFLOW_PLUGIN)]), env);
    let experiment = mlflow.experiment_id(&name).unwrap_or_default();
    (run, read_events(&events), experiment)
}

/// Every message exactly once, each with all its spans exactly once.
fn assert_landed_once(mlflow: &Mlflow, experiment: &str, events: &[Value]) {
    let runs: Vec<&Value> = events.iter().filter(|e| e["hook"] == "message_start").collect();
    let traces = mlflow.search(experiment, "");
    assert_eq!(traces.len(), runs.len(), "one trace per message, none twice, none missing");
    for run in runs {
        let run_id = run["ctx"]["run_id"].as_str().unwrap();
        let found = mlflow.search(experiment, &format!("tags.`openclaw.run_id` = '{run_id}'"));
        assert_eq!(found.len(), 1, "{run_id}");
        let trace = mlflow.trace(found[0]["trace_id"].as_str().unwrap());
        let calls = events
            .iter()
            .filter(|e| e["ctx"]["run_id"] == run_id && (e["hook"] == "model_call_end" || e["hook"] == "tool_call_end"))
            .count();
        let mut ids: Vec<&str> = trace.spans.iter().map(|s| s.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(trace.spans.len(), 1 + calls, "{run_id}: spans {:?}", trace.span_names());
        assert_eq!(ids.len(), trace.spans.len(), "{run_id}: a span stored twice");
    }
}

#[test]
fn retry_after_on_503_and_429_is_honoured_and_nothing_is_lost() {
    let mlflow = Mlflow::from_env();
    let proxy = FaultProxy::start(&mlflow.uri);
    proxy.add(Rule {
        path_prefix: "/v1/traces".into(),
        fault: Fault::Status { code: 503, retry_after: Some(2) },
        times: Some(1),
    });
    proxy.add(Rule {
        path_prefix: "/v1/traces".into(),
        fault: Fault::Status { code: 429, retry_after: Some(1) },
        times: Some(1),
    });
    let (run, events, experiment) = demo_through(&mlflow, &proxy, "", &[], &[]);
    run.assert_success();
    let stats = run.stats("mlflow");
    assert_eq!((stats["exported"].as_u64(), stats["failed"].as_u64()), (Some(6), Some(0)), "{stats}");
    assert_eq!(stats["extra"]["export_retries"], 2);
    assert_landed_once(&mlflow, &experiment, &events);
    let attempts = trace_requests(&proxy);
    assert_eq!(attempts.len(), 3);
    let waits = [attempts[1].at - attempts[0].at, attempts[2].at - attempts[1].at];
    assert!(waits[0] >= Duration::from_secs(2), "Retry-After: 2 after the 503, waited {:?}", waits[0]);
    assert!(waits[1] >= Duration::from_secs(1), "Retry-After: 1 after the 429, waited {:?}", waits[1]);
}

#[test]
fn a_request_that_timed_out_after_mlflow_took_it_is_not_stored_twice() {
    let mlflow = Mlflow::from_env();
    let proxy = FaultProxy::start(&mlflow.uri);
    // MLflow stores the batch, but the answer comes after the plugin's 1 s timeout: it resends.
    proxy.add(Rule {
        path_prefix: "/v1/traces".into(),
        fault: Fault::DelayResponse(Duration::from_millis(2500)),
        times: Some(1),
    });
    let (run, events, experiment) = demo_through(&mlflow, &proxy, "requestTimeoutMs: 1000", &[], &[]);
    run.assert_success();
    let stats = run.stats("mlflow");
    assert!(stats["extra"]["export_retries"].as_u64().unwrap() >= 1, "{stats}");
    // At least twice: with a 1 s timeout, a server slowed by the tests beside it may time out again.
    let requests = trace_requests(&proxy).len();
    assert!(requests >= 2, "the batch MLflow took late was sent again: {requests} request(s)");
    assert_landed_once(&mlflow, &experiment, &events);
}

#[test]
fn connections_cut_before_an_answer_are_retried() {
    let mlflow = Mlflow::from_env();
    let proxy = FaultProxy::start(&mlflow.uri);
    proxy.add(Rule { path_prefix: "/".into(), fault: Fault::Cut, times: Some(3) });
    let (run, events, experiment) = demo_through(&mlflow, &proxy, "", &[], &[]);
    run.assert_success();
    assert_eq!(run.stats("mlflow")["exported"], 6);
    assert_landed_once(&mlflow, &experiment, &events);
}

#[test]
fn one_trace_mlflow_refuses_does_not_take_the_others_of_its_batch_with_it() {
    let mlflow = Mlflow::from_env();
    let proxy = FaultProxy::start(&mlflow.uri);
    // The demo's failing tool returns "ENOENT": that trace is the bad one.
    proxy.add(Rule {
        path_prefix: "/v1/traces".into(),
        fault: Fault::RejectBodyContaining("ENOENT".into()),
        times: None,
    });
    let (run, events, experiment) = demo_through(&mlflow, &proxy, "", &[], &[]);
    run.assert_success();
    let stats = run.stats("mlflow");
    assert_eq!((stats["exported"].as_u64(), stats["failed"].as_u64()), (Some(5), Some(1)), "{stats}");
    let traces = mlflow.search(&experiment, "");
    assert_eq!(traces.len(), 5);
    let bad_run = events.iter().find(|e| e["hook"] == "tool_call_end" && e["event"]["outcome"] == "error").unwrap()
        ["ctx"]["run_id"]
        .as_str()
        .unwrap();
    assert!(mlflow.search(&experiment, &format!("tags.`openclaw.run_id` = '{bad_run}'")).is_empty());
    let refused: Vec<&str> = run.stderr.lines().filter(|l| l.contains("MLflow refused trace")).collect();
    assert_eq!(refused.len(), 1, "{}", run.stderr);
    assert!(refused[0].contains("(400)") && refused[0].contains("bad trace (injected)"), "{}", refused[0]);
}

#[test]
fn refused_credentials_are_named_once_and_the_token_appears_nowhere() {
    let mlflow = Mlflow::from_env();
    let proxy = FaultProxy::start(&mlflow.uri);
    proxy.add(Rule { path_prefix: "/".into(), fault: Fault::Status { code: 401, retry_after: None }, times: None });
    let token = "tok-SECRET-4242-do-not-log";
    let (run, _, _) =
        demo_through(&mlflow, &proxy, "", &[("MLFLOW_TRACKING_TOKEN", token)], &["--shutdown-ms", "3000"]);
    assert!(!run.stderr.contains(token) && !run.stdout.contains(token), "the token leaked:\n{}", run.stderr);
    let named: Vec<&str> = run.stderr.lines().filter(|l| l.contains("MLFLOW_TRACKING_TOKEN")).collect();
    assert_eq!(named.len(), 1, "one clear error, not one per attempt:\n{}", run.stderr);
    assert!(named[0].contains("error") && named[0].contains("401"), "{}", named[0]);
    // It was sent, as a bearer token, on every request.
    let seen = proxy.seen();
    assert!(seen.len() >= 2, "it retried with backoff");
    assert!(seen.iter().all(|s| s
        .headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("authorization") && v == &format!("Bearer {token}"))));
    assert_eq!(run.stats("mlflow")["failed"], 0, "the spool keeps them for the next start");
    assert!(run.stderr.contains("6 trace(s) stay in the spool for the next start"), "{}", run.stderr);
}

#[test]
fn an_experiment_deleted_mid_run_is_restored_and_nothing_is_lost() {
    let mlflow = Mlflow::from_env();
    let name = unique("deleted");
    let config = mlflow_config(&mlflow, &name, "");
    let plugins = plugins_dir(&[built(MLFLOW_PLUGIN)]);
    let uri = mlflow.uri.clone();
    let deleter = std::thread::spawn(move || {
        let mlflow = Mlflow::from_uri(&uri);
        // Wait for the plugin to create the experiment and send a first batch, then delete it.
        for _ in 0..100 {
            if let Some(id) = mlflow.experiment_id(&name) {
                if !mlflow.search(&id, "").is_empty() {
                    mlflow.delete_experiment(&id);
                    return id;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the experiment never got a trace");
    });
    // 60 messages over 6 s: traces still flow after the deletion even when the server is slow to
    // create the experiment and run (seen: 2.7 s on a loaded machine, after which 20/s had sent
    // nearly everything in the first batch and nothing was left to notice the deletion with).
    let run = run_host(
        &["bench", "--sessions", "4", "--messages", "15", "--threads", "2", "--rate", "10"],
        &config,
        &plugins,
    );
    run.assert_success();
    let experiment = deleter.join().unwrap();
    assert!(
        run.stderr.contains(&format!("MLflow experiment {experiment} was deleted while in use; restored it")),
        "the deletion was noticed:\n{}",
        run.stderr
    );
    assert_eq!(mlflow.experiment(&experiment)["lifecycle_stage"], "active", "restored");
    let stats = run.stats("mlflow");
    assert_eq!((stats["exported"].as_u64(), stats["failed"].as_u64()), (Some(60), Some(0)), "{stats}\n{}", run.stderr);
    assert_eq!(mlflow.search(&experiment, "").len(), 60, "every trace, in the restored experiment");
}

#[test]
fn mlflow_stopped_mid_run_and_started_again_on_the_same_database_gets_every_trace_once() {
    let mut server = DedicatedMlflow::start();
    let mlflow = Mlflow::from_uri(&server.uri);
    let name = unique("restart");
    let config = mlflow_config(&mlflow, &name, "");
    let plugins = plugins_dir(&[built(MLFLOW_PLUGIN)]);
    // 200 messages over 10 s; the server goes away at 2 s and is back after its restart.
    let host = std::thread::spawn(move || {
        run_host(
            &[
                "bench",
                "--sessions",
                "8",
                "--messages",
                "25",
                "--threads",
                "2",
                "--rate",
                "20",
                "--shutdown-ms",
                "120000",
            ],
            &config,
            &plugins,
        )
    });
    // Mid-run: once 20 have landed.
    let (_, landed) = mlflow.traces_once(&name, Duration::from_secs(60), |t| t.len() >= 20);
    assert!(landed.len() >= 20, "20 traces landed before the outage: {}", landed.len());
    server.stop();
    let down_at = std::time::Instant::now();
    // The outage's length (a fault's duration, not a wait for anything): messages keep coming.
    std::thread::sleep(Duration::from_secs(4));
    server.start_again();
    let outage = down_at.elapsed();
    let run = host.join().unwrap();
    run.assert_success();
    let stats = run.stats("mlflow");
    assert_eq!(
        (stats["exported"].as_u64(), stats["failed"].as_u64(), stats["dropped"].as_u64()),
        (Some(200), Some(0), Some(0)),
        "{stats}"
    );
    assert!(stats["extra"]["export_retries"].as_u64().unwrap() > 0, "the outage was noticed: {stats}");
    let experiment = mlflow.experiment_id(&name).unwrap();
    let traces = mlflow.search(&experiment, "");
    assert_eq!(traces.len(), 200, "every message once after a {outage:?} outage");
    let mut run_ids: Vec<String> = traces
        .iter()
        .map(|t| mlflow.trace(t["trace_id"].as_str().unwrap()).tag("openclaw.run_id").unwrap().to_string())
        .collect();
    run_ids.sort();
    run_ids.dedup();
    assert_eq!(run_ids.len(), 200, "no message twice");
    eprintln!(
        "MEASURED restart: MLflow down {:.1} s during 200 messages: {} traces, {} retries",
        outage.as_secs_f64(),
        traces.len(),
        stats["extra"]["export_retries"]
    );
}

/// Memory only (`spool: false`): `maxBufferedTraces` bounds what waits. (With the spool,
/// `maxSpoolBytes` does: tests/tests/spool.rs.)
#[test]
fn an_outage_longer_than_the_buffer_drops_the_oldest_traces_counts_them_and_says_so_once() {
    let mlflow = Mlflow::from_env();
    let proxy = FaultProxy::start(&mlflow.uri);
    proxy.add(Rule {
        path_prefix: "/v1/traces".into(),
        fault: Fault::Status { code: 503, retry_after: None },
        times: None,
    });
    let name = unique("overflow");
    let config = format!(
        "{{ diagnostics: {{ mlflow: {{ enabled: true, trackingUri: \"{}\", experimentName: \"{name}\", flushIntervalMs: 200, spool: false, maxBufferedTraces: 10 }} }} }}",
        proxy.url
    );
    let plugins = plugins_dir(&[built(MLFLOW_PLUGIN)]);
    // 50 messages over 2.5 s; the host lingers while the test ends the outage, once all 50 are
    // queued (40 of them dropped: the buffer holds 10).
    let args = ["bench", "--sessions", "5", "--messages", "10", "--threads", "1", "--rate", "20", "--verbose"];
    let mut host =
        WatchedHost::spawn(&mut host_command(&[&args[..], &["--linger-ms", "4000"]].concat(), &config, &plugins, &[]));
    let mut queued = 0;
    host.follow_until("50 traces queued", |line| {
        queued += traces_queued(line);
        queued >= 50
    });
    proxy.clear();
    let run = host.finish();
    run.assert_success();
    let stats = run.stats("mlflow");
    assert_eq!(stats["exported"], 10, "the buffer's worth: {stats}");
    assert_eq!(stats["extra"]["traces_dropped"], 40, "{stats}");
    let experiment = mlflow.experiment_id(&name).unwrap();
    let landed: Vec<String> = mlflow
        .search(&experiment, "")
        .iter()
        .map(|t| mlflow.trace(t["trace_id"].as_str().unwrap()).tag("openclaw.run_id").unwrap().to_string())
        .collect();
    assert_eq!(landed.len(), 10);
    // The bench's last round of messages is n = 8 and 9 (5 sessions each): the newest were kept.
    assert!(landed.iter().all(|id| id.ends_with("-8") || id.ends_with("-9")), "{landed:?}");
    let reports = run.stderr.lines().filter(|l| l.contains("buffers full: dropped")).count();
    assert_eq!(reports, 1, "logged once per interval, not once per trace:\n{}", run.stderr);
}

/// The /v1/traces requests the proxy saw, in the order they came.
fn trace_requests(proxy: &FaultProxy) -> Vec<Seen> {
    proxy.seen().into_iter().filter(|s| s.path == "/v1/traces").collect()
}

/// The most /v1/traces requests the proxy had awaiting their answers at once.
fn most_at_once(proxy: &FaultProxy) -> usize {
    trace_requests(proxy).iter().map(|s| s.out_at_once).max().unwrap_or(0)
}

/// A bench host sending `messages` x 8 turns at 200/s to `uri` (a proxy's or a relay's) into
/// experiment `name`, with `batchSize` `batch` and up to 4 requests in flight; its output piped.
fn busy_host(uri: &str, name: &str, batch: usize, messages: usize) -> std::process::Child {
    let config = format!(
        r#"{{ diagnostics: {{ mlflow: {{ enabled: true, trackingUri: "{}", experimentName: "{name}", batchSize: {batch}, maxConcurrentRequests: 4 }} }} }}"#,
        uri
    );
    host_command(
        &["bench", "--sessions", "8", "--messages", &messages.to_string(), "--threads", "2", "--rate", "200"],
        &config,
        &plugins_dir(&[built(MLFLOW_PLUGIN)]),
        &[],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap()
}

/// Waits (up to a minute) until `seen` holds for what the proxy has seen; fails naming `what`.
fn wait_for_proxy(proxy: &FaultProxy, what: &str, seen: impl Fn(&FaultProxy) -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !seen(proxy) {
        assert!(std::time::Instant::now() < deadline, "never {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_busy_gateway_posts_several_requests_at_once_and_a_failed_one_is_resent_and_counted_once() {
    let mlflow = Mlflow::from_env();
    let proxy = FaultProxy::start(&mlflow.uri);
    // Every trace request is held 400 ms after MLflow answered: with one request at a time they
    // would start at least that far apart.
    proxy.add(Rule {
        path_prefix: "/v1/traces".into(),
        fault: Fault::DelayResponse(Duration::from_millis(400)),
        times: None,
    });
    let name = unique("in-flight");
    let host = busy_host(&proxy.url, &name, 20, 40);
    // Once requests flow, one of them (wherever it falls among those out) is answered 503.
    wait_for_proxy(&proxy, "3 trace requests", |p| trace_requests(p).len() >= 3);
    proxy.clear();
    proxy.add(Rule {
        path_prefix: "/v1/traces".into(),
        fault: Fault::Status { code: 503, retry_after: None },
        times: Some(1),
    });
    proxy.add(Rule {
        path_prefix: "/v1/traces".into(),
        fault: Fault::DelayResponse(Duration::from_millis(400)),
        times: None,
    });
    let run: HostRun = finish_within(host, HOST_RUN_LIMIT, "the busy host").into();
    run.assert_success();

    // Overlapping requests, as the proxy saw them (every answer is held 400 ms).
    let at_once = most_at_once(&proxy);
    assert!((2..=4).contains(&at_once), "several requests in flight, at most maxConcurrentRequests: {at_once}");
    assert!(proxy.seen().iter().any(|s| matches!(s.fault, Some(Fault::Status { code: 503, .. }))), "the 503 was given");
    let stats = run.stats("mlflow");
    assert_eq!(stats["exported"], 320, "each trace counted once, however often it was sent: {stats}");
    assert_eq!(stats["failed"], 0, "{stats}");
    let experiment = mlflow.experiment_id(&name).unwrap();
    assert_eq!(mlflow.search(&experiment, "").len(), 320, "each trace once in MLflow");
}

#[test]
fn a_slow_request_is_overtaken_by_others_and_its_traces_still_land_once() {
    let mlflow = Mlflow::from_env();
    let proxy = FaultProxy::start(&mlflow.uri);
    let name = unique("overtaken");
    // Every answer held 300 ms: traces back up, so the in-flight limit (one at first) grows to
    // maxConcurrentRequests in a few quick rounds, whatever the machine's load.
    let queued = Duration::from_millis(300);
    let queueing = Rule { path_prefix: "/v1/traces".into(), fault: Fault::DelayResponse(queued), times: None };
    proxy.add(queueing.clone());
    let host = busy_host(&proxy.url, &name, 10, 100);
    // Then, while 4 are out (the limit is at least 4 now, not only once), the next request is held
    // 3 s after MLflow answered it. The limit shrinks after a slow round, and at 1 nothing can
    // overtake anything.
    wait_for_proxy(&proxy, "4 requests in flight", |p| p.in_flight_now("/v1/traces") >= 4);
    let hold = Duration::from_secs(3);
    proxy.clear();
    proxy.add(Rule { path_prefix: "/v1/traces".into(), fault: Fault::DelayResponse(hold), times: Some(1) });
    proxy.add(queueing);
    let run: HostRun = finish_within(host, HOST_RUN_LIMIT, "the busy host").into();
    run.assert_success();

    let seen = trace_requests(&proxy);
    let held = seen
        .iter()
        .find(|s| matches!(s.fault, Some(Fault::DelayResponse(d)) if d == hold))
        .expect("a request was held")
        .at;
    // Rounds would post the held one's round-mates with it, then wait for all of them. A sliding
    // window reuses the place of each request answered (none is answered sooner than the proxy's
    // 300 ms) while the held one is still out, whatever the in-flight limit is by then.
    let posted_later = seen.iter().filter(|s| s.at > held + queued && s.at < held + hold).count();
    let timeline: Vec<String> = seen
        .iter()
        .map(|s| match s.at.checked_duration_since(held) {
            Some(after) => format!("+{}", after.as_millis()),
            None => format!("-{}", (held - s.at).as_millis()),
        })
        .collect();
    assert!(
        posted_later > 0,
        "no request posted while one was held, after the others' answers; posts in ms from the held one: {}",
        timeline.join(" ")
    );
    let stats = run.stats("mlflow");
    assert_eq!(stats["exported"], 800, "{stats}");
    assert_eq!(stats["failed"], 0, "{stats}");
    let experiment = mlflow.experiment_id(&name).unwrap();
    assert_eq!(mlflow.search(&experiment, "").len(), 800, "each trace once in MLflow");
}

#[test]
fn each_batch_of_traces_goes_on_a_connection_of_its_own_so_several_workers_share_one_gateway() {
    // A kept-alive connection stays with the worker (or pod) that accepted it: a gateway's few
    // connections would often all land on one worker of several (BENCHMARKS.md section 11).
    let mlflow = Mlflow::from_env();
    let relay = TcpRelay::start(&mlflow.uri);
    let name = unique("connections");
    let run: HostRun = finish_within(busy_host(&relay.url, &name, 10, 50), HOST_RUN_LIMIT, "the busy host").into();
    run.assert_success();
    let stats = run.stats("mlflow");
    assert_eq!(stats["exported"], 400, "{stats}");
    let requests = stats["extra"]["trace_requests"].as_u64().unwrap() as usize;
    assert!(requests >= 40, "400 traces in batches of 10 at most: {stats}");
    // The MLflow REST calls (experiment, run, metrics) add a few connections of their own.
    assert!(relay.connections() >= requests, "{} connections for {requests} trace requests", relay.connections());
    let experiment = mlflow.experiment_id(&name).unwrap();
    assert_eq!(mlflow.search(&experiment, "").len(), 400, "each trace once in MLflow");
}
