//! One `ureq` agent for every call to Vault, with Vault's headers and TLS settings. What the
//! answers mean (statuses, Vault's `{"errors": [...]}`, JSON) is [`super::api`]'s business.
//!
//! Redirects are never followed by ureq: a standby answers the snapshot endpoint with a 307,
//! and only [`super::snapshot`] decides whether that target may be trusted with the token.

use std::fmt;
use std::time::Duration;

use anyhow::{Context, Result};
use ureq::Body;
use ureq::http::Response;

use crate::config::VaultSettings;
use crate::progress::{Progress, Reading, Show};
use crate::secret::Secret;
use crate::shutdown::StopFlag;

/// Limit on every JSON call (login, renew, leader). Vault's own client uses 60 s.
const API_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Limit on a call made while the command ends (the token's revocation): short, and not
/// ended by the stop flag, which is raised by then when a signal ended the command.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(5);
/// Limit on asking one node of a list who leads: a dead node must not hold up the others.
const NODE_TIMEOUT: Duration = Duration::from_secs(5);

/// An HTTP answer from Vault that is not the expected success: status, URL and Vault's
/// `errors` list. Callers look for it with `downcast_ref` (e.g. to log in again on 403).
#[derive(Debug)]
pub struct VaultError {
    /// HTTP status.
    pub status: u16,
    /// `METHOD URL` of the request.
    pub request: String,
    /// What Vault said, from its `errors` list (or the start of a non-JSON body).
    pub message: String,
}

impl fmt::Display for VaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Vault answered {} to {}", self.status, self.request)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for VaultError {}

/// A Vault HTTP client bound to one address.
pub struct VaultClient {
    agent: ureq::Agent,
    /// The same agent without the stop flag, for [`VaultClient::for_cleanup`].
    unstoppable: ureq::Agent,
    /// Limit on each JSON call.
    call_timeout: Duration,
    addr: String,
    /// Every node `addr` lists, when it lists two or more (see [`super::leader::find_active`]).
    nodes: Vec<String>,
    namespace: Option<String>,
    snapshot_timeout: Option<Duration>,
    idle_timeout: Duration,
}

impl VaultClient {
    /// Builds the client from validated settings, reading the TLS files they name.
    ///
    /// # Errors
    /// A [`crate::config::ConfigError`] when a TLS file cannot be read or parsed.
    pub fn new(settings: &VaultSettings) -> Result<Self, crate::config::ConfigError> {
        Self::with_stop(settings, StopFlag::never())
    }

    /// As [`VaultClient::new`], with reads that end when `stop` is raised (see
    /// [`crate::http`]), even while Vault stalls mid-stream.
    ///
    /// # Errors
    /// A [`crate::config::ConfigError`] when a TLS file cannot be read or parsed.
    pub fn with_stop(
        settings: &VaultSettings,
        stop: StopFlag,
    ) -> Result<Self, crate::config::ConfigError> {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_per_read(Some(settings.idle_timeout))
            .timeout_per_write(Some(settings.idle_timeout))
            .tls_config(super::tls::client_config(&settings.tls)?)
            .user_agent(concat!("vault-raft-snapshot/", env!("CARGO_PKG_VERSION")))
            .build();
        let unstoppable = crate::http::agent(config.clone(), StopFlag::never());
        let agent = crate::http::agent(config, stop);
        Ok(Self {
            agent,
            unstoppable,
            call_timeout: API_TIMEOUT,
            addr: settings.addr.clone(),
            nodes: settings.nodes.clone(),
            namespace: settings.namespace.clone(),
            snapshot_timeout: settings.snapshot_timeout,
            idle_timeout: settings.idle_timeout,
        })
    }

    /// This client for the calls that end a command (the token's revocation): not ended by
    /// the stop flag, and with a short limit on each call.
    #[must_use]
    pub fn for_cleanup(&self) -> Self {
        Self {
            agent: self.unstoppable.clone(),
            unstoppable: self.unstoppable.clone(),
            call_timeout: CLEANUP_TIMEOUT,
            addr: self.addr.clone(),
            nodes: self.nodes.clone(),
            namespace: self.namespace.clone(),
            snapshot_timeout: self.snapshot_timeout,
            idle_timeout: self.idle_timeout,
        }
    }

    /// This client bound to another node's address (e.g. the active node a restore went
    /// to), with `call_timeout` as the limit on each JSON call.
    #[must_use]
    pub fn at(&self, addr: &str, call_timeout: Duration) -> Self {
        Self {
            agent: self.agent.clone(),
            unstoppable: self.unstoppable.clone(),
            call_timeout,
            addr: addr.trim_end_matches('/').to_string(),
            nodes: Vec::new(),
            namespace: self.namespace.clone(),
            snapshot_timeout: self.snapshot_timeout,
            idle_timeout: self.idle_timeout,
        }
    }

    /// The longest wait for the next byte from Vault (`idle_timeout`).
    #[must_use]
    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout
    }

    /// The address calls go to, e.g. `https://127.0.0.1:8200`: the configured one, or the
    /// node of the list found active.
    #[must_use]
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Every node `addr` lists, when it lists two or more; empty for one address.
    #[must_use]
    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }

    /// Sends the calls that follow to `addr` (one of [`VaultClient::nodes`]).
    pub fn use_node(&mut self, addr: &str) {
        self.addr = addr.to_string();
    }

    /// This client at `addr`, with a short limit on each call, for asking one node of a list
    /// who leads.
    #[must_use]
    pub fn at_node(&self, addr: &str) -> Self {
        self.at(addr, NODE_TIMEOUT)
    }

    /// The URL of an API path such as `sys/leader`.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("{}/v1/{path}", self.addr)
    }

    /// Adds Vault's headers: `X-Vault-Request`, the token if any, the namespace if any.
    fn vault_headers<B>(
        &self,
        request: ureq::RequestBuilder<B>,
        token: Option<&Secret>,
    ) -> ureq::RequestBuilder<B> {
        let mut request = request.header("X-Vault-Request", "true");
        if let Some(token) = token {
            request = request.header("X-Vault-Token", token.expose());
        }
        if let Some(ns) = &self.namespace {
            request = request.header("X-Vault-Namespace", ns);
        }
        request
    }

    /// Sends one JSON call to `url` (an absolute URL) and reads the whole answer. Returns the
    /// status and body; whether that status is a success is [`super::api`]'s business.
    ///
    /// # Errors
    /// When Vault cannot be reached or the body cannot be read.
    pub(super) fn send_json(
        &self,
        method: Method,
        url: &str,
        token: Option<&Secret>,
        body: Option<&serde_json::Value>,
    ) -> Result<(u16, String)> {
        let unreachable = || format!("cannot reach Vault at {method} {url}");
        let response = match method {
            Method::Get => {
                let request = self
                    .agent
                    .get(url)
                    .config()
                    .timeout_global(Some(self.call_timeout))
                    .build();
                self.vault_headers(request, token)
                    .call()
                    .with_context(unreachable)?
            }
            Method::Put | Method::Post => {
                let request = if method == Method::Put {
                    self.agent.put(url)
                } else {
                    self.agent.post(url)
                };
                let request = self.vault_headers(
                    request
                        .config()
                        .timeout_global(Some(self.call_timeout))
                        .build(),
                    token,
                );
                match body {
                    Some(body) => request.send_json(body),
                    None => request.send_empty(),
                }
                .with_context(unreachable)?
            }
        };
        read_text(response, method, url)
    }

    /// Starts a streaming `GET` of `url` (an absolute URL: the snapshot endpoint, or the
    /// leader it redirected to), limited by the configured snapshot `timeout`.
    ///
    /// # Errors
    /// When the server cannot be reached.
    pub fn get_stream(&self, url: &str, token: &Secret) -> Result<Response<Body>> {
        let request = self
            .agent
            .get(url)
            .config()
            .timeout_global(self.snapshot_timeout)
            .build();
        self.vault_headers(request, Some(token))
            .call()
            .with_context(|| format!("cannot reach Vault at GET {url}"))
    }
}

impl VaultClient {
    /// `POST`s the file at `url` (an absolute URL) with a `Content-Length`, never following
    /// a redirect, limited only by the configured snapshot `timeout`. The answer is not
    /// checked here: see [`super::api::stream`].
    ///
    /// # Errors
    /// When the server cannot be reached or the upload breaks off.
    pub fn post_file(
        &self,
        url: &str,
        token: &Secret,
        file: &std::fs::File,
    ) -> Result<Response<Body>> {
        let request = self
            .agent
            .post(url)
            .config()
            .timeout_global(self.snapshot_timeout)
            .build();
        let size = file
            .metadata()
            .with_context(|| format!("cannot read the size of the snapshot for POST {url}"))?
            .len();
        // The bytes go through a counter for the progress bar; Content-Length is set by hand
        // so that the body is still sent whole, not chunked.
        let shown = Progress::start(
            format!("the snapshot to {url}"),
            Some(size),
            Show::BarOnTerminal,
        );
        let mut body = Reading::new(file, shown);
        self.vault_headers(request, Some(token))
            .header("Content-Type", "application/octet-stream")
            .header("Content-Length", size.to_string())
            .send(ureq::SendBody::from_reader(&mut body))
            .with_context(|| format!("sending the snapshot to POST {url} failed"))
    }
}

/// The HTTP methods the agent sends to Vault. Vault treats `PUT` and `POST` alike; the agent
/// sends JSON writes as `PUT`, as Vault's Go client does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// A read.
    Get,
    /// A JSON write: logins, renewals, capability questions.
    Put,
    /// The restore upload.
    Post,
}

impl Method {
    /// The method's name on the wire.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Put => "PUT",
            Self::Post => "POST",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Reads the whole body of a JSON answer.
pub(super) fn read_text(
    mut response: Response<Body>,
    method: Method,
    url: &str,
) -> Result<(u16, String)> {
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .read_to_string()
        .with_context(|| format!("failed to read Vault's answer to {method} {url}"))?;
    Ok((status, body))
}
