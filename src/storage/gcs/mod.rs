//! Google Cloud Storage through its JSON API, with a small synchronous client on ureq.
//!
//! Written by hand because the `cloud-storage` crate hard-codes Google's URL (no emulator can
//! be used) and is unmaintained, and the official crate lists and deletes only over gRPC.
//! Uploads are resumable sessions sent in chunks of `chunk_size` (a multiple of 256 KiB) read
//! from the staged file one at a time; Google answers `308 Resume Incomplete` to each but
//! the last, so redirects are never followed. The final answer's `size` and `md5Hash` must
//! match the staged file, or the object is deleted and the upload counts as failed.

pub mod auth;

use std::cell::RefCell;
use std::fs::File;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail, ensure};
use base64::Engine;
use md5::{Digest, Md5};
use serde::Deserialize;

use super::{Storage, read_full};
use crate::config::GcsConfig;
use crate::retention::SnapshotEntry;
use crate::snapshot_name::SnapshotName;
use auth::{Authenticator, TokenSource};

/// Upload chunk: 8 MiB, a multiple of the 256 KiB Google requires.
pub const DEFAULT_CHUNK_SIZE: usize = 8 << 20;
const CHUNK_QUANTUM: usize = 256 << 10;

/// Snapshots under a prefix in one bucket.
pub struct GcsStorage {
    config: GcsConfig,
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
        let source = if config.emulator {
            TokenSource::None
        } else {
            Authenticator::discover(config.credentials_file.as_deref())
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_per_call(Some(Duration::from_secs(300)))
            .build()
            .new_agent();
        Self {
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

    fn object_name(&self, name: &SnapshotName) -> String {
        format!("{}{name}", self.prefix())
    }

    /// The prefix with a trailing slash unless empty or already ending in one.
    fn prefix(&self) -> String {
        let p = &self.config.prefix;
        if p.is_empty() || p.ends_with('/') {
            p.clone()
        } else {
            format!("{p}/")
        }
    }

    fn object_url(&self, object: &str) -> String {
        format!(
            "{}/storage/v1/b/{}/o/{}",
            self.config.endpoint,
            encode(&self.config.bucket),
            encode(object)
        )
    }

    fn authorize<B>(&self, request: ureq::RequestBuilder<B>) -> Result<ureq::RequestBuilder<B>> {
        Ok(match self.auth.borrow_mut().token(&self.agent)? {
            Some(token) => request.header("Authorization", format!("Bearer {}", token.expose())),
            None => request,
        })
    }

    fn upload_object(&self, from: &Path, object: &str) -> Result<()> {
        let mut file = File::open(from)
            .with_context(|| format!("cannot open the staged snapshot {}", from.display()))?;
        let size = file.metadata()?.len();
        let start = format!(
            "{}/upload/storage/v1/b/{}/o?uploadType=resumable&name={}",
            self.config.endpoint,
            encode(&self.config.bucket),
            encode(object)
        );
        let body = serde_json::json!({"name": object, "contentType": "application/gzip"});
        let mut response = self
            .authorize(self.agent.post(&start))?
            .header("X-Upload-Content-Type", "application/gzip")
            .header("X-Upload-Content-Length", size.to_string())
            .send_json(&body)
            .context("starting the resumable upload failed")?;
        let status = response.status().as_u16();
        if status != 200 {
            bail!(
                "starting the resumable upload answered {status}: {}",
                body_text(&mut response)
            );
        }
        let session = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| anyhow!("the resumable upload has no session URL"))?
            .to_string();

        let mut md5 = Md5::new();
        let mut buffer = vec![0u8; self.chunk_size];
        let mut offset: u64 = 0;
        loop {
            ensure!(
                !crate::shutdown::requested(),
                "interrupted by a shutdown signal"
            );
            let filled = read_full(&mut file, &mut buffer)?;
            let last = offset + filled as u64 == size;
            md5.update(&buffer[..filled]);
            let range = match (filled, last) {
                (0, _) => format!("bytes */{size}"),
                (n, true) => format!("bytes {offset}-{}/{size}", offset + n as u64 - 1),
                (n, false) => format!("bytes {offset}-{}/*", offset + n as u64 - 1),
            };
            let mut response = self
                .authorize(self.agent.put(&session))?
                .header("Content-Range", &range)
                .send(&buffer[..filled])
                .with_context(|| format!("sending {range} failed"))?;
            let status = response.status().as_u16();
            offset += filled as u64;
            if last {
                ensure!(
                    matches!(status, 200 | 201),
                    "the last chunk ({range}) answered {status}: {}",
                    body_text(&mut response)
                );
                let landed: ObjectResource = response
                    .body_mut()
                    .read_json()
                    .context("the upload's final answer is not an object resource")?;
                return check_landed(&landed, size, &md5.finalize());
            }
            ensure!(
                status == 308,
                "chunk {range} answered {status} instead of 308: {}",
                body_text(&mut response)
            );
            if filled < buffer.len() {
                bail!("the staged snapshot ended at {offset} bytes, before its size {size}");
            }
        }
    }
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
    crate::vault::client::error_message(&response.body_mut().read_to_string().unwrap_or_default())
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

    fn location(&self) -> String {
        format!("gs://{}/{}", self.config.bucket, self.prefix())
    }

    fn upload(&self, from: &Path, name: &SnapshotName) -> Result<String> {
        let object = self.object_name(name);
        let url = format!("gs://{}/{object}", self.config.bucket);
        if let Err(e) = self.upload_object(from, &object) {
            // A failed session leaves no object; one that landed wrong is removed.
            let _ = self.delete(name);
            return Err(e).with_context(|| format!("uploading {url}"));
        }
        Ok(url)
    }

    fn list(&self) -> Result<Vec<SnapshotEntry>> {
        let prefix = self.prefix();
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
            let mut response = self
                .authorize(self.agent.get(&url))?
                .call()
                .with_context(|| format!("listing {}", self.location()))?;
            let status = response.status().as_u16();
            ensure!(
                status == 200,
                "listing {} answered {status}: {}",
                self.location(),
                body_text(&mut response)
            );
            let page: ObjectList = response
                .body_mut()
                .read_json()
                .with_context(|| format!("listing {}: not an object list", self.location()))?;
            for item in page.items {
                let name = item
                    .name
                    .strip_prefix(&prefix)
                    .and_then(SnapshotName::parse);
                if let (Some(name), Ok(size)) = (name, item.size.parse()) {
                    entries.push(SnapshotEntry { name, size });
                }
            }
            match page.next_page_token {
                Some(token) if !token.is_empty() => page_token = Some(token),
                _ => return Ok(entries),
            }
        }
    }

    fn download(&self, name: &SnapshotName, to: &Path) -> Result<()> {
        let object = self.object_name(name);
        let url = format!("{}?alt=media", self.object_url(&object));
        let mut response = self
            .authorize(self.agent.get(&url))?
            .call()
            .with_context(|| format!("downloading gs://{}/{object}", self.config.bucket))?;
        let status = response.status().as_u16();
        ensure!(
            status == 200,
            "downloading gs://{}/{object} answered {status}",
            self.config.bucket
        );
        let mut file = File::create(to)?;
        std::io::copy(&mut response.body_mut().as_reader(), &mut file)?;
        Ok(())
    }

    fn delete(&self, name: &SnapshotName) -> Result<()> {
        let object = self.object_name(name);
        let mut response = self
            .authorize(self.agent.delete(&self.object_url(&object)))?
            .call()
            .with_context(|| format!("deleting gs://{}/{object}", self.config.bucket))?;
        let status = response.status().as_u16();
        // Real GCS answers 204, the emulators 200; a missing object is already gone.
        if (200..300).contains(&status) || status == 404 {
            Ok(())
        } else {
            bail!(
                "deleting gs://{}/{object} answered {status}: {}",
                self.config.bucket,
                body_text(&mut response)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn encodes_slashes_and_spaces() {
        assert_eq!(
            encode("raft/raft_snapshot-1.snap"),
            "raft%2Fraft_snapshot-1.snap"
        );
        assert_eq!(encode("a b+c"), "a%20b%2Bc");
    }
}
