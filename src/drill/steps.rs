//! The steps of a drill against its scratch server, each timed: start, init, restore
//! (`snapshot-force`), unseal, active, login, expect, index. The fetch is the caller's (it
//! needs the session's storages) and is recorded through the same [`Recorder`].
//!
//! Every wait polls with short calls and ends when the drill's stop flag is raised: by a
//! shutdown signal, or by `drill.timeout`. No secret (unseal key, the scratch root token, a
//! restored token) is put in a message: Vault's answers to the unseal calls are scrubbed of
//! the keys, and tokens only travel in headers.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use log::{debug, info};
use serde_json::{Value, json};

use super::server::ScratchServer;
use super::{Step, secs};
use crate::config::{AuthMethod, Config, DrillConfig, DrillUnseal};
use crate::secret::Secret;
use crate::shutdown::StopFlag;
use crate::vault::api::error_message;
use crate::vault::auth::Authenticator;
use crate::vault::client::{VaultClient, VaultError};

/// Records the steps as they end, and hands each to `on_step` (to print it at once).
pub struct Recorder<'a> {
    /// The steps so far.
    pub steps: Vec<Step>,
    /// The step that failed, and why.
    pub failed: Option<(&'static str, String)>,
    on_step: &'a mut dyn FnMut(&Step),
    started: Instant,
    timeout: Option<(Duration, Arc<AtomicBool>)>,
}

impl<'a> Recorder<'a> {
    /// A recorder whose clock starts now.
    pub fn new(on_step: &'a mut dyn FnMut(&Step)) -> Self {
        Recorder {
            steps: Vec::new(),
            failed: None,
            on_step,
            started: Instant::now(),
            timeout: None,
        }
    }

    /// Time since the recorder was made.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Runs one step: `work` returns its value and what it did (the step's detail). A
    /// failure is recorded with its reason (`drill.timeout` when that ended it) and returned.
    ///
    /// # Errors
    /// What `work` returned, as `drill step <name> failed: <why>`.
    pub fn step<T>(
        &mut self,
        name: &'static str,
        work: impl FnOnce() -> Result<(T, String)>,
    ) -> Result<T> {
        let started = Instant::now();
        let result = work();
        let seconds = secs(started.elapsed());
        match result {
            Ok((value, detail)) => {
                let step = Step {
                    step: name,
                    seconds,
                    ok: true,
                    detail,
                };
                (self.on_step)(&step);
                self.steps.push(step);
                Ok(value)
            }
            Err(e) => {
                let e = match &self.timeout {
                    Some((limit, hit)) if hit.load(Ordering::SeqCst) => anyhow!(
                        "drill.timeout ({}) reached: {e:#}",
                        crate::duration::format(*limit)
                    ),
                    _ => e,
                };
                let why = format!("{e:#}");
                let step = Step {
                    step: name,
                    seconds,
                    ok: false,
                    detail: why.clone(),
                };
                (self.on_step)(&step);
                self.steps.push(step);
                self.failed = Some((name, why));
                Err(e.context(format!("drill step {name} failed")))
            }
        }
    }
}

/// What a drill restores, and with what.
pub struct Input<'a> {
    /// The config (its `drill` object, its auth for the login, `temp_dir`).
    pub config: &'a Config,
    /// The `drill` object.
    pub drill: &'a DrillConfig,
    /// The verified snapshot file.
    pub snapshot: &'a Path,
    /// Its Raft index.
    pub snapshot_index: u64,
    /// The unseal keys, read (for [`DrillUnseal::Keys`]).
    pub unseal_keys: Vec<Secret>,
    /// `drill.token`, read.
    pub token: Option<Secret>,
    /// The session's stop flag (signals).
    pub stop: &'a StopFlag,
}

/// Raises a flag when the session's is raised or the deadline passes; stops when dropped.
struct Guard {
    done: Arc<AtomicBool>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
    }
}

fn guard(session: &StopFlag, limit: Duration, hit: Arc<AtomicBool>) -> (StopFlag, Guard) {
    let stop = StopFlag::never();
    let done = Arc::new(AtomicBool::new(false));
    let (raised, outer, finished) = (stop.clone(), session.clone(), Arc::clone(&done));
    let deadline = Instant::now() + limit;
    std::thread::spawn(move || {
        while !finished.load(Ordering::SeqCst) {
            if outer.requested() {
                raised.raise();
                return;
            }
            if Instant::now() >= deadline {
                hit.store(true, Ordering::SeqCst);
                raised.raise();
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    (stop, Guard { done })
}

/// The scratch server's API, with short calls that end on the drill's stop.
struct Scratch {
    agent: ureq::Agent,
    addr: String,
    stop: StopFlag,
}

/// How long one call to the scratch server may take (a poll tries again).
const CALL_TIMEOUT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(200);

impl Scratch {
    fn new(addr: &str, stop: &StopFlag) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_global(Some(CALL_TIMEOUT))
            .build();
        Scratch {
            agent: crate::http::agent(config, stop.clone()),
            addr: addr.to_string(),
            stop: stop.clone(),
        }
    }

    /// `method path` with `token` and a JSON `body`: the status and the body's text.
    fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&Secret>,
        body: Option<&Value>,
    ) -> Result<(u16, String)> {
        let url = format!("{}/v1/{path}", self.addr);
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("X-Vault-Request", "true");
        if let Some(token) = token {
            request = request.header("X-Vault-Token", token.expose());
        }
        let text = body.map(Value::to_string).unwrap_or_default();
        let mut response = self
            .agent
            .run(request.body(text)?)
            .with_context(|| format!("{method} {url}"))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(1024 * 1024)
            .read_to_string()
            .unwrap_or_default();
        Ok((status, text))
    }

    fn json(&self, method: &str, path: &str, token: Option<&Secret>) -> Result<(u16, Value)> {
        let (status, text) = self.call(method, path, token, None)?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// Polls `check` until it returns `Some`; `what` and the last thing seen name a stop.
    fn poll<T>(&self, what: &str, mut check: impl FnMut() -> Result<Option<T>>) -> Result<T> {
        let mut last = String::from("no answer yet");
        loop {
            if self.stop.requested() {
                bail!("stopped while waiting for {what} (last seen: {last})");
            }
            match check() {
                Ok(Some(value)) => return Ok(value),
                Ok(None) => {}
                Err(e) => last = format!("{e:#}"),
            }
            std::thread::sleep(POLL);
        }
    }
}

fn refused(method: &str, path: &str, status: u16, text: &str) -> anyhow::Error {
    anyhow!(
        "{method} {path} answered {status}: {}",
        crate::text::escape(&error_message(text))
    )
}

/// Runs the drill's server steps, recording each; returns the restored Raft index. The
/// scratch server is stopped and its directory removed before this returns, whatever the
/// outcome.
///
/// # Errors
/// The first step that failed (see [`Recorder::step`]).
pub fn drill(input: &Input<'_>, rec: &mut Recorder<'_>) -> Result<u64> {
    let hit = Arc::new(AtomicBool::new(false));
    rec.timeout = Some((input.drill.timeout, Arc::clone(&hit)));
    let (stop, _guard) = guard(input.stop, input.drill.timeout, hit);
    let seal = match &input.drill.unseal {
        DrillUnseal::Seal(stanza) => Some(stanza.as_str()),
        DrillUnseal::Keys(_) => None,
    };
    let mut server = rec.step("start", || {
        let server =
            ScratchServer::start(&input.drill.server, &input.config.temp_dir, seal, &stop)?;
        let detail = format!(
            "{} listening on {} (PID {}, directory {})",
            input.drill.server.display(),
            server.addr(),
            server.pid().unwrap_or(0),
            server.dir().display()
        );
        Ok((server, detail))
    })?;
    let result = steps(input, rec, &mut server, &stop);
    let tail = server.log_tail();
    server.stop();
    if result.is_err() {
        debug!("the scratch server's last log lines: {tail}");
    }
    result
}

fn steps(
    input: &Input<'_>,
    rec: &mut Recorder<'_>,
    server: &mut ScratchServer,
    stop: &StopFlag,
) -> Result<u64> {
    let api = Scratch::new(server.addr(), stop);
    let root = rec.step("init", || {
        let version = api.poll("the scratch server to answer sys/seal-status", || {
            let (status, body) = api.json("GET", "sys/seal-status", None)?;
            if status != 200 {
                bail!("sys/seal-status answered {status}");
            }
            Ok(Some(body["version"].as_str().unwrap_or("").to_string()))
        })?;
        let body = match input.drill.unseal {
            DrillUnseal::Keys(_) => json!({"secret_shares": 1, "secret_threshold": 1}),
            DrillUnseal::Seal(_) => json!({"recovery_shares": 1, "recovery_threshold": 1}),
        };
        let (status, text) = api.call("PUT", "sys/init", None, Some(&body))?;
        if status != 200 {
            return Err(refused("PUT", "sys/init", status, &text));
        }
        let answer: Value = serde_json::from_str(&text).context("sys/init: not JSON")?;
        let token = answer["root_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .map(Secret::new)
            .ok_or_else(|| anyhow!("sys/init answered no root_token"))?;
        if let DrillUnseal::Keys(_) = input.drill.unseal {
            // The scratch server's own key, to reach the point where it takes the snapshot.
            let key = answer["keys_base64"][0].as_str().map(Secret::new);
            let key = key.ok_or_else(|| anyhow!("sys/init answered no keys_base64"))?;
            unseal_with(&api, std::slice::from_ref(&key), "its own")?;
        }
        api.poll("the scratch server to become active", || {
            let (status, _) = api.json("GET", "sys/health", None)?;
            Ok((status == 200).then_some(()))
        })?;
        Ok((token, format!("initialised, version {version}")))
    })?;
    rec.step("restore", || {
        let size = std::fs::metadata(input.snapshot)?.len();
        let url = format!("{}/v1/sys/storage/raft/snapshot-force", server.addr());
        let mut file = File::open(input.snapshot)
            .with_context(|| format!("cannot open {}", input.snapshot.display()))?;
        let mut response = api
            .agent
            .post(&url)
            .config()
            .timeout_global(None)
            .build()
            .header("X-Vault-Request", "true")
            .header("X-Vault-Token", root.expose())
            .header("Content-Type", "application/octet-stream")
            .header("Content-Length", size.to_string())
            .send(ureq::SendBody::from_reader(&mut file))
            .with_context(|| format!("sending the snapshot to POST {url} failed"))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(1024 * 1024)
            .read_to_string()
            .unwrap_or_default();
        if !(200..300).contains(&status) {
            return Err(refused(
                "POST",
                "sys/storage/raft/snapshot-force",
                status,
                &text,
            ));
        }
        Ok(((), format!("{size} bytes taken by snapshot-force")))
    })?;
    drop(root);
    rec.step("unseal", || match &input.drill.unseal {
        DrillUnseal::Keys(_) => {
            // snapshot-force brings in the source cluster's keyring: the server seals.
            let started = Instant::now();
            let sealed = api.poll("the restored server to seal", || {
                let (_, body) = api.json("GET", "sys/seal-status", None)?;
                if body["sealed"] == true {
                    return Ok(Some(true));
                }
                Ok((started.elapsed() > Duration::from_secs(30)).then_some(false))
            })?;
            if !sealed {
                return Ok(((), "the server did not seal after the restore".to_string()));
            }
            unseal_with(&api, &input.unseal_keys, "the source cluster's")?;
            Ok((
                (),
                format!(
                    "unsealed with {} of the source cluster's keys",
                    input.unseal_keys.len()
                ),
            ))
        }
        DrillUnseal::Seal(_) => {
            api.poll("the seal to unseal the restored server", || {
                let (_, body) = api.json("GET", "sys/seal-status", None)?;
                Ok((body["sealed"] == false).then_some(()))
            })?;
            Ok(((), "unsealed by drill.seal".to_string()))
        }
    })?;
    rec.step("active", || {
        api.poll("the restored server to become active", || {
            let (status, _) = api.json("GET", "sys/health", None)?;
            if status != 200 {
                bail!("sys/health answered {status}");
            }
            let (_, leader) = api.json("GET", "sys/leader", None)?;
            Ok((leader["is_self"] == true).then_some(()))
        })?;
        Ok((
            (),
            "unsealed and active (sys/health 200, sys/leader is_self)".to_string(),
        ))
    })?;
    let token = rec.step("login", || login(input, &api, server.addr(), stop))?;
    rec.step("expect", || {
        for path in &input.drill.expect {
            let status = api.poll(&format!("{path} to answer"), || {
                let (status, text) = api.call("GET", path, Some(&token), None)?;
                if status >= 500 {
                    bail!("{}", refused("GET", path, status, &text));
                }
                Ok(Some((status, text)))
            })?;
            match status.0 {
                200 => {}
                404 => bail!(
                    "{path} is not in the restored data: {}",
                    refused("GET", path, 404, &status.1)
                ),
                other => bail!(
                    "{path} cannot be read: {}",
                    refused("GET", path, other, &status.1)
                ),
            }
        }
        let n = input.drill.expect.len();
        Ok((
            (),
            format!("{n} path{} answered 200", if n == 1 { "" } else { "s" }),
        ))
    })?;
    rec.step("index", || {
        let (status, leader) = api.json("GET", "sys/leader", None)?;
        let index = leader["raft_committed_index"].as_u64();
        let Some(index) = index.filter(|_| status == 200) else {
            bail!("sys/leader answered {status} without raft_committed_index");
        };
        if index < input.snapshot_index {
            bail!(
                "the restored Raft index {index} is below the snapshot's {}",
                input.snapshot_index
            );
        }
        Ok((
            index,
            format!(
                "restored Raft index {index} >= the snapshot's {}",
                input.snapshot_index
            ),
        ))
    })
}

/// Sends `keys` to sys/unseal until the server is unsealed. Vault's answers are scrubbed of
/// the keys before they are put in a message.
fn unseal_with(api: &Scratch, keys: &[Secret], whose: &str) -> Result<()> {
    let scrub = |text: &str| {
        let mut text = error_message(text);
        for key in keys {
            if !key.expose().is_empty() {
                text = text.replace(key.expose(), "<unseal key>");
            }
        }
        crate::text::escape(&text).into_owned()
    };
    let mut last = Value::Null;
    for (i, key) in keys.iter().enumerate() {
        let (status, text) = api.call(
            "PUT",
            "sys/unseal",
            None,
            Some(&json!({"key": key.expose()})),
        )?;
        if status != 200 {
            bail!(
                "the server refused {whose} unseal key {} of {}: {status}: {}",
                i + 1,
                keys.len(),
                scrub(&text)
            );
        }
        last = serde_json::from_str(&text).unwrap_or(Value::Null);
        if last["sealed"] == false {
            return Ok(());
        }
    }
    bail!(
        "still sealed after {whose} {} unseal key(s) (progress {} of threshold {}): wrong or too few keys",
        keys.len(),
        last["progress"],
        last["t"]
    )
}

/// A token to read with: `drill.token`, else the agent's own login against the restored data.
fn login(
    input: &Input<'_>,
    api: &Scratch,
    addr: &str,
    stop: &StopFlag,
) -> Result<(Secret, String)> {
    let (token, how) = match &input.token {
        Some(token) => (token.clone(), "drill.token".to_string()),
        None => {
            let mut settings = input.config.vault.clone();
            settings.addr = addr.to_string();
            settings.tls = crate::config::TlsSettings::default();
            let client = VaultClient::with_stop(&settings, stop.clone())?;
            let mut auth = Authenticator::new(input.config.auth.clone());
            // A 5xx or no answer is waited out; a refusal ends the step at once.
            let token = api.poll("the login to be served", || match auth.token(&client) {
                Ok(token) => Ok(Some(Ok(token))),
                Err(e) if transient(&e) => Err(e),
                Err(e) => Ok(Some(Err(
                    e.context("the restored server refused the agent's login")
                ))),
            })??;
            (token, describe(&input.config.auth))
        }
    };
    // A real read: sys/health answers before the restored data is served.
    api.poll("the restored server to serve reads", || {
        let (status, text) = api.call("GET", "auth/token/lookup-self", Some(&token), None)?;
        match status {
            200 => Ok(Some(Ok(()))),
            s if s >= 500 => Err(refused("GET", "auth/token/lookup-self", s, &text)),
            s => Ok(Some(Err(refused(
                "GET",
                "auth/token/lookup-self",
                s,
                &text,
            )
            .context("the token is not valid in the restored data")))),
        }
    })??;
    info!("drill: logged in to the scratch server with {how}");
    Ok((
        token,
        format!("logged in with {how}; auth/token/lookup-self answered 200"),
    ))
}

/// A 5xx or a transport error: the restored server is still coming up.
fn transient(error: &anyhow::Error) -> bool {
    match error.chain().find_map(|e| e.downcast_ref::<VaultError>()) {
        Some(e) => e.status >= 500,
        None => true,
    }
}

fn describe(auth: &AuthMethod) -> String {
    match (auth, auth.mount()) {
        (AuthMethod::TokenFile(path), _) => format!("the token in {}", path.display()),
        (AuthMethod::Kubernetes { mount, role, .. }, _) => {
            format!("Kubernetes role {role} at auth/{mount}")
        }
        (_, Some(mount)) => format!("{} at auth/{mount}", auth.name()),
        (_, None) => auth.name().to_string(),
    }
}
