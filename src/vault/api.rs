//! The one place where a Vault call becomes a typed result: method and path (with a token
//! and a JSON body when the call needs them) go out; what comes back is checked against the
//! statuses that mean success for that call, turned into a [`VaultError`] (Vault's
//! `{"errors": [...]}`, see `shared/vault-api.md` §1.3) when it is not, and decoded into the
//! caller's type, with an error naming the method and URL when the body is not that type.
//!
//! Streaming calls (the snapshot download and the restore) keep their bodies as streams but
//! go through the same status check ([`stream`]).
//!
//! The typed endpoints built on this live next to their callers: [`super::sys`],
//! [`super::token`], [`super::leader::fetch`], [`super::snapshot::download`] and
//! [`super::restore::restore`].

use std::fmt;

use anyhow::{Result, anyhow};
use serde::de::DeserializeOwned;
use ureq::Body;
use ureq::http::Response;

pub use super::client::Method;
use super::client::{VaultClient, VaultError};
use crate::secret::Secret;

/// Error bodies are small; a larger one is cut when shown.
const ERROR_BODY_SHOWN: usize = 500;

/// Which statuses mean success for a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Success {
    /// `200 OK` only: every call that answers with a body (Vault answers `204` when it has none).
    Ok,
    /// Any `2xx`: the restore, which Vault answers with `204 No Content`.
    Any2xx,
}

impl Success {
    /// True if `status` is a success for this call.
    #[must_use]
    pub fn accepts(self, status: u16) -> bool {
        match self {
            Self::Ok => status == 200,
            Self::Any2xx => (200..300).contains(&status),
        }
    }
}

/// A Vault endpoint that answers with JSON: method, path under `/v1/`, and what its answer
/// is, for the error when the body is not that.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint<'a> {
    method: Method,
    path: &'a str,
    answer: &'static str,
    secret_answer: bool,
}

impl<'a> Endpoint<'a> {
    /// `GET path`, answering with `answer` (e.g. "a seal status").
    #[must_use]
    pub const fn get(path: &'a str, answer: &'static str) -> Self {
        Self {
            method: Method::Get,
            path,
            answer,
            secret_answer: false,
        }
    }

    /// `PUT path` with a JSON body, answering with `answer`.
    #[must_use]
    pub const fn put(path: &'a str, answer: &'static str) -> Self {
        Self {
            method: Method::Put,
            path,
            answer,
            secret_answer: false,
        }
    }

    /// Marks the answer as carrying a secret (a token): when it does not decode, the error
    /// names where it went wrong but none of serde's quoted values.
    #[must_use]
    pub const fn secret_answer(mut self) -> Self {
        self.secret_answer = true;
        self
    }

    /// The endpoint's method.
    #[must_use]
    pub fn method(&self) -> Method {
        self.method
    }

    /// The endpoint's path under `/v1/`.
    #[must_use]
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// Calls the endpoint with `token` (if any) and `body` (if any) and decodes the answer.
    ///
    /// # Errors
    /// When Vault cannot be reached; a [`VaultError`] for a status other than `200`; an error
    /// naming the method and URL when the body is not the expected answer.
    pub fn call<T: DeserializeOwned>(
        &self,
        client: &VaultClient,
        token: Option<&Secret>,
        body: Option<&serde_json::Value>,
    ) -> Result<T> {
        let url = client.url(self.path);
        let (status, text) = client.send_json(self.method, &url, token, body)?;
        self.answer(&url, status, &text)
    }

    /// Calls an endpoint that answers with no body (`204 No Content`, e.g. a revocation):
    /// any `2xx` is a success and whatever body came is ignored.
    ///
    /// # Errors
    /// When Vault cannot be reached; a [`VaultError`] for a status other than `2xx`.
    pub fn call_without_answer(
        &self,
        client: &VaultClient,
        token: Option<&Secret>,
        body: Option<&serde_json::Value>,
    ) -> Result<()> {
        let url = client.url(self.path);
        let (status, text) = client.send_json(self.method, &url, token, body)?;
        check(self.method, &url, status, Success::Any2xx, || text)?;
        Ok(())
    }

    /// What a call's answer means: the status check, Vault's error, the decoding.
    fn answer<T: DeserializeOwned>(&self, url: &str, status: u16, text: &str) -> Result<T> {
        check(self.method, url, status, Success::Ok, || text.to_string())?;
        let mut json = serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(&mut json)
            .map_err(|e| self.decode_failure(&e))
            .and_then(|value| json.end().map(|()| value).map_err(|e| e.to_string()))
            .map_err(|detail| self.unexpected_at(url, detail))
    }

    fn decode_failure(&self, e: &serde_path_to_error::Error<serde_json::Error>) -> String {
        let at = e.path().to_string();
        let inner = e.inner();
        let place = if at == "." {
            format!("line {} column {}", inner.line(), inner.column())
        } else {
            format!("{at} (line {} column {})", inner.line(), inner.column())
        };
        if self.secret_answer {
            // serde quotes the offending value, which could be the token itself.
            format!("unexpected value at {place}")
        } else {
            e.to_string()
        }
    }

    /// The error for an answer that decoded but lacks what the caller needs, worded like a
    /// body that did not decode: `Vault's answer to PUT <url> is not <answer>: <detail>`.
    #[must_use]
    pub fn unexpected(&self, client: &VaultClient, detail: impl fmt::Display) -> anyhow::Error {
        self.unexpected_at(&client.url(self.path), detail)
    }

    fn unexpected_at(&self, url: &str, detail: impl fmt::Display) -> anyhow::Error {
        anyhow!("{detail}").context(format!(
            "Vault's answer to {} {url} is not {}",
            self.method, self.answer
        ))
    }
}

/// Passes a streaming answer on when its status is a success for the call and, if
/// `media_type` is given, its `Content-Type` is that type. Otherwise reads the (small) body
/// into the error.
///
/// # Errors
/// A [`VaultError`] for a status that is not a success; an error naming the method, URL and
/// the `Content-Type` when it is not `media_type`.
pub fn stream(
    mut response: Response<Body>,
    method: Method,
    url: &str,
    success: Success,
    media_type: Option<&str>,
) -> Result<Response<Body>> {
    let status = response.status().as_u16();
    check(method, url, status, success, || read_body(&mut response))?;
    let Some(expected) = media_type else {
        return Ok(response);
    };
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let media = content_type.split(';').next().unwrap_or("").trim();
    if media.eq_ignore_ascii_case(expected) {
        return Ok(response);
    }
    Err(anyhow!(
        "Vault answered {method} {url} with Content-Type {content_type:?} instead of {expected}: {}",
        error_message(&read_body(&mut response))
    ))
}

/// The body of an answer that is not a success, for the error; a body that cannot be read
/// leaves the message empty.
fn read_body(response: &mut Response<Body>) -> String {
    response.body_mut().read_to_string().unwrap_or_default()
}

/// The status check every call goes through: `Ok` for a success, else Vault's error, with
/// the body read only then.
fn check(
    method: Method,
    url: &str,
    status: u16,
    success: Success,
    body: impl FnOnce() -> String,
) -> Result<(), VaultError> {
    if success.accepts(status) {
        return Ok(());
    }
    Err(VaultError {
        status,
        request: format!("{method} {url}"),
        message: error_message(&body()),
    })
}

/// Vault's `{"errors": [...]}` as one line, with go-multierror's framing removed; the start
/// of the body when it is not that shape.
#[must_use]
pub fn error_message(body: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<String>,
    }
    match serde_json::from_str::<Errors>(body) {
        Ok(parsed) => parsed
            .errors
            .iter()
            .flat_map(|e| e.lines())
            .map(|line| line.trim().trim_start_matches("* ").trim())
            .filter(|line| {
                !line.is_empty()
                    && !line.ends_with("error occurred:")
                    && !line.ends_with("errors occurred:")
            })
            .collect::<Vec<_>>()
            .join("; "),
        Err(_) => {
            let trimmed = body.trim();
            match trimmed.char_indices().nth(ERROR_BODY_SHOWN) {
                Some((cut, _)) => format!("{}...", &trimmed[..cut]),
                None => trimmed.to_string(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://vault.example:8200/v1/sys/leader";
    const LEADER: Endpoint<'static> = Endpoint::get("sys/leader", "a leader status");

    #[derive(Debug, PartialEq, Eq, serde::Deserialize)]
    struct Leader {
        ha_enabled: bool,
    }

    #[derive(Debug, serde::Deserialize)]
    struct Auth {
        #[allow(dead_code)]
        auth: Token,
    }

    #[derive(Debug, serde::Deserialize)]
    struct Token {
        #[allow(dead_code)]
        client_token: Secret,
    }

    fn leader(status: u16, body: &str) -> Result<Leader> {
        LEADER.answer(URL, status, body)
    }

    fn vault_error(error: &anyhow::Error) -> &VaultError {
        error
            .downcast_ref::<VaultError>()
            .unwrap_or_else(|| panic!("not a VaultError: {error:#}"))
    }

    fn response(status: u16, content_type: &str, body: &str) -> Response<Body> {
        Response::builder()
            .status(status)
            .header("content-type", content_type)
            .body(Body::builder().data(body.to_string()))
            .unwrap()
    }

    #[test]
    fn a_200_decodes_into_the_callers_type() {
        assert_eq!(
            leader(200, r#"{"ha_enabled":true,"is_self":true}"#).unwrap(),
            Leader { ha_enabled: true }
        );
    }

    #[test]
    fn json_calls_succeed_on_200_only() {
        for status in [204, 301, 307, 400, 403, 404, 429, 500, 503] {
            let error = leader(status, r#"{"ha_enabled":true}"#).unwrap_err();
            assert_eq!(vault_error(&error).status, status);
        }
        assert!(Success::Ok.accepts(200) && !Success::Ok.accepts(204));
        assert!(Success::Any2xx.accepts(200) && Success::Any2xx.accepts(204));
        assert!(!Success::Any2xx.accepts(199) && !Success::Any2xx.accepts(300));
    }

    #[test]
    fn a_refusal_is_vaults_error_with_method_url_and_messages() {
        let body = r#"{"errors":["1 error occurred:\n\t* permission denied\n\n"]}"#;
        let error = leader(403, body).unwrap_err();
        let vault = vault_error(&error);
        assert_eq!(vault.status, 403);
        assert_eq!(vault.request, format!("GET {URL}"));
        assert_eq!(vault.message, "permission denied");
        assert_eq!(
            error.to_string(),
            format!("Vault answered 403 to GET {URL}: permission denied")
        );
        let bare = leader(404, r#"{"errors":[]}"#).unwrap_err();
        assert_eq!(bare.to_string(), format!("Vault answered 404 to GET {URL}"));
    }

    #[test]
    fn a_body_that_does_not_decode_names_the_method_and_url() {
        for body in [
            "",
            "<html>bad gateway</html>",
            r#"{"is_self":true}"#,
            "{} {}",
        ] {
            let error = leader(200, body).unwrap_err();
            assert!(error.downcast_ref::<VaultError>().is_none(), "{body}");
            let shown = format!("{error:#}");
            assert!(
                shown.starts_with(&format!(
                    "Vault's answer to GET {URL} is not a leader status: "
                )),
                "{shown}"
            );
        }
        let shown = format!("{:#}", leader(200, r#"{"ha_enabled":"yes"}"#).unwrap_err());
        assert!(shown.contains("ha_enabled: invalid type"), "{shown}");
    }

    #[test]
    fn a_secret_answer_that_does_not_decode_quotes_nothing() {
        let endpoint = Endpoint::put("auth/approle/login", "an auth response").secret_answer();
        let url = "https://vault.example:8200/v1/auth/approle/login";
        let error = endpoint
            .answer::<Auth>(url, 200, r#"{"auth":"s.hunter2"}"#)
            .unwrap_err();
        let shown = format!("{error:#}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.starts_with(&format!(
                "Vault's answer to PUT {url} is not an auth response: unexpected value at auth"
            )),
            "{shown}"
        );
        // The same answer from an endpoint without secrets says what serde saw.
        let plain = Endpoint::put("auth/approle/login", "an auth response");
        let shown = format!(
            "{:#}",
            plain
                .answer::<Auth>(url, 200, r#"{"auth":"s.hunter2"}"#)
                .unwrap_err()
        );
        assert!(shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn a_stream_passes_on_when_status_and_media_type_fit() {
        let ok = stream(
            response(200, "application/gzip", "bytes"),
            Method::Get,
            URL,
            Success::Ok,
            Some("application/gzip"),
        );
        assert_eq!(ok.unwrap().body_mut().read_to_string().unwrap(), "bytes");
        let any = stream(
            response(204, "text/plain", ""),
            Method::Post,
            URL,
            Success::Any2xx,
            None,
        );
        assert!(any.is_ok());
    }

    #[test]
    fn a_stream_that_fails_reads_vaults_error() {
        let error = stream(
            response(503, "application/json", r#"{"errors":["Vault is sealed"]}"#),
            Method::Get,
            URL,
            Success::Ok,
            Some("application/gzip"),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("Vault answered 503 to GET {URL}: Vault is sealed")
        );
        assert_eq!(vault_error(&error).status, 503);
    }

    #[test]
    fn a_stream_of_the_wrong_media_type_is_refused() {
        let error = stream(
            response(
                200,
                "application/json; charset=utf-8",
                r#"{"errors":["nope"]}"#,
            ),
            Method::Get,
            URL,
            Success::Ok,
            Some("application/gzip"),
        )
        .unwrap_err();
        assert!(error.downcast_ref::<VaultError>().is_none());
        assert_eq!(
            error.to_string(),
            format!(
                "Vault answered GET {URL} with Content-Type \"application/json; charset=utf-8\" \
                 instead of application/gzip: nope"
            )
        );
    }

    #[test]
    fn unwraps_go_multierror_messages() {
        let body = r#"{"errors":["1 error occurred:\n\t* permission denied\n\n"]}"#;
        assert_eq!(error_message(body), "permission denied");
    }

    #[test]
    fn joins_several_errors_and_handles_an_empty_list() {
        assert_eq!(error_message(r#"{"errors":["a","b"]}"#), "a; b");
        assert_eq!(error_message(r#"{"errors":[]}"#), "");
        assert_eq!(error_message("Vault is sealed"), "Vault is sealed");
        assert_eq!(error_message(&"x".repeat(600)).len(), 503);
    }
}
