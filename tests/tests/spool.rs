//! The durable spool against the real MLflow server: what waits for MLflow survives a crash
//! (SIGKILL), a graceful stop during an outage, damage to its files, a full spool and a second
//! process on the same directory, and what lands is each trace once.

use openclaw_plugin_tests::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Connection refused at once: MLflow is down (or the tracking URI has a typo, corrected for the
/// restart: what was spooled for the experiment is still delivered).
const UNREACHABLE: &str = "http://127.0.0.1:9";

fn outage_config(experiment: &str, extra: &str) -> String {
    format!(
        "{{ diagnostics: {{ mlflow: {{ enabled: true, trackingUri: \"{UNREACHABLE}\", experimentName: \"{experiment}\", flushIntervalMs: 200, {extra} }} }} }}"
    )
}

/// `n` finished turns, each in a session of its own, with a prompt naming it.
fn turns(tag: &str, n: usize) -> PathBuf {
    let t0 = now_ms() - 60_000;
    let runs: Vec<_> = (0..n)
        .map(|i| {
            openclaw_run(
                &format!("{tag}-{i}"),
                &format!("agent:main:{tag}-{i}"),
                t0 + i as u64 * 100,
                &format!("turn {i}"),
                true,
            )
        })
        .collect();
    write_recording(&runs)
}

/// A host replaying `recording` during an MLflow outage and then lingering like a running
/// gateway; returned once it has spooled `n` traces.
fn spooling_host(recording: &Path, n: usize, state: &Path, experiment: &str, extra: &str) -> WatchedHost {
    let args = ["replay", recording.to_str().unwrap(), "--verbose", "--linger-ms", "600000", "--shutdown-ms", "5000"];
    let plugins = plugins_dir(&[built(MLFLOW_PLUGIN)]);
    let mut host = WatchedHost::spawn(&mut host_command(
        &args,
        &outage_config(experiment, extra),
        &plugins,
        &[("OPENCLAW_STATE_DIR", state.to_str().unwrap())],
    ));
    // Traces queued before the spool is open are moved into it when it opens.
    let (mut queued, mut opened) = (0, false);
    host.follow_until(&format!("{n} traces spooled"), |line| {
        opened |= line.contains("MLflow plugin: mlflow traces spooled in");
        queued += traces_queued(line);
        queued >= n && opened
    });
    host
}

/// A host that replays `n` turns with MLflow down throughout and stops as a gateway does, with
/// `shutdown_ms` for its flush and shutdown.
fn replayed_during_outage(
    tag: &str,
    n: usize,
    state: &Path,
    experiment: &str,
    shutdown_ms: &str,
    extra: &str,
) -> HostRun {
    run_host_with_env(
        &["replay", turns(tag, n).to_str().unwrap(), "--shutdown-ms", shutdown_ms],
        &outage_config(experiment, extra),
        &plugins_dir(&[built(MLFLOW_PLUGIN)]),
        &[("OPENCLAW_STATE_DIR", state.to_str().unwrap())],
    )
}

/// The host started again with MLflow healthy: it delivers what the spool holds and stops.
fn restart(mlflow: &Mlflow, experiment: &str, state: &Path) -> HostRun {
    let plugins = plugins_dir(&[built(MLFLOW_PLUGIN)]);
    let run = run_host_with_env(
        &["check"],
        &mlflow_config(mlflow, experiment, ""),
        &plugins,
        &[("OPENCLAW_STATE_DIR", state.to_str().unwrap())],
    );
    run.assert_success();
    run
}

fn stat(run: &HostRun, key: &str) -> u64 {
    let stats = run.stats("mlflow");
    stats[key].as_u64().or_else(|| stats["extra"][key].as_u64()).unwrap_or_else(|| panic!("no {key} in {stats}"))
}

/// The experiment's traces, as (OpenClaw run id, span count), sorted.
/// The run ids of the traces that landed, sorted.
fn landed_run_ids(mlflow: &Mlflow, experiment: &str) -> Vec<String> {
    landed(mlflow, experiment).into_iter().map(|(id, _)| id).collect()
}

fn landed(mlflow: &Mlflow, experiment: &str) -> Vec<(String, usize)> {
    let Some(id) = mlflow.experiment_id(experiment) else { return Vec::new() };
    let mut found: Vec<(String, usize)> = mlflow
        .search(&id, "")
        .iter()
        .map(|t| {
            let trace = mlflow.trace(t["trace_id"].as_str().unwrap());
            (trace.tag("openclaw.run_id").unwrap_or_default().to_string(), trace.spans.len())
        })
        .collect();
    found.sort();
    found
}

fn run_ids(tag: &str, indices: impl IntoIterator<Item = usize>) -> Vec<String> {
    let mut ids: Vec<String> = indices.into_iter().map(|i| format!("{tag}-{i}")).collect();
    ids.sort();
    ids
}

fn segments(state: &Path) -> Vec<PathBuf> {
    let stream = state.join("mlflow/spool/mlflow-traces");
    let mut files = Vec::new();
    for owner in std::fs::read_dir(&stream).into_iter().flatten().filter_map(Result::ok) {
        for f in std::fs::read_dir(owner.path()).into_iter().flatten().filter_map(Result::ok) {
            if f.path().extension().is_some_and(|e| e == "seg") {
                files.push(f.path());
            }
        }
    }
    files.sort();
    files
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().filter_map(Result::ok) {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn a_host_killed_during_an_outage_loses_nothing_and_the_restart_delivers_each_trace_once() {
    let mlflow = Mlflow::from_env();
    let (tag, experiment) = (unique("kill"), unique("spool-kill"));
    let state = scratch_dir("state");
    let n = 40;
    let host = spooling_host(&turns(&tag, n), n, &state, &experiment, "");
    host.kill(); // SIGKILL: no flush, no shutdown
    assert!(!segments(&state).is_empty(), "the killed host left its spool");

    let run = restart(&mlflow, &experiment, &state);
    assert_eq!((stat(&run, "spool_recovered"), stat(&run, "exported")), (n as u64, n as u64), "{}", run.stderr);
    let traces = landed(&mlflow, &experiment);
    assert_eq!(traces.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(), run_ids(&tag, 0..n), "each turn once");
    assert!(traces.iter().all(|(_, spans)| *spans == 2), "a root and its model span each: {traces:?}");
    assert!(segments(&state).is_empty(), "delivered records are released");
}

#[test]
fn a_graceful_stop_during_an_outage_keeps_everything_for_the_next_start() {
    let mlflow = Mlflow::from_env();
    let (tag, experiment) = (unique("term"), unique("spool-term"));
    let state = scratch_dir("state");
    let n = 25;
    // The gateway's stop: flush and shutdown within its 5 s budget, with MLflow down throughout.
    let stopped = replayed_during_outage(&tag, n, &state, &experiment, "5000", "");
    assert_eq!((stat(&stopped, "exported"), stat(&stopped, "failed")), (0, 0), "nothing sent, nothing lost");
    assert!(
        stopped.stderr.contains(&format!("{n} trace(s) stay in the spool for the next start")),
        "{}",
        stopped.stderr
    );

    let run = restart(&mlflow, &experiment, &state);
    assert_eq!(stat(&run, "exported"), n as u64, "{}", run.stderr);
    assert_eq!(landed_run_ids(&mlflow, &experiment), run_ids(&tag, 0..n));
}

/// A crash between MLflow accepting a batch and the spool recording it: the restart sends the
/// batch again. MLflow keys spans by trace and span id, so the resend changes nothing.
#[test]
fn a_resend_after_a_crash_before_the_acknowledgement_duplicates_nothing() {
    let mlflow = Mlflow::from_env();
    let (tag, experiment) = (unique("resend"), unique("spool-resend"));
    let state = scratch_dir("state");
    let n = 10;
    let host = spooling_host(&turns(&tag, n), n, &state, &experiment, "");
    host.kill();
    // The spool as it was before delivery: what a crash before the acknowledgement leaves.
    let before_ack = scratch_dir("state-before-ack");
    copy_tree(&state, &before_ack);

    restart(&mlflow, &experiment, &state);
    let first = landed(&mlflow, &experiment);
    assert_eq!(first.len(), n);
    let again = restart(&mlflow, &experiment, &before_ack);
    assert_eq!(stat(&again, "exported"), n as u64, "all of it was sent again");
    assert_eq!(landed(&mlflow, &experiment), first, "the same traces with the same spans, no more");
}

#[test]
fn a_torn_last_record_and_a_flipped_byte_cost_only_those_traces() {
    let mlflow = Mlflow::from_env();
    let (tag, experiment) = (unique("damage"), unique("spool-damage"));
    let state = scratch_dir("state");
    let n = 12;
    let host = spooling_host(&turns(&tag, n), n, &state, &experiment, "");
    host.kill();
    let files = segments(&state);
    assert_eq!(files.len(), 1);
    let mut bytes = std::fs::read(&files[0]).unwrap();
    bytes.truncate(bytes.len() - 10); // the last record torn, as by a crash mid-write
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20; // and one byte flipped in the middle
    std::fs::write(&files[0], &bytes).unwrap();

    let run = restart(&mlflow, &experiment, &state);
    assert_eq!(stat(&run, "spool_recovered"), n as u64 - 2, "{}", run.stderr);
    assert_eq!(stat(&run, "spool_unreadable"), 1, "the damaged record is counted");
    assert!(run.stderr.contains("skipped 1 damaged record(s)"), "{}", run.stderr);
    let landed = landed(&mlflow, &experiment);
    assert_eq!(landed.len(), n - 2, "every readable trace landed: {landed:?}");
    assert!(landed.iter().all(|(id, _)| id.starts_with(&tag)));
}

#[test]
fn an_unusable_spool_directory_falls_back_to_memory_and_still_delivers() {
    let mlflow = Mlflow::from_env();
    let (tag, experiment) = (unique("nodir"), unique("spool-nodir"));
    let blocker = scratch_dir("blocker").join("a-file");
    std::fs::write(&blocker, "a file where the spool's directory should be").unwrap();
    let n = 5;
    let extra = format!("spoolDir: \"{}\"", blocker.join("spool").display());
    let run = run_host(
        &["replay", turns(&tag, n).to_str().unwrap()],
        &mlflow_config(&mlflow, &experiment, &extra),
        &plugins_dir(&[built(MLFLOW_PLUGIN)]),
    );
    run.assert_success();
    let said: Vec<&str> = run.stderr.lines().filter(|l| l.contains("is unusable")).collect();
    assert_eq!(said.len(), 1, "one clear line:\n{}", run.stderr);
    assert!(
        said[0].contains(&format!("spool directory {} is unusable", blocker.join("spool").display()))
            && said[0].ends_with("mlflow traces and metric values wait in memory only"),
        "{}",
        said[0]
    );
    assert_eq!(stat(&run, "exported"), n as u64);
    assert_eq!(landed(&mlflow, &experiment).len(), n);
}

#[test]
fn a_full_spool_drops_the_oldest_traces_counts_them_and_delivers_the_rest() {
    let mlflow = Mlflow::from_env();
    let (tag, experiment) = (unique("full"), unique("spool-full"));
    let state = scratch_dir("state");
    let n = 300;
    let stopped = replayed_during_outage(&tag, n, &state, &experiment, "2000", "maxSpoolBytes: 65536");
    let dropped = stat(&stopped, "traces_dropped");
    assert!(dropped > 0, "300 traces do not fit in 64 KiB: {}", stopped.stderr);
    let spool_bytes: u64 = segments(&state).iter().map(|f| f.metadata().unwrap().len()).sum();
    assert!(spool_bytes <= 65536, "the spool stays within maxSpoolBytes: {spool_bytes}");

    let run = restart(&mlflow, &experiment, &state);
    let ids = landed_run_ids(&mlflow, &experiment);
    assert_eq!(
        ids.len() as u64 + dropped,
        n as u64,
        "every trace landed or was counted as dropped: {}\n{}",
        stopped.stdout,
        run.stdout
    );
    assert_eq!(stat(&run, "exported"), ids.len() as u64);
    // The oldest went: what landed is the newest.
    assert_eq!(ids, run_ids(&tag, n - ids.len()..n));
}

#[test]
fn two_hosts_on_one_spool_directory_never_send_the_same_trace_and_a_dead_ones_traces_are_taken_over() {
    let mlflow = Mlflow::from_env();
    let (tag, experiment) = (unique("two"), unique("spool-two"));
    let state = scratch_dir("state");
    let n = 8;
    // A keeps running during its outage, its traces spooled.
    let a = spooling_host(&turns(&tag, n), n, &state, &experiment, "");
    // B starts beside it, healthy: it must not take A's traces while A lives.
    let b = restart(&mlflow, &experiment, &state);
    assert_eq!((stat(&b, "spool_recovered"), stat(&b, "exported")), (0, 0), "{}", b.stderr);
    assert!(landed(&mlflow, &experiment).is_empty());
    a.kill();
    // C starts after A died: A's traces are C's to deliver, once.
    let c = restart(&mlflow, &experiment, &state);
    assert_eq!(stat(&c, "spool_recovered"), n as u64);
    assert_eq!(landed_run_ids(&mlflow, &experiment), run_ids(&tag, 0..n));
}

/// A disk that refuses writes (each spool file limited to 4 KiB with `ulimit -f`, as a full disk
/// refuses them): what it refused waits in memory, is delivered, and the problem is said.
#[test]
fn writes_the_disk_refuses_wait_in_memory_and_are_delivered() {
    let mlflow = Mlflow::from_env();
    let (tag, experiment) = (unique("efbig"), unique("spool-efbig"));
    let n = 40;
    let config = mlflow_config(&mlflow, &experiment, "maxSpoolBytes: 65536");
    let recording = turns(&tag, n);
    let args = ["replay", recording.to_str().unwrap(), "--shutdown-ms", "30000"];
    let host = host_command(&args, &config, &plugins_dir(&[built(MLFLOW_PLUGIN)]), &[]);
    // SIGXFSZ ignored, so that a write past the limit fails with EFBIG instead of killing the host.
    let mut limited = Command::new("bash");
    limited.args(["-c", r#"trap "" XFSZ; ulimit -f 4; exec "$0" "$@""#]).arg(host.get_program()).args(host.get_args());
    for (name, value) in host.get_envs() {
        match value {
            Some(value) => limited.env(name, value),
            None => limited.env_remove(name),
        };
    }
    let run = HostRun::from(run_within(&mut limited, HOST_RUN_LIMIT, "the host with a 4 KiB file size limit"));
    run.assert_success();
    assert!(stat(&run, "spool_write_errors") > 0, "the limit was hit: {}", run.stdout);
    assert!(run.stderr.contains("spool could not be written"), "{}", run.stderr);
    assert_eq!((stat(&run, "exported"), stat(&run, "traces_dropped")), (n as u64, 0));
    assert_eq!(landed(&mlflow, &experiment).len(), n);
}

#[test]
fn a_spool_directory_others_may_write_to_is_refused_and_the_traces_go_from_memory() {
    use std::os::unix::fs::PermissionsExt;
    let mlflow = Mlflow::from_env();
    let name = unique("spool-shared");
    let shared = scratch_dir("spool-shared").join("spool");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let extra = format!("spoolDir: \"{}\"", shared.display());
    let run = run_host(&["demo"], &mlflow_config(&mlflow, &name, &extra), &plugins_dir(&[built(MLFLOW_PLUGIN)]));
    run.assert_success();
    let refusals: Vec<&str> = run.stderr.lines().filter(|l| l.contains("is unusable")).collect();
    assert_eq!(refusals.len(), 1, "{}", run.stderr);
    assert!(refusals[0].contains("other users may write to it (mode 777)"), "{}", refusals[0]);
    assert_eq!(run.stats("mlflow")["exported"], 6, "delivered from memory: {}", run.stderr);
    assert_eq!(std::fs::read_dir(&shared).unwrap().count(), 0, "nothing written there");
}

/// Spooled traces belong to the experiment their ids were made for. A gateway now sending to
/// another experiment leaves them where they are (one line says so, the doctor warns); the
/// operator lists them, moves them to the current experiment, or discards them.
#[test]
fn traces_spooled_for_another_experiment_wait_until_the_operator_moves_or_discards_them() {
    use openclaw_plugin_tests::doctor::{check, doctor};
    let mlflow = Mlflow::from_env();
    let (tag, old, new) = (unique("elsewhere"), unique("spool-old"), unique("spool-new"));
    let state = scratch_dir("state");
    let spool_dir = format!("spoolDir: \"{}\"", state.join("spool").display());
    let plugins = plugins_dir(&[built(MLFLOW_PLUGIN)]);
    let n = 4;
    replayed_during_outage(&tag, n, &state, &old, "1000", &spool_dir).assert_success();
    let config = mlflow_config(&mlflow, &new, &spool_dir);
    // The turns that landed in `new`, without the doctor's test turns.
    let landed_in_new = || -> Vec<String> {
        landed_run_ids(&mlflow, &new).into_iter().filter(|id| !id.starts_with("doctor")).collect()
    };
    let spool_command = |args: &[&str]| {
        let run = run_host(&[&["spool"], args].concat(), &config, &plugins);
        run.assert_success();
        run.stdout
    };

    // The gateway, now configured for `new`, sends its own turns and none of `old`'s.
    let (own_tag, own) = (unique("own"), 3);
    let run = run_host(&["replay", turns(&own_tag, own).to_str().unwrap()], &config, &plugins);
    run.assert_success();
    assert_eq!(landed_run_ids(&mlflow, &new), run_ids(&own_tag, 0..own), "{}", run.stderr);
    assert!(mlflow.experiment_id(&old).is_none(), "nothing went to the old experiment either");
    let said = format!("wait for another experiment: {n} for experiment \"{old}\" at {UNREACHABLE}");
    assert_eq!(run.stderr.lines().filter(|l| l.contains(&said)).count(), 1, "one line:\n{}", run.stderr);

    // The doctor and the listing name them.
    let (code, report) = doctor(&config);
    let spool = check(&report, "spool");
    assert_eq!((code, spool["verdict"].as_str()), (0, Some("warn")), "a warning, not a failure: {report:#}");
    assert!(spool["detail"].as_str().unwrap().contains(&format!("{n} trace(s) for experiment \"{old}\"")), "{spool}");
    assert!(spool["fix"].as_str().unwrap().contains("spool move"), "{spool}");
    let listed = spool_command(&["list"]);
    assert!(
        listed.contains(&format!(
            "{n} trace(s) for experiment \"{old}\" at {UNREACHABLE} [waits for another experiment]"
        )),
        "{listed}"
    );

    // Moved: the next start delivers them to `new`, once.
    let moved = spool_command(&["move", "--experiment", &old]);
    assert!(moved.contains(&format!("{n} trace(s) for experiment \"{old}\"")), "{moved}");
    let next = run_host(&["check"], &config, &plugins);
    next.assert_success();
    let mut both = [run_ids(&tag, 0..n), run_ids(&own_tag, 0..own)].concat();
    both.sort();
    assert_eq!(landed_in_new(), both, "{}", next.stderr);
    assert_eq!(check(&doctor(&config).1, "spool")["verdict"], "pass");

    // Discarded: gone, and never sent.
    let (late_tag, late) = (unique("late"), 2);
    replayed_during_outage(&late_tag, late, &state, &old, "1000", &spool_dir).assert_success();
    let discarded = spool_command(&["discard", "--experiment", &old]);
    assert!(discarded.starts_with("discarded:"), "{discarded}");
    assert!(discarded.contains(&format!("\n  {late} trace(s) for experiment \"{old}\"")), "{discarded}");
    assert!(!spool_command(&["list"]).contains("waits for another experiment"));
    run_host(&["check"], &config, &plugins).assert_success();
    assert_eq!(landed_in_new(), both, "the discarded turns were not sent");
}

/// The spool as two local users see it (the test runs as root and acts as both with `setpriv`):
/// the gateway's user (`nobody`) spools during an outage; another user (uid 4242) can neither read
/// nor list nor plant anything in that spool, and a spool directory that user prepared (theirs, or
/// a symbolic link) is refused by the gateway, which then delivers from memory.
#[test]
fn another_local_user_can_neither_read_the_spool_nor_lend_the_gateway_one() {
    use std::os::unix::fs::MetadataExt;
    const GATEWAY_USER: u32 = 65534;
    const OTHER_USER: u32 = 4242;
    let test_user = std::fs::metadata("/proc/self").unwrap().uid();
    assert_eq!(test_user, 0, "this test acts as two local users with setpriv: run it as root");
    let as_user = |uid: u32, program: &Path, args: &[&str]| {
        let mut cmd = Command::new("setpriv");
        let id = uid.to_string();
        cmd.args(["--reuid", &id, "--regid", &id, "--clear-groups", "--"]).arg(program).args(args);
        run_within(&mut cmd, HOST_RUN_LIMIT, "a host as another user")
    };
    let give = |dir: &Path, uid: u32| {
        std::fs::create_dir_all(dir).unwrap();
        std::os::unix::fs::chown(dir, Some(uid), Some(uid)).unwrap();
    };
    let plugins = plugins_dir(&[built(MLFLOW_PLUGIN)]);
    let gateway = |config: &str, tag: &str| {
        let file = scratch_dir("two-users").join("openclaw.json");
        std::fs::write(&file, config).unwrap();
        let (recording, config_path, plugins) =
            (turns(tag, 3), file.display().to_string(), plugins.display().to_string());
        let args = ["replay", recording.to_str().unwrap(), "--config", &config_path, "--plugins-dir", &plugins];
        let run =
            HostRun::from(as_user(GATEWAY_USER, &host_binary(), &[&args[..], &["--shutdown-ms", "10000"]].concat()));
        run.assert_success();
        run
    };

    // The gateway's user spools three turns during an outage: only that user can get at them.
    let home = scratch_dir("gateway-user");
    give(&home, GATEWAY_USER);
    let spool = home.join("spool");
    let outage = format!(
        "{{ diagnostics: {{ mlflow: {{ enabled: true, trackingUri: \"{UNREACHABLE}\", spoolDir: \"{}\" }} }} }}",
        spool.display()
    );
    let stopped = gateway(&outage, &unique("private"));
    assert!(stopped.stderr.contains("3 trace(s) stay in the spool"), "{}", stopped.stderr);
    let mut entries = vec![spool.clone()];
    let mut segment = None;
    while let Some(path) = entries.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert_eq!(meta.uid(), GATEWAY_USER, "{}", path.display());
        let expected = if meta.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(meta.mode() & 0o777, expected, "{}", path.display());
        if meta.is_dir() {
            entries.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if path.extension().is_some_and(|e| e == "seg") {
            segment = Some(path);
        }
    }
    let segment = segment.expect("a segment was written");
    let read = as_user(OTHER_USER, Path::new("/bin/cat"), &[segment.to_str().unwrap()]);
    assert!(!read.status.success() && read.stdout.is_empty(), "another user read the conversations");
    let listed = as_user(OTHER_USER, Path::new("/bin/ls"), &[spool.join("mlflow-traces").to_str().unwrap()]);
    assert!(!listed.status.success(), "another user listed the spool");
    let stream = spool.join("mlflow-traces");
    let planted = as_user(OTHER_USER, Path::new("/bin/mkdir"), &[stream.join("p1-1").to_str().unwrap()]);
    assert!(!planted.status.success(), "another user planted an orphan directory");

    // A spool directory the other user prepared, open to all, or a link to one: refused, delivered
    // from memory, nothing written there.
    let mlflow = Mlflow::from_env();
    let lent = scratch_dir("other-user");
    give(&lent, OTHER_USER);
    let open_to_all = lent.join("spool");
    assert!(as_user(OTHER_USER, Path::new("/bin/mkdir"), &["-m", "777", open_to_all.to_str().unwrap()])
        .status
        .success());
    let link = lent.join("link");
    assert!(as_user(OTHER_USER, Path::new("/bin/ln"), &["-s", open_to_all.to_str().unwrap(), link.to_str().unwrap()])
        .status
        .success());
    for (spool_dir, why) in
        [(&open_to_all, format!("belongs to user {OTHER_USER}")), (&link, "is a symbolic link".into())]
    {
        let experiment = unique("two-users");
        let run = gateway(
            &mlflow_config(&mlflow, &experiment, &format!("spoolDir: \"{}\"", spool_dir.display())),
            &experiment,
        );
        let refused: Vec<&str> = run.stderr.lines().filter(|l| l.contains("is unusable")).collect();
        assert!(refused.len() == 1 && refused[0].contains(&why), "{}: {}", spool_dir.display(), run.stderr);
        assert_eq!(landed(&mlflow, &experiment).len(), 3, "delivered from memory: {}", run.stderr);
        assert_eq!(std::fs::read_dir(&open_to_all).unwrap().count(), 0, "nothing written in the lent directory");
    }
}
