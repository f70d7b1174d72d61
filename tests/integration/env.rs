//! `TestEnv`: a fresh directory per test with a snapshot directory, a staging directory and a
//! config file, and a way to run the binary with a clean environment.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vault_raft_snapshot::archive::build::{ArchiveOptions, archive_bytes, pseudo_random_bytes};

use crate::vault_stand_in::VaultStandIn;

pub const BIN: &str = env!("CARGO_BIN_EXE_vault-raft-snapshot");

/// What a finished run printed.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub struct TestEnv {
    pub root: tempfile::TempDir,
    pub snaps: PathBuf,
    pub tmp: PathBuf,
}

impl TestEnv {
    pub fn new() -> Self {
        let root = tempfile::tempdir().expect("temp dir");
        let snaps = root.path().join("snaps");
        let tmp = root.path().join("tmp");
        fs::create_dir(&snaps).unwrap();
        fs::create_dir(&tmp).unwrap();
        Self { root, snaps, tmp }
    }

    pub fn config_path(&self) -> PathBuf {
        self.root.path().join("snapshot.json")
    }

    /// Writes a config for `vault` with AppRole, local storage and the staging dir, with the
    /// keys of `extra` added or replaced (a `null` removes a key).
    pub fn write_config(&self, vault: &VaultStandIn, extra: Value) {
        let mut config = json!({
            "addr": vault.url(),
            "role_id": "test-role-id",
            "secret_id": "test-secret-id",
            "local_storage": {"path": self.snaps},
            "temp_dir": self.tmp,
        });
        let object = config.as_object_mut().unwrap();
        for (key, value) in extra.as_object().unwrap() {
            if value.is_null() {
                object.remove(key);
            } else {
                object.insert(key.clone(), value.clone());
            }
        }
        self.write_config_json(&config);
    }

    /// Writes `config` as the config file, as it is.
    pub fn write_config_json(&self, config: &Value) {
        fs::write(
            self.config_path(),
            serde_json::to_string_pretty(config).unwrap(),
        )
        .unwrap();
    }

    /// The binary with `--config` and an environment free of the developer's Vault settings.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command.arg("--config").arg(self.config_path()).args(args);
        for (key, _) in std::env::vars() {
            if key.starts_with("VAULT_") || key.starts_with("BAO_") || key == "RUST_LOG" {
                command.env_remove(key);
            }
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    pub fn run(&self, args: &[&str]) -> Outcome {
        finish(
            self.command(args).spawn().expect("spawn the binary"),
            Duration::from_secs(60),
        )
    }

    /// Snapshot directory entries, sorted.
    pub fn files(&self) -> Vec<String> {
        list(&self.snaps)
    }

    pub fn staging_is_empty(&self) -> bool {
        list(&self.tmp).is_empty()
    }

    /// Writes a snapshot-named file in the snapshot directory.
    pub fn put(&self, name: &str, bytes: &[u8]) {
        fs::write(self.snaps.join(name), bytes).unwrap();
    }
}

pub fn list(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Polls `condition` every 20 ms until it holds; fails the test naming `what` after `limit`.
#[track_caller]
pub fn wait_for(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for `child` (killing it after `limit`) and collects its output.
pub fn finish(mut child: Child, limit: Duration) -> Outcome {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A valid archive with `state_len` bytes of incompressible state.
pub fn valid_archive(state_len: usize) -> Vec<u8> {
    archive_bytes(
        &pseudo_random_bytes(state_len, 42),
        &ArchiveOptions::default(),
    )
    .unwrap()
}

/// Asserts `outcome` exited with `code`, showing its output otherwise.
#[track_caller]
pub fn assert_code(outcome: &Outcome, code: i32) {
    assert_eq!(
        outcome.code, code,
        "exit code\n--- stdout\n{}\n--- stderr\n{}",
        outcome.stdout, outcome.stderr
    );
}

/// A `run` in the background whose log is read as it is written, so a test can wait for a
/// line, change the world, and wait for the next. Stopped (SIGTERM, by its own PID) by
/// [`LiveRun::stop`] or on drop.
pub struct LiveRun {
    child: Option<Child>,
    log: std::sync::Arc<std::sync::Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl LiveRun {
    /// Starts `command` (stderr is read here; stdout is kept).
    pub fn start(mut command: Command) -> Self {
        use std::io::BufRead;
        let mut child = command.spawn().expect("spawn the binary");
        let stderr = child.stderr.take().unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = log.clone();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Self {
            child: Some(child),
            log,
            reader: Some(reader),
        }
    }

    /// Everything logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until a line logged after byte `from` of the log contains every one of `parts`;
    /// returns the byte just after that line (the `from` of the next wait: lines logged in
    /// the same burst after it are still ahead of the next wait).
    #[track_caller]
    pub fn wait_for(&self, from: usize, parts: &[&str], limit: Duration) -> usize {
        let started = Instant::now();
        loop {
            let log = self.log();
            let mut end = from;
            for line in log[from..].split_inclusive('\n') {
                end += line.len();
                if parts.iter().all(|p| line.contains(p)) {
                    return end;
                }
            }
            assert!(
                started.elapsed() < limit,
                "no line with {parts:?} within {limit:?}; log after byte {from}:\n{}",
                &log[from..]
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then the outcome (stderr is the whole log).
    pub fn stop(mut self) -> Outcome {
        let child = self.child.take().unwrap();
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let mut outcome = finish(child, Duration::from_secs(10));
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        outcome.stderr = self.log();
        outcome
    }
}

impl Drop for LiveRun {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
    }
}
