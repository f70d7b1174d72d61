//! SIGTERM and SIGINT end `run` within a second or two, with exit 0 and no temporary file,
//! whether the agent is idle or in the middle of a download.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::env::{TestEnv, assert_code, finish, list, valid_archive, wait_for};
use crate::http_stub::{HttpStub, Request, Response};
use crate::vault_stand_in::VaultStandIn;

fn stop_idle_run_with(signal: i32) {
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    env.write_config(&vault, json!({"frequency": "1h"}));
    let child = env.command(&["run"]).spawn().unwrap();
    wait_for("the first snapshot", Duration::from_secs(20), || {
        env.files().len() == 1
    });
    let sent = Instant::now();
    unsafe { libc::kill(child.id() as i32, signal) };
    let outcome = finish(child, Duration::from_secs(10));
    let took = sent.elapsed();
    assert_code(&outcome, 0);
    assert!(took < Duration::from_secs(3), "took {took:?} to stop");
    assert!(env.staging_is_empty());
}

#[test]
fn sigterm_stops_an_idle_run_at_once_with_exit_0() {
    stop_idle_run_with(libc::SIGTERM);
}

#[test]
fn sigint_stops_an_idle_run_at_once_with_exit_0() {
    stop_idle_run_with(libc::SIGINT);
}

#[test]
fn sighup_stops_an_idle_run_at_once_with_exit_0() {
    stop_idle_run_with(libc::SIGHUP);
}

#[test]
fn sigterm_during_a_download_removes_the_temporary_file() {
    stop_a_download_with(libc::SIGTERM);
}

#[test]
fn sighup_during_a_download_removes_the_temporary_file() {
    // SIGHUP's default would end the process at once (exit 129) and leave the file.
    stop_a_download_with(libc::SIGHUP);
}

fn stop_a_download_with(signal: i32) {
    let vault = VaultStandIn::start(valid_archive(400_000));
    {
        // 400 KB in 4 KiB chunks, 50 ms apart: about 5 s of streaming.
        let mut state = vault.state();
        state.chunk_size = 4096;
        state.chunk_delay = Duration::from_millis(50);
    }
    let env = TestEnv::new();
    env.write_config(&vault, json!({"frequency": "1h"}));
    let child = env.command(&["run"]).spawn().unwrap();
    wait_for("the download to start", Duration::from_secs(20), || {
        !list(&env.tmp).is_empty()
    });
    std::thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    unsafe { libc::kill(child.id() as i32, signal) };
    let outcome = finish(child, Duration::from_secs(10));
    let took = sent.elapsed();
    assert_code(&outcome, 0);
    assert!(took < Duration::from_secs(3), "took {took:?} to stop");
    assert!(
        env.staging_is_empty(),
        "temporary file left: {:?}",
        list(&env.tmp)
    );
    assert!(env.files().is_empty(), "an interrupted snapshot was stored");
}

/// A fake GCS JSON API that holds the answer to the first upload chunk until told to go on:
/// the stub, "the first chunk arrived", and "answer it now" (dropping it answers too).
fn slow_gcs() -> (
    HttpStub,
    std::sync::mpsc::Receiver<()>,
    std::sync::mpsc::Sender<()>,
) {
    let (arrived_tx, arrived_rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let first_chunk = std::sync::Mutex::new(Some((arrived_tx, go_rx)));
    let stub = HttpStub::start(move |request| {
        let (method, path) = (request.method.as_str(), request.path.as_str());
        if method == "POST" && path.starts_with("/upload/") {
            let host = request.header("host").unwrap_or_default();
            return Response::new(200).header("Location", format!("http://{host}/session"));
        }
        if method == "PUT" && path.starts_with("/session") {
            let first = first_chunk.lock().unwrap().take();
            if let Some((arrived, go)) = first {
                arrived.send(()).unwrap();
                let _ = go.recv();
                return Response::new(308);
            }
            return Response::new(200).body(r#"{"name":"x","size":"0"}"#);
        }
        Response::new(204)
    });
    (stub, arrived_rx, go_tx)
}

#[test]
fn sigterm_during_a_cloud_upload_stops_between_parts_and_cleans_up() {
    // Over one 8 MiB chunk, so the upload has a second part to skip.
    let vault = VaultStandIn::start(valid_archive(9 << 20));
    let (gcs, arrived, go) = slow_gcs();
    let env = TestEnv::new();
    env.write_config(
        &vault,
        json!({"frequency": "1h", "local_storage": null, "google_storage": {"bucket": "b", "prefix": "p"}}),
    );
    let child = env
        .command(&["run"])
        .env("STORAGE_EMULATOR_HOST", gcs.url())
        .spawn()
        .unwrap();
    arrived
        .recv_timeout(Duration::from_secs(30))
        .expect("the upload never started");
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    std::thread::sleep(Duration::from_millis(200));
    go.send(()).unwrap();
    let outcome = finish(child, Duration::from_secs(20));
    assert_code(&outcome, 0);
    let requests: Vec<String> = gcs.requests().iter().map(Request::line).collect();
    let chunks = requests
        .iter()
        .filter(|r| r.starts_with("PUT /session"))
        .count();
    assert_eq!(chunks, 1, "the upload went on after SIGTERM: {requests:?}");
    // The session is cancelled; the object name is never deleted (the upload created none,
    // and one of that name from before would not be this upload's to remove).
    assert!(
        requests.iter().any(|r| r.starts_with("DELETE /session")),
        "{requests:?}"
    );
    assert!(
        !requests.iter().any(|r| r.starts_with("DELETE /storage/")),
        "{requests:?}"
    );
    assert!(env.staging_is_empty());
    assert_contains!(outcome.stderr, "interrupted by a shutdown signal");
    // An operator's stop is logged as one, not as an error to alert on.
    assert_not_contains!(outcome.stderr, "ERROR");
}
