//! A Vault stand-in: an HTTP/1.1 server on 127.0.0.1 that answers the endpoints the agent
//! uses, as `shared/vault-api.md` describes them, including the ways they fail.
//!
//! - `GET /v1/sys/leader` for a leader, a standby, a sealed node (503) and a non-HA node;
//! - `GET|HEAD /v1/sys/health` with Vault's status codes;
//! - AppRole, Kubernetes and other logins (`State::other_logins`) (PUT and POST), `auth/token/renew-self` and
//!   `auth/token/lookup-self`, with real TTLs and max TTLs: an expired token gets 403;
//! - `GET /v1/sys/storage/raft/snapshot`, streamed with `Transfer-Encoding: chunked` (or with a
//!   `Content-Length`, as Go sends bodies under 2 KiB), with a 307 from a standby, and every
//!   fault of section 9.7: a body cut at any offset but ended cleanly, a dropped gzip trailer,
//!   trailing bytes, 503 sealed, 500 before the body, the wrong Content-Type, and archives
//!   spoiled inside (built with `vault_raft_snapshot::archive::build`).
//!
//! Every request is recorded (method, path, headers, body) so tests can check what the agent
//! sent. Each connection is answered once and closed (`Connection: close`).

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};

/// TLS settings for an https stand-in: the server's rustls configuration.
pub type TlsServerConfig = Arc<rustls::ServerConfig>;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// What `sys/leader` and the snapshot endpoint say about this node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The active node.
    Leader,
    /// A standby: snapshot requests get a 307 to `leader_address`.
    Standby,
    /// Sealed: 503 `Vault is sealed` everywhere.
    Sealed,
    /// No HA storage: `ha_enabled: false`.
    NonHa,
}

/// How the snapshot endpoint misbehaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapshotFault {
    /// Serve the snapshot as it is.
    None,
    /// Send only the first `n` bytes, then end the chunked body cleanly (`0\r\n\r\n`).
    CutAt(usize),
    /// Leave out the 8-byte gzip trailer.
    DropTrailer,
    /// Append bytes after the gzip stream.
    TrailingGarbage,
    /// 307 to this URL (plus the snapshot path), whatever the mode.
    Redirect(String),
    /// 503 `Vault is sealed` on the snapshot endpoint only.
    Sealed,
    /// 500 with a JSON error before any body byte.
    ServerError,
    /// 200 with `Content-Type: application/json` and a JSON error body.
    JsonBody,
    /// The first snapshot request gets 403 (a revoked token), later ones are served.
    ForbiddenOnce,
    /// Declare a `Content-Length` 1000 bytes longer than what is sent, then close.
    ShortContentLength,
    /// Send the first `n` bytes, then nothing more, the connection left open (for a minute).
    StallAt(usize),
    /// Send the first `n` bytes, then reset the connection (RST).
    ResetAt(usize),
}

/// The error `snapshot` returns to have the connection reset rather than closed.
const RESET: &str = "stand-in: reset the connection";

/// One request as received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct TokenInfo {
    expires: Option<Instant>,
    max_expires: Option<Instant>,
    renewable: bool,
}

/// Everything a test may change while the server runs.
pub struct State {
    pub mode: Mode,
    /// `leader_address` in `sys/leader`; defaults to this server's own URL.
    pub leader_address: String,
    /// The bytes served by the snapshot endpoint.
    pub snapshot: Arc<Vec<u8>>,
    pub fault: SnapshotFault,
    /// Bytes per chunk, and a pause between chunks (for slow-stream tests).
    pub chunk_size: usize,
    pub chunk_delay: Duration,
    /// Send a `Content-Length` instead of chunking (as Go does for bodies under 2 KiB).
    pub content_length: bool,
    pub approle_mount: String,
    pub role_id: String,
    pub secret_id: String,
    pub k8s_mount: String,
    pub k8s_role: String,
    pub k8s_jwt: String,
    /// Further login mounts (gcp, azure, ...): the mount and the exact JSON body it accepts.
    pub other_logins: Vec<(String, serde_json::Value)>,
    /// Lease of issued tokens and their max TTL, in seconds (0 = no expiry).
    pub token_ttl: u64,
    pub token_max_ttl: u64,
    pub renewable: bool,
    tokens: HashMap<String, TokenInfo>,
    pub requests: Vec<Recorded>,
    forbidden_served: bool,
    /// When set, a restore POST gets a 307 to this URL instead of 204.
    pub restore_redirect: Option<String>,
    /// What `sys/capabilities-self` says a valid token may do on the snapshot path.
    pub capabilities: Vec<String>,
    /// After a restore POST: for how long requests through Vault's request handler are held
    /// (as Vault holds them while it applies a restore; `sys/health`, `sys/leader` and
    /// `sys/seal-status` answer throughout), and the mode the node is in afterwards.
    pub after_restore: Option<(Duration, Mode)>,
    applying: Option<(Instant, Mode)>,
    /// Logins at other mounts (`aws`, ...): the mount and a check of the login body, run
    /// without the state locked (it may ask another server).
    pub login_hooks: Vec<(String, LoginHook)>,
}

/// Decides whether a login body is accepted.
pub type LoginHook = Arc<dyn Fn(&serde_json::Value) -> bool + Send + Sync>;

/// A running stand-in.
pub struct VaultStandIn {
    addr: SocketAddr,
    scheme: &'static str,
    state: Arc<Mutex<State>>,
}

static TOKEN_COUNTER: AtomicU64 = AtomicU64::new(1);

/// The prefix of every token the stand-in issues (tests look for it in logs).
pub const TOKEN_PREFIX: &str = "hvs.STANDIN-TOKEN-";

impl VaultStandIn {
    /// Starts a leader serving `snapshot`.
    pub fn start(snapshot: Vec<u8>) -> Self {
        Self::start_on("127.0.0.1:0", snapshot)
    }

    /// Starts on a given address (the demo and benchmark pick a port).
    pub fn start_on(bind: &str, snapshot: Vec<u8>) -> Self {
        Self::start_with(bind, snapshot, None)
    }

    /// Starts an https leader with the given rustls server configuration.
    pub fn start_tls(snapshot: Vec<u8>, tls: TlsServerConfig) -> Self {
        Self::start_with("127.0.0.1:0", snapshot, Some(tls))
    }

    fn start_with(bind: &str, snapshot: Vec<u8>, tls: Option<TlsServerConfig>) -> Self {
        let listener = TcpListener::bind(bind).expect("bind the stand-in");
        let addr = listener.local_addr().expect("local addr");
        let scheme = if tls.is_some() { "https" } else { "http" };
        let state = Arc::new(Mutex::new(State {
            mode: Mode::Leader,
            leader_address: format!("{scheme}://{addr}"),
            snapshot: Arc::new(snapshot),
            fault: SnapshotFault::None,
            chunk_size: 16 * 1024,
            chunk_delay: Duration::ZERO,
            content_length: false,
            approle_mount: "approle".into(),
            role_id: "test-role-id".into(),
            secret_id: "test-secret-id".into(),
            k8s_mount: "kubernetes".into(),
            k8s_role: "snapshot".into(),
            k8s_jwt: "eyJ.test-jwt".into(),
            other_logins: Vec::new(),
            token_ttl: 3600,
            token_max_ttl: 0,
            renewable: true,
            tokens: HashMap::new(),
            requests: Vec::new(),
            forbidden_served: false,
            restore_redirect: None,
            capabilities: vec!["read".into()],
            after_restore: None,
            applying: None,
            login_hooks: Vec::new(),
        }));
        let shared = Arc::clone(&state);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                let tls = tls.clone();
                thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                    match tls {
                        None => {
                            if let Err(e) = handle(&stream, &state)
                                && e.to_string() == RESET
                            {
                                reset(&stream);
                            }
                        }
                        Some(config) => {
                            let Ok(connection) = rustls::ServerConnection::new(config) else {
                                return;
                            };
                            let mut tls_stream = rustls::StreamOwned::new(connection, stream);
                            if handle(&mut tls_stream, &state).is_ok() {
                                tls_stream.conn.send_close_notify();
                                let _ = tls_stream.flush();
                            }
                        }
                    }
                });
            }
        });
        Self {
            addr,
            scheme,
            state,
        }
    }

    /// `http://127.0.0.1:PORT` (or `https://` for a TLS stand-in).
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// Locks the state to read or change it.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Revokes every token issued so far (`vault token revoke`): they get 403 from now on.
    pub fn revoke_all_tokens(&self) {
        self.state().tokens.clear();
    }

    /// Adds a token that never expires (like a root token).
    pub fn add_static_token(&self, token: &str) {
        self.state().tokens.insert(
            token.into(),
            TokenInfo {
                expires: None,
                max_expires: None,
                renewable: false,
            },
        );
    }

    /// The recorded requests whose path starts with `prefix`.
    pub fn requests_to(&self, prefix: &str) -> Vec<Recorded> {
        self.state()
            .requests
            .iter()
            .filter(|r| r.path.starts_with(prefix))
            .cloned()
            .collect()
    }
}

fn handle<S: Read + Write>(mut stream: S, state: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(&mut stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" {
            break;
        }
        if let Some((k, v)) = header.trim_end().split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    drop(reader);
    let path = target.split('?').next().unwrap_or("").to_string();
    let request = Recorded {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    lock(state).requests.push(request.clone());
    respond(&mut stream, state, &request)
}

/// While a restore is being applied, holds a request through the request handler until it
/// is done, then puts the node in the mode it is in afterwards.
fn settle_restore(state: &Mutex<State>, path: &str) {
    let Some((until, _)) = lock(state).applying.clone() else {
        return;
    };
    let lock_free = matches!(
        path,
        "/v1/sys/health" | "/v1/sys/leader" | "/v1/sys/seal-status"
    );
    if !lock_free {
        thread::sleep(until.saturating_duration_since(Instant::now()));
    }
    let mut s = lock(state);
    if let Some((until, after)) = s.applying.clone()
        && Instant::now() >= until
    {
        s.mode = after;
        s.applying = None;
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

fn respond(
    stream: &mut dyn Write,
    state: &Mutex<State>,
    request: &Recorded,
) -> std::io::Result<()> {
    let method = request.method.as_str();
    let path = request.path.as_str();
    let update = matches!(method, "PUT" | "POST");
    settle_restore(state, path);
    let mode = lock(state).mode.clone();
    if path == "/v1/sys/leader" {
        if method != "GET" {
            return json(stream, 405, r#"{"errors":[]}"#);
        }
        return match mode {
            Mode::Sealed => sealed(stream),
            Mode::NonHa => json(
                stream,
                200,
                r#"{"ha_enabled":false,"is_self":false,"active_time":"0001-01-01T00:00:00Z","leader_address":"","leader_cluster_address":"","performance_standby":false,"performance_standby_last_remote_wal":0}"#,
            ),
            Mode::Leader | Mode::Standby => {
                let is_self = mode == Mode::Leader;
                let leader = lock(state).leader_address.clone();
                let active = if is_self {
                    "2026-11-23T03:00:00Z"
                } else {
                    "0001-01-01T00:00:00Z"
                };
                json(
                    stream,
                    200,
                    &format!(
                        r#"{{"ha_enabled":true,"is_self":{is_self},"active_time":"{active}","leader_address":"{leader}","leader_cluster_address":"{leader}","performance_standby":false,"performance_standby_last_remote_wal":0,"raft_committed_index":1234,"raft_applied_index":1234}}"#
                    ),
                )
            }
        };
    }
    if path == "/v1/sys/health" {
        let (code, standby, sealed) = match mode {
            Mode::Leader | Mode::NonHa => (200, false, false),
            Mode::Standby => (429, true, false),
            Mode::Sealed => (503, false, true),
        };
        let body = format!(
            r#"{{"initialized":true,"sealed":{sealed},"standby":{standby},"performance_standby":false,"replication_performance_mode":"disabled","replication_dr_mode":"disabled","server_time_utc":1795405200,"version":"1.17.0","enterprise":false,"echo_duration_ms":0,"clock_skew_ms":0,"replication_primary_canary_age_ms":0}}"#
        );
        return match method {
            "HEAD" => write_head(stream, code, "application/json", Some(0)),
            "GET" => json(stream, code, &body),
            _ => json(stream, 405, r#"{"errors":[]}"#),
        };
    }
    if path == "/v1/sys/seal-status" && method == "GET" {
        let sealed = mode == Mode::Sealed;
        return json(
            stream,
            200,
            &format!(
                r#"{{"type":"shamir","initialized":true,"sealed":{sealed},"t":1,"n":1,"progress":0,"nonce":"","version":"1.17.0","build_date":"2024-06-10T10:11:34Z","migration":false,"cluster_name":"vault-cluster-standin","cluster_id":"00000000-0000-0000-0000-000000000000","recovery_seal":false,"storage_type":"raft"}}"#
            ),
        );
    }
    if mode == Mode::Sealed {
        return sealed(stream);
    }
    if path == "/v1/sys/capabilities-self" && update {
        if valid_token(state, request).is_none() {
            return permission_denied(stream);
        }
        let caps = serde_json::to_string(&lock(state).capabilities).unwrap();
        return json(
            stream,
            200,
            &format!(
                r#"{{"capabilities":{caps},"sys/storage/raft/snapshot":{caps},"data":{{"capabilities":{caps},"sys/storage/raft/snapshot":{caps}}}}}"#
            ),
        );
    }
    if let Some(mount) = path
        .strip_prefix("/v1/auth/")
        .and_then(|p| p.strip_suffix("/login"))
    {
        if !update {
            return json(stream, 405, r#"{"errors":[]}"#);
        }
        return login(stream, state, mount, &request.body);
    }
    if path == "/v1/auth/token/renew-self" && update {
        return renew(stream, state, request);
    }
    if path == "/v1/auth/token/revoke-self" && update {
        let token = request.header("x-vault-token").unwrap_or("").to_string();
        if valid_token(state, request).is_none() {
            return permission_denied(stream);
        }
        lock(state).tokens.remove(&token);
        return write!(
            stream,
            "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
        );
    }
    if path == "/v1/auth/token/lookup-self" && method == "GET" {
        return match valid_token(state, request) {
            Some(ttl) => json(
                stream,
                200,
                &format!(
                    r#"{{"request_id":"r","lease_id":"","renewable":false,"lease_duration":0,"data":{{"ttl":{ttl},"policies":["snapshot"],"type":"service"}},"wrap_info":null,"warnings":null,"auth":null}}"#
                ),
            ),
            None => permission_denied(stream),
        };
    }
    if path == "/v1/sys/storage/raft/snapshot" && method == "GET" {
        return snapshot(stream, state, request, &mode);
    }
    if method == "POST"
        && matches!(
            path,
            "/v1/sys/storage/raft/snapshot" | "/v1/sys/storage/raft/snapshot-force"
        )
    {
        let redirect = lock(state).restore_redirect.clone();
        if redirect.is_none() {
            let mut s = lock(state);
            if let Some((hold, after)) = s.after_restore.clone() {
                s.applying = Some((Instant::now() + hold, after));
            }
        }
        return match redirect {
            Some(location) => write!(
                stream,
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}{path}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            ),
            None => write!(
                stream,
                "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
            ),
        };
    }
    json(stream, 404, r#"{"errors":[]}"#)
}

fn login(
    stream: &mut dyn Write,
    state: &Mutex<State>,
    mount: &str,
    body: &str,
) -> std::io::Result<()> {
    let body: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let field = |name: &str| {
        body.get(name)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let hook = lock(state)
        .login_hooks
        .iter()
        .find(|(m, _)| m == mount)
        .map(|(_, hook)| Arc::clone(hook));
    let hooked = hook.map(|hook| hook(&body));
    let mut s = lock(state);
    let accepted = if let Some(accepted) = hooked {
        accepted
    } else if mount == s.approle_mount {
        field("role_id") == s.role_id && field("secret_id") == s.secret_id
    } else if mount == s.k8s_mount {
        field("role") == s.k8s_role && field("jwt") == s.k8s_jwt
    } else if let Some((_, expected)) = s.other_logins.iter().find(|(m, _)| m == mount) {
        body == *expected
    } else {
        drop(s);
        return json(
            stream,
            400,
            r#"{"errors":["no handler for route \"auth/unknown\". route entry not found."]}"#,
        );
    };
    if !accepted {
        drop(s);
        return json(stream, 400, r#"{"errors":["invalid role or secret ID"]}"#);
    }
    let token = format!(
        "{TOKEN_PREFIX}{}",
        TOKEN_COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    let now = Instant::now();
    let (ttl, max_ttl, renewable) = (s.token_ttl, s.token_max_ttl, s.renewable);
    s.tokens.insert(
        token.clone(),
        TokenInfo {
            expires: (ttl > 0).then(|| now + Duration::from_secs(ttl)),
            max_expires: (max_ttl > 0).then(|| now + Duration::from_secs(max_ttl)),
            renewable,
        },
    );
    drop(s);
    json(stream, 200, &auth_body(&token, ttl, renewable))
}

fn renew(stream: &mut dyn Write, state: &Mutex<State>, request: &Recorded) -> std::io::Result<()> {
    let Some(token) = token_of(request) else {
        return permission_denied(stream);
    };
    let body: serde_json::Value = serde_json::from_str(&request.body).unwrap_or_default();
    let mut s = lock(state);
    let default_ttl = s.token_ttl;
    let now = Instant::now();
    let Some(info) = s.tokens.get_mut(&token) else {
        drop(s);
        return permission_denied(stream);
    };
    if info.expires.is_some_and(|e| e <= now) {
        drop(s);
        return permission_denied(stream);
    }
    if !info.renewable {
        drop(s);
        return json(stream, 400, r#"{"errors":["lease is not renewable"]}"#);
    }
    let increment = body
        .get("increment")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(default_ttl);
    let mut expires = now + Duration::from_secs(increment);
    if let Some(max) = info.max_expires {
        expires = expires.min(max);
    }
    info.expires = Some(expires);
    let lease = expires.saturating_duration_since(now).as_secs();
    drop(s);
    json(stream, 200, &auth_body(&token, lease, true))
}

fn auth_body(token: &str, lease: u64, renewable: bool) -> String {
    format!(
        r#"{{"request_id":"r","lease_id":"","renewable":false,"lease_duration":0,"data":null,"wrap_info":null,"warnings":null,"auth":{{"client_token":"{token}","accessor":"acc","policies":["default","snapshot"],"token_policies":["default","snapshot"],"metadata":{{"role_name":"snapshot"}},"lease_duration":{lease},"renewable":{renewable},"entity_id":"e","token_type":"service","orphan":true,"mfa_requirement":null,"num_uses":0}}}}"#
    )
}

fn token_of(request: &Recorded) -> Option<String> {
    request
        .header("X-Vault-Token")
        .map(str::to_string)
        .or_else(|| {
            request
                .header("Authorization")
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_string)
        })
}

/// The remaining TTL in seconds of the request's token, if it is valid.
fn valid_token(state: &Mutex<State>, request: &Recorded) -> Option<u64> {
    let token = token_of(request)?;
    let s = lock(state);
    let info = s.tokens.get(&token)?;
    match info.expires {
        None => Some(0),
        Some(e) => {
            let now = Instant::now();
            (e > now).then(|| e.duration_since(now).as_secs())
        }
    }
}

fn snapshot(
    stream: &mut dyn Write,
    state: &Mutex<State>,
    request: &Recorded,
    mode: &Mode,
) -> std::io::Result<()> {
    let fault = lock(state).fault.clone();
    if let SnapshotFault::Redirect(to) = &fault {
        return redirect(stream, &format!("{to}/v1/sys/storage/raft/snapshot"));
    }
    if *mode == Mode::Standby {
        let leader = lock(state).leader_address.clone();
        return redirect(stream, &format!("{leader}/v1/sys/storage/raft/snapshot"));
    }
    if valid_token(state, request).is_none() {
        return permission_denied(stream);
    }
    let (bytes, chunk_size, delay, content_length) = {
        let mut s = lock(state);
        if s.fault == SnapshotFault::ForbiddenOnce && !s.forbidden_served {
            s.forbidden_served = true;
            drop(s);
            return permission_denied(stream);
        }
        (
            Arc::clone(&s.snapshot),
            s.chunk_size.max(1),
            s.chunk_delay,
            s.content_length,
        )
    };
    let body: Vec<u8> = match fault {
        SnapshotFault::Sealed => return sealed(stream),
        SnapshotFault::ServerError => {
            return json(
                stream,
                500,
                "{\"errors\":[\"1 error occurred:\\n\\t* raft error when taking snapshot: stand-in failure\\n\\n\"]}",
            );
        }
        SnapshotFault::JsonBody => return json(stream, 200, r#"{"errors":["not a snapshot"]}"#),
        SnapshotFault::ShortContentLength => {
            write_head(stream, 200, "application/gzip", Some(bytes.len() + 1000))?;
            stream.write_all(&bytes)?;
            return stream.flush();
        }
        SnapshotFault::CutAt(n) => bytes[..n.min(bytes.len())].to_vec(),
        SnapshotFault::StallAt(n) | SnapshotFault::ResetAt(n) => {
            write_head(stream, 200, "application/gzip", None)?;
            let part = &bytes[..n.min(bytes.len())];
            write!(stream, "{:x}\r\n", part.len())?;
            stream.write_all(part)?;
            stream.write_all(b"\r\n")?;
            stream.flush()?;
            if matches!(fault, SnapshotFault::ResetAt(_)) {
                return Err(std::io::Error::other(RESET));
            }
            thread::sleep(Duration::from_secs(60));
            return Ok(());
        }
        SnapshotFault::DropTrailer => bytes[..bytes.len().saturating_sub(8)].to_vec(),
        SnapshotFault::TrailingGarbage => {
            let mut b = bytes.to_vec();
            b.extend_from_slice(b"trailing garbage");
            b
        }
        SnapshotFault::None | SnapshotFault::ForbiddenOnce | SnapshotFault::Redirect(_) => {
            return send_snapshot(stream, &bytes, chunk_size, delay, content_length);
        }
    };
    send_snapshot(stream, &body, chunk_size, delay, content_length)
}

/// Closes `stream` with a reset (RST) instead of an orderly close (FIN) once it is dropped.
pub fn reset(stream: &std::net::TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a socket this thread owns, with a correctly sized value.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

fn send_snapshot(
    stream: &mut dyn Write,
    body: &[u8],
    chunk_size: usize,
    delay: Duration,
    content_length: bool,
) -> std::io::Result<()> {
    if content_length {
        write_head(stream, 200, "application/gzip", Some(body.len()))?;
        stream.write_all(body)?;
        return stream.flush();
    }
    write_head(stream, 200, "application/gzip", None)?;
    for chunk in body.chunks(chunk_size) {
        write!(stream, "{:x}\r\n", chunk.len())?;
        stream.write_all(chunk)?;
        stream.write_all(b"\r\n")?;
        if !delay.is_zero() {
            stream.flush()?;
            thread::sleep(delay);
        }
    }
    stream.write_all(b"0\r\n\r\n")?;
    stream.flush()
}

fn write_head(
    stream: &mut dyn Write,
    status: u16,
    content_type: &str,
    length: Option<usize>,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        204 => "No Content",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let framing = match length {
        Some(n) => format!("Content-Length: {n}\r\n"),
        None => "Transfer-Encoding: chunked\r\n".to_string(),
    };
    let disposition = if content_type == "application/gzip" {
        "Content-Disposition: attachment\r\n"
    } else {
        ""
    };
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nCache-Control: no-store\r\nContent-Type: {content_type}\r\n{disposition}{framing}Connection: close\r\n\r\n"
    )
}

fn json(stream: &mut dyn Write, status: u16, body: &str) -> std::io::Result<()> {
    let body = format!("{body}\n");
    write_head(stream, status, "application/json", Some(body.len()))?;
    stream.write_all(body.as_bytes())?;
    stream.flush()
}

fn redirect(stream: &mut dyn Write, location: &str) -> std::io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 307 Temporary Redirect\r\nCache-Control: no-store\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    stream.flush()
}

fn sealed(stream: &mut dyn Write) -> std::io::Result<()> {
    json(stream, 503, r#"{"errors":["Vault is sealed"]}"#)
}

fn permission_denied(stream: &mut dyn Write) -> std::io::Result<()> {
    json(
        stream,
        403,
        "{\"errors\":[\"1 error occurred:\\n\\t* permission denied\\n\\n\"]}",
    )
}
