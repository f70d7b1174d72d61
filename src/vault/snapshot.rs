//! Downloading a snapshot: stream `GET /v1/sys/storage/raft/snapshot` into a file while
//! verifying it, in one pass over the bytes and in bounded memory.
//!
//! A standby answers 307 with the leader's address. The redirect is followed once, and only
//! to the `leader_address` that `sys/leader` reported (same scheme, host and port), with the
//! token: any other target would receive our token, so it is refused.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use log::info;

use super::api::{self, Method, Success};
use super::client::VaultClient;
use crate::archive::verify::{SnapshotSummary, verify};
use crate::progress::{Progress, Show};
use crate::secret::Secret;
use crate::shutdown::{INTERRUPTED, StopFlag};

/// The snapshot path under `/v1/`.
pub const SNAPSHOT_PATH: &str = "sys/storage/raft/snapshot";

/// Downloads the snapshot into `to`'s file (empty, positioned at 0; its path is for the
/// progress lines) and verifies it.
///
/// # Errors
/// A [`super::client::VaultError`] for non-200 answers (403 included, so the caller can
/// log in again), or a message saying why the bytes are not a good snapshot.
pub fn download(
    client: &VaultClient,
    token: &Secret,
    leader_address: &str,
    to: (&mut File, &Path),
    stop: &StopFlag,
) -> Result<SnapshotSummary> {
    let (file, staged) = to;
    let mut url = client.url(SNAPSHOT_PATH);
    let mut response = client.get_stream(&url, token)?;
    if is_redirect(response.status().as_u16()) {
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        check_redirect(&url, &location, leader_address)?;
        info!(
            "The Vault node at {} is a standby; fetching the snapshot from the leader {location}",
            client.addr()
        );
        url = location;
        response = client.get_stream(&url, token)?;
        if is_redirect(response.status().as_u16()) {
            bail!("the leader at {url} redirected the snapshot request again; refusing to follow");
        }
    }
    let mut response = api::stream(
        response,
        Method::Get,
        &url,
        Success::Ok,
        Some("application/gzip"),
    )?;

    let progress = Progress::start(
        format!("the snapshot from {url} to {}", staged.display()),
        None,
        Show::Log,
    );
    let mut tee = Tee {
        source: response.body_mut().as_reader(),
        progress,
        idle: client.idle_timeout(),
        file,
        stop,
        failure: None,
        written: 0,
        flushed: 0,
    };
    let verified = verify(&mut tee);
    if let Some(failure) = tee.failure.take() {
        return Err(anyhow!(failure))
            .with_context(|| format!("downloading the snapshot from {url} failed"));
    }
    let summary =
        verified.with_context(|| format!("the snapshot from {url} failed verification"))?;
    tee.file
        .flush()
        .context("writing the snapshot to the temporary file failed")?;
    Ok(summary)
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Allows a redirect only to the origin of `leader_address`, never from https to http.
///
/// # Errors
/// Naming the target, when it is not the leader reported by `sys/leader`.
pub fn check_redirect(from: &str, location: &str, leader_address: &str) -> Result<()> {
    let target = origin(location);
    let leader = origin(leader_address);
    let downgrade = from.starts_with("https://") && location.starts_with("http://");
    match (target, leader) {
        (Some(target), Some(leader)) if target == leader && !downgrade => Ok(()),
        _ => bail!(
            "Vault redirected the snapshot request for {from} to {location:?}, which is not the \
             leader address {leader_address:?} reported by sys/leader; refusing to send the token there"
        ),
    }
}

/// `(scheme, host, port)` of an absolute URL, with default ports filled in.
fn origin(url: &str) -> Option<(String, String, u16)> {
    let uri: ureq::http::Uri = url.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    let host = uri.host()?.to_ascii_lowercase();
    Some((scheme, host, uri.port_u16().unwrap_or(default_port)))
}

/// What went wrong with a read from Vault: a stall (`idle_timeout`), a shutdown signal, or
/// whatever the connection said.
fn read_failure(error: &io::Error, idle: std::time::Duration) -> String {
    let cause = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<ureq::Error>());
    match cause {
        Some(ureq::Error::Timeout(ureq::Timeout::PerRead)) => format!(
            "no data from Vault for {} (idle_timeout); the download was abandoned",
            crate::duration::format(idle)
        ),
        _ if error.to_string().contains(INTERRUPTED) => INTERRUPTED.into(),
        _ => format!("reading from Vault failed: {error}"),
    }
}

/// Start write-back of the staged file every this many bytes.
const WRITE_BACK_STEP: u64 = 8 << 20;

/// Copies every byte read from Vault into the temporary file, and remembers a failure that
/// is not the snapshot's fault (network, disk, signal) so it is reported as such.
///
/// It also asks the kernel to start writing the file to disk as it grows
/// (`sync_file_range(SYNC_FILE_RANGE_WRITE)`, which does not wait), so the disk works while
/// the network does and the final sync of a linked local copy has little left to do.
struct Tee<'a, R> {
    source: R,
    /// `idle_timeout`, for the message when Vault stops sending.
    idle: std::time::Duration,
    file: &'a mut File,
    stop: &'a StopFlag,
    failure: Option<String>,
    written: u64,
    flushed: u64,
    progress: Progress,
}

impl<R> Tee<'_, R> {
    fn start_write_back(&mut self) {
        use std::os::fd::AsRawFd;
        let (Ok(offset), Ok(length)) = (
            libc::off64_t::try_from(self.flushed),
            libc::off64_t::try_from(self.written - self.flushed),
        ) else {
            return;
        };
        // SAFETY: the descriptor is open for the whole call; the call only reads the range.
        // A failure (e.g. a filesystem without write-back) changes nothing and is ignored.
        unsafe {
            libc::sync_file_range(
                self.file.as_raw_fd(),
                offset,
                length,
                libc::SYNC_FILE_RANGE_WRITE,
            );
        }
        self.flushed = self.written;
    }
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.stop.requested() {
            self.failure = Some(INTERRUPTED.into());
            return Err(io::Error::other(INTERRUPTED));
        }
        let n = self.source.read(buf).inspect_err(|e| {
            self.failure = Some(read_failure(e, self.idle));
        })?;
        self.file.write_all(&buf[..n]).inspect_err(|e| {
            self.failure = Some(format!("writing the temporary file failed: {e}"));
        })?;
        self.written += n as u64;
        self.progress.add(n as u64);
        if self.written - self.flushed >= WRITE_BACK_STEP {
            self.start_write_back();
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::check_redirect;

    const FROM: &str = "https://lb.example:8200/v1/sys/storage/raft/snapshot";

    #[test]
    fn follows_only_to_the_reported_leader() {
        let to = "https://10.0.0.1:8200/v1/sys/storage/raft/snapshot";
        assert!(check_redirect(FROM, to, "https://10.0.0.1:8200").is_ok());
        assert!(check_redirect(FROM, to, "https://10.0.0.2:8200").is_err());
        assert!(check_redirect(FROM, to, "https://10.0.0.1:8201").is_err());
        assert!(check_redirect(FROM, to, "").is_err());
    }

    #[test]
    fn fills_in_default_ports_and_ignores_case() {
        let to = "https://Vault.Example/v1/sys/storage/raft/snapshot";
        assert!(check_redirect(FROM, to, "https://vault.example:443").is_ok());
    }

    #[test]
    fn refuses_a_downgrade_and_relative_targets() {
        let to = "http://10.0.0.1:8200/v1/sys/storage/raft/snapshot";
        assert!(check_redirect(FROM, to, "http://10.0.0.1:8200").is_err());
        assert!(
            check_redirect(
                FROM,
                "/v1/sys/storage/raft/snapshot",
                "https://lb.example:8200"
            )
            .is_err()
        );
    }
}
