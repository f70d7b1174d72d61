//! Google Cloud Storage through its JSON API, with a small synchronous client on ureq.
//!
//! Written by hand because the `cloud-storage` crate hard-codes Google's URL (no emulator can
//! be used) and is unmaintained, and the official crate lists and deletes only over gRPC.
//! Uploads are resumable sessions sent in chunks of `chunk_size` (a multiple of 256 KiB) read
//! from the staged file one at a time; Google answers `308 Resume Incomplete` to each but
//! the last, so redirects are never followed. The final answer's `size` and `md5Hash` must
//! match the staged file, or the upload counts as failed.
//!
//! Each request is retried on its own when it fails in a way Google documents as transient
//! (408, 429, 5xx, a reset or timed-out connection: [`crate::retry`]). A chunk is retried
//! as Google's resumable protocol says: after an error answer it is sent again; after a
//! connection lost on the way (so what arrived is unknown) the session is first asked how
//! many bytes it holds (`Content-Range: bytes */<size>`), and only the rest of that chunk is
//! sent. One failed chunk
//! thus costs that chunk again, never the whole upload; the final size and `md5Hash` are
//! still checked.
//!
//! Cleanup removes only what this upload wrote. A session that failed before its last
//! chunk created no object (a resumable upload appears whole or not at all); it is
//! cancelled (`DELETE` on the session URL) so the uploaded bytes are dropped at once. An
//! object that landed but does not match is deleted by its `generation`, so an object of
//! the same name that was there before (or that another writer put there since) is never
//! the one removed.
//!
//! Why not `object_store`'s GCS client (the crate the Azure storage uses)? Evaluated with
//! object_store 0.14.2 (`gcp` feature) against fake-gcs-server: it speaks GCS's XML API,
//! not the JSON API, and percent-encodes every non-alphanumeric byte of the path
//! (`/vrs%2Dtest/raft%5Fsnapshot%2D1%2Esnap`). Its first call already fails: `put` (XML
//! `PUT /<bucket>/<object>`) answers 404, `put_multipart` (`POST ...?uploads=`) 404,
//! `list_paginated` (`GET /<bucket>?list-type=2`) 404 and `delete` 405, so not one
//! conformance check can run against it here. Without a service-account key it also asks
//! the metadata server for a token even with `with_skip_signature`. This client stays.

pub mod auth;

use std::cell::RefCell;
use std::fs::File;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail, ensure};
use base64::Engine;
use md5::{Digest, Md5};
use serde::Deserialize;

use super::keys::ObjectKeys;
use super::{Storage, clean_up_on_failure, read_full};
use crate::config::GcsConfig;
use crate::progress::{Progress, Reading, Show, Writing};
use crate::retry::{self, HttpStatus};
use crate::shutdown::StopFlag;
use crate::snapshot_name::{SnapshotEntry, SnapshotName};
use auth::Authenticator;

/// Upload chunk: 8 MiB, a multiple of the 256 KiB Google requires.
pub const DEFAULT_CHUNK_SIZE: usize = 8 << 20;
const CHUNK_QUANTUM: usize = 256 << 10;

/// Snapshots under a prefix in one bucket.
pub struct GcsStorage {
    config: GcsConfig,
    keys: ObjectKeys,
    agent: ureq::Agent,
    auth: RefCell<Authenticator>,
    chunk_size: usize,
    page_size: Option<usize>,
}

#[derive(Deserialize)]
struct ObjectResource {
    name: String,
    /// Google sends sizes as decimal strings.
    size: String,
    #[serde(rename = "md5Hash")]
    md5_hash: Option<String>,
    /// Which version of the object this is (a decimal string).
    generation: Option<String>,
}

#[derive(Deserialize)]
struct ObjectList {
    #[serde(default)]
    items: Vec<ObjectResource>,
    #[serde(rename = "nextPageToken")]
    next_page_token: Option<String>,
}

impl GcsStorage {
    /// A storage for `config`; credentials are looked up at the first call.
    #[must_use]
    pub fn new(config: GcsConfig) -> Self {
        Self::with_idle_timeout(config, crate::config::DEFAULT_IDLE_TIMEOUT)
    }

    /// A storage for `config` that gives up on a server silent for `idle` in either
    /// direction (`idle_timeout`).
    #[must_use]
    pub fn with_idle_timeout(config: GcsConfig, idle: Duration) -> Self {
        let source = config.credentials.clone();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            // The OS trust store and SSL_CERT_FILE/SSL_CERT_DIR, as for Vault: a private CA
            // in front of the API or the token endpoint is trusted like everywhere else.
            .tls_config(crate::http::system_tls())
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_per_read(Some(idle))
            .timeout_per_write(Some(idle))
            .build()
            .new_agent();
        Self {
            keys: ObjectKeys::new(&config.prefix),
            config,
            agent,
            auth: RefCell::new(Authenticator::new(source)),
            chunk_size: DEFAULT_CHUNK_SIZE,
            page_size: None,
        }
    }

    /// Sends chunks of `bytes`, rounded down to a multiple of 256 KiB (tests use small ones).
    #[must_use]
    pub fn with_chunk_size(mut self, bytes: usize) -> Self {
        self.chunk_size = (bytes / CHUNK_QUANTUM).max(1) * CHUNK_QUANTUM;
        self
    }

    /// Lists `n` objects per page.
    #[must_use]
    pub fn with_page_size(mut self, n: usize) -> Self {
        self.page_size = Some(n);
        self
    }

    fn url(&self, object: &str) -> String {
        format!("gs://{}/{object}", self.config.bucket)
    }

    fn object_url(&self, object: &str) -> String {
        format!(
            "{}/storage/v1/b/{}/o/{}",
            self.config.endpoint,
            encode(&self.config.bucket),
            encode(object)
        )
    }

    /// Runs one request under the retry policy; `what` names it in the retry warnings.
    fn retried<T>(
        &self,
        what: impl std::fmt::Display,
        stop: &StopFlag,
        request: impl FnMut() -> Result<T>,
    ) -> Result<T> {
        retry::POLICY.run(&what, stop, request)
    }

    /// Sends one chunk, `data` from `offset`, and returns Google's answer (308 for a chunk
    /// before the last, the object resource for the last). A retry first asks the session
    /// how much it holds and sends only the rest, when the previous try lost its connection.
    fn send_chunk(
        &self,
        session: &str,
        offset: u64,
        data: &[u8],
        size: u64,
        stop: &StopFlag,
    ) -> Result<ureq::http::Response<ureq::Body>> {
        let last = offset + data.len() as u64 == size;
        // The previous try lost its connection: what the session holds is unknown.
        let mut unsure = false;
        self.retried(
            format_args!("sending bytes from {offset} of {size} to GCS"),
            stop,
            || {
                let mut skip = 0usize;
                if std::mem::take(&mut unsure) {
                    match self.session_holds(session, size)? {
                        Held::Done(response) => return Ok(response),
                        Held::Bytes(held)
                            if held >= offset && held <= offset + data.len() as u64 =>
                        {
                            skip = usize::try_from(held - offset)?;
                        }
                        Held::Bytes(_) => {}
                    }
                }
                let rest = &data[skip..];
                let from = offset + skip as u64;
                let range = match (rest.len(), last) {
                    (0, _) => format!("bytes */{size}"),
                    (n, true) => format!("bytes {from}-{}/{size}", from + n as u64 - 1),
                    (n, false) => format!("bytes {from}-{}/*", from + n as u64 - 1),
                };
                let sent = self
                    .authorize(self.agent.put(session))?
                    .header("Content-Range", &range)
                    .send(rest);
                unsure = sent.is_err();
                let mut response = sent.with_context(|| format!("sending {range} failed"))?;
                let status = response.status().as_u16();
                let expected = if last {
                    matches!(status, 200 | 201)
                } else {
                    status == 308
                };
                if !expected {
                    return Err(status_error(
                        status,
                        format!(
                            "chunk {range} answered {status}: {}",
                            body_text(&mut response)
                        ),
                    ));
                }
                Ok(response)
            },
        )
    }

    /// How many bytes the resumable session holds, or its final answer if it is complete.
    fn session_holds(&self, session: &str, size: u64) -> Result<Held> {
        let mut response = self
            .authorize(self.agent.put(session))?
            .header("Content-Range", format!("bytes */{size}"))
            .send_empty()
            .context("asking the resumable session for its progress failed")?;
        let status = response.status().as_u16();
        match status {
            200 | 201 => Ok(Held::Done(response)),
            // `Range: bytes=0-<last byte held>`, absent when it holds nothing.
            308 => Ok(Held::Bytes(
                response
                    .headers()
                    .get("range")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("bytes=0-"))
                    .and_then(|v| v.parse::<u64>().ok())
                    .map_or(0, |last| last + 1),
            )),
            _ => Err(status_error(
                status,
                format!(
                    "asking the resumable session for its progress answered {status}: {}",
                    body_text(&mut response)
                ),
            )),
        }
    }

    fn authorize<B>(&self, request: ureq::RequestBuilder<B>) -> Result<ureq::RequestBuilder<B>> {
        Ok(match self.auth.borrow_mut().token(&self.agent)? {
            Some(token) => request.header("Authorization", format!("Bearer {}", token.expose())),
            None => request,
        })
    }

    /// Sends `from` as `object` in one resumable session and checks what landed; on any
    /// failure, removes what this upload wrote and nothing else.
    fn upload_object(&self, from: &Path, object: &str, stop: &StopFlag) -> Result<()> {
        let file = File::open(from)
            .with_context(|| format!("cannot open the staged snapshot {}", from.display()))?;
        let size = file.metadata()?.len();
        let start = format!(
            "{}/upload/storage/v1/b/{}/o?uploadType=resumable&name={}",
            self.config.endpoint,
            encode(&self.config.bucket),
            encode(object)
        );
        let body = serde_json::json!({"name": object, "contentType": "application/gzip"});
        let response = self.retried(
            format_args!("starting the resumable upload of {}", self.url(object)),
            stop,
            || {
                let mut response = self
                    .authorize(self.agent.post(&start))?
                    .header("X-Upload-Content-Type", "application/gzip")
                    .header("X-Upload-Content-Length", size.to_string())
                    .send_json(&body)
                    .context("starting the resumable upload failed")?;
                let status = response.status().as_u16();
                if status != 200 {
                    return Err(status_error(
                        status,
                        format!(
                            "starting the resumable upload answered {status}: {}",
                            body_text(&mut response)
                        ),
                    ));
                }
                Ok(response)
            },
        )?;
        let session = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| anyhow!("the resumable upload has no session URL"))?
            .to_string();

        let shown = Progress::start(
            format!("{} to {}", from.display(), self.url(object)),
            Some(size),
            Show::Log,
        );
        let sent = self.send_chunks(&session, &mut Reading::new(file, shown), size, stop);
        let (landed, md5) = clean_up_on_failure(sent, "the resumable upload session", || {
            self.cancel_session(&session)
        })?;
        clean_up_on_failure(check_landed(&landed, size, &md5), self.url(object), || {
            self.delete_generation(object, landed.generation.as_deref())
        })
    }

    /// Sends the file in chunks; returns the object the last chunk created, with the MD5 of
    /// what was sent.
    fn send_chunks(
        &self,
        session: &str,
        file: &mut impl std::io::Read,
        size: u64,
        stop: &StopFlag,
    ) -> Result<(ObjectResource, Vec<u8>)> {
        let mut md5 = Md5::new();
        let mut buffer = vec![0u8; self.chunk_size];
        let mut offset: u64 = 0;
        loop {
            stop.check()?;
            let filled = read_full(file, &mut buffer)?;
            let last = offset + filled as u64 == size;
            md5.update(&buffer[..filled]);
            let mut response = self.send_chunk(session, offset, &buffer[..filled], size, stop)?;
            offset += filled as u64;
            if last {
                let landed: ObjectResource = response
                    .body_mut()
                    .read_json()
                    .context("the upload's final answer is not an object resource")?;
                return Ok((landed, md5.finalize().to_vec()));
            }
            if filled < buffer.len() {
                bail!("the staged snapshot ended at {offset} bytes, before its size {size}");
            }
        }
    }

    /// Cancels an unfinished resumable session, dropping the bytes it received.
    fn cancel_session(&self, session: &str) -> Result<()> {
        self.retried(
            "cancelling the resumable upload session",
            &StopFlag::never(),
            || {
                let mut response = self
                    .authorize(self.agent.delete(session))?
                    .call()
                    .context("cancelling the resumable upload session failed")?;
                let status = response.status().as_u16();
                // Google answers 499 to a cancel; 404/410: the session is already gone.
                if matches!(status, 200..=299 | 404 | 410 | 499) {
                    return Ok(());
                }
                Err(status_error(
                    status,
                    format!(
                        "cancelling the resumable upload session answered {status}: {}",
                        body_text(&mut response)
                    ),
                ))
            },
        )
    }

    /// Deletes `object` only in the generation this upload created.
    fn delete_generation(&self, object: &str, generation: Option<&str>) -> Result<()> {
        let generation = generation.ok_or_else(|| {
            anyhow!("the object resource gave no generation, so it is not deleted blindly")
        })?;
        let url = format!(
            "{}?generation={}",
            self.object_url(object),
            encode(generation)
        );
        self.retried(
            format_args!("deleting {}", self.url(object)),
            &StopFlag::never(),
            || {
                let mut response = self
                    .authorize(self.agent.delete(&url))?
                    .call()
                    .context("DELETE failed")?;
                let status = response.status().as_u16();
                if (200..300).contains(&status) || status == 404 {
                    return Ok(());
                }
                Err(status_error(
                    status,
                    format!("DELETE answered {status}: {}", body_text(&mut response)),
                ))
            },
        )
    }
}

/// What a resumable session holds.
enum Held {
    /// The upload is complete: its final answer.
    Done(ureq::http::Response<ureq::Body>),
    /// This many bytes from the start.
    Bytes(u64),
}

/// An unexpected answer, as an error the retry policy can classify by its status.
fn status_error(status: u16, message: String) -> anyhow::Error {
    anyhow::Error::new(HttpStatus { status, message })
}

fn check_landed(landed: &ObjectResource, size: u64, md5: &[u8]) -> Result<()> {
    ensure!(
        landed.size == size.to_string(),
        "the object landed with size {}, expected {size}",
        landed.size
    );
    if let Some(reported) = &landed.md5_hash {
        let expected = base64::engine::general_purpose::STANDARD.encode(md5);
        ensure!(
            *reported == expected,
            "the object's md5Hash is {reported}, expected {expected}"
        );
    }
    Ok(())
}

fn body_text(response: &mut ureq::http::Response<ureq::Body>) -> String {
    google_error_message(&response.body_mut().read_to_string().unwrap_or_default())
}

/// How many characters of a body that is not Google's error shape are shown.
const BODY_SHOWN: usize = 300;

/// Google's JSON API error, `{"error": {"code": 403, "message": "..."}}`, as its message;
/// any other body (an emulator's, a proxy's HTML) as its first few hundred characters.
#[must_use]
pub fn google_error_message(body: &str) -> String {
    #[derive(Deserialize)]
    struct Envelope {
        error: Detail,
    }
    #[derive(Deserialize)]
    struct Detail {
        message: String,
    }
    if let Ok(parsed) = serde_json::from_str::<Envelope>(body) {
        return crate::text::cut(&parsed.error.message, BODY_SHOWN).into_owned();
    }
    crate::text::cut(body.trim(), BODY_SHOWN).into_owned()
}

/// Percent-encodes everything but RFC 3986's unreserved characters (so `/` is `%2F`).
#[must_use]
pub fn encode(text: &str) -> String {
    use std::fmt::Write;
    text.bytes().fold(String::new(), |mut out, b| {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
        out
    })
}

impl Storage for GcsStorage {
    fn kind(&self) -> &'static str {
        "gcp"
    }

    /// Nothing to abort: an upload cut off leaves a resumable upload session, which holds no
    /// object and which Google expires a week after it began; no object is created until
    /// the last byte arrives.
    fn abort_stale_uploads(
        &self,
        _older_than: std::time::Duration,
        _stop: &StopFlag,
    ) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    fn location(&self) -> String {
        self.url(&self.keys.list_prefix())
    }

    fn upload(&self, from: &Path, name: &SnapshotName, stop: &StopFlag) -> Result<String> {
        let object = self.keys.snapshot(name);
        self.upload_object(from, &object, stop)
            .with_context(|| format!("uploading {}", self.url(&object)))?;
        Ok(self.url(&object))
    }

    fn list(&self) -> Result<Vec<SnapshotEntry>> {
        let prefix = self.keys.list_prefix();
        let mut entries = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut url = format!(
                "{}/storage/v1/b/{}/o?prefix={}&fields=items(name,size),nextPageToken",
                self.config.endpoint,
                encode(&self.config.bucket),
                encode(&prefix)
            );
            if let Some(n) = self.page_size {
                url.push_str(&format!("&maxResults={n}"));
            }
            if let Some(token) = &page_token {
                url.push_str(&format!("&pageToken={}", encode(token)));
            }
            let page: ObjectList = self.retried(
                format_args!("listing {}", self.location()),
                &StopFlag::never(),
                || {
                    let mut response = self
                        .authorize(self.agent.get(&url))?
                        .call()
                        .with_context(|| format!("listing {}", self.location()))?;
                    let status = response.status().as_u16();
                    if status != 200 {
                        return Err(status_error(
                            status,
                            format!(
                                "listing {} answered {status}: {}",
                                self.location(),
                                body_text(&mut response)
                            ),
                        ));
                    }
                    response
                        .body_mut()
                        .read_json()
                        .with_context(|| format!("listing {}: not an object list", self.location()))
                },
            )?;
            for item in page.items {
                if let (Some(name), Ok(size)) = (self.keys.parse(&item.name), item.size.parse()) {
                    entries.push(SnapshotEntry::file(name, size));
                }
            }
            match page.next_page_token {
                Some(token) if !token.is_empty() => page_token = Some(token),
                _ => return Ok(entries),
            }
        }
    }

    fn download(&self, name: &SnapshotName, to: &Path) -> Result<()> {
        let object = self.keys.snapshot(name);
        let url = format!("{}?alt=media", self.object_url(&object));
        self.retried(
            format_args!("downloading {}", self.url(&object)),
            &StopFlag::never(),
            || {
                let mut response = self
                    .authorize(self.agent.get(&url))?
                    .call()
                    .with_context(|| format!("downloading {}", self.url(&object)))?;
                let status = response.status().as_u16();
                if status != 200 {
                    return Err(status_error(
                        status,
                        format!(
                            "downloading {} answered {status}: {}",
                            self.url(&object),
                            body_text(&mut response)
                        ),
                    ));
                }
                // A retry starts the file again.
                let shown = Progress::start(
                    format!("{} to {}", self.url(&object), to.display()),
                    response.body().content_length(),
                    Show::BarOnTerminal,
                );
                let mut file = Writing::new(File::create(to)?, shown);
                std::io::copy(&mut response.body_mut().as_reader(), &mut file)?;
                Ok(())
            },
        )
    }

    fn delete(&self, name: &SnapshotName) -> Result<()> {
        let object = self.keys.snapshot(name);
        self.retried(
            format_args!("deleting {}", self.url(&object)),
            &StopFlag::never(),
            || {
                let mut response = self
                    .authorize(self.agent.delete(&self.object_url(&object)))?
                    .call()
                    .with_context(|| format!("deleting {}", self.url(&object)))?;
                let status = response.status().as_u16();
                // Real GCS answers 204, the emulators 200; a missing object is already gone.
                if (200..300).contains(&status) || status == 404 {
                    return Ok(());
                }
                Err(status_error(
                    status,
                    format!(
                        "deleting {} answered {status}: {}",
                        self.url(&object),
                        body_text(&mut response)
                    ),
                ))
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{BODY_SHOWN, encode, google_error_message};

    #[test]
    fn reads_googles_error_shape_not_vaults() {
        let body = r#"{"error": {"code": 403, "message": "caller does not have storage.objects.create access", "errors": []}}"#;
        assert_eq!(
            google_error_message(body),
            "caller does not have storage.objects.create access"
        );
        assert_eq!(
            google_error_message(r#"{"errors": ["vault"]}"#),
            r#"{"errors": ["vault"]}"#
        );
        let cut = google_error_message(&"x".repeat(400));
        assert_eq!(cut.chars().count(), BODY_SHOWN);
        assert!(cut.ends_with("x…"), "{cut}");
        let message = format!(
            r#"{{"error": {{"code": 403, "message": "{}"}}}}"#,
            "y".repeat(400)
        );
        assert_eq!(google_error_message(&message).chars().count(), BODY_SHOWN);
    }

    #[test]
    fn encodes_slashes_and_spaces() {
        assert_eq!(
            encode("raft/raft_snapshot-1.snap"),
            "raft%2Fraft_snapshot-1.snap"
        );
        assert_eq!(encode("a b+c"), "a%20b%2Bc");
    }
}
