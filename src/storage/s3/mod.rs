//! S3 and S3-compatible services: rust-s3's synchronous client for every request but
//! `UploadPart`, which this module sends itself (see below).
//!
//! Uploads stream from the staged file: one `PutObject` up to one part's size
//! (`s3_part_size`), else a multipart upload whose parts go `s3_upload_concurrency` at a time
//! ([`parts`] plans them): each sender thread owns one part buffer and takes the next part
//! from the file when its last one is stored, so memory stays at `concurrency x part size`
//! plus a constant. The upload is aborted on any failure or stop, so no partial object or
//! orphaned parts remain; the first part that fails for good ends the others at their next
//! request or wait.
//!
//! Parts are signed with `aws-sigv4` ([`crate::aws::sign::sign_s3`]) and sent over ureq,
//! with `Content-MD5` (the store refuses a part whose bytes changed on the way) and, over
//! https, `x-amz-content-sha256: UNSIGNED-PAYLOAD`: the bytes are hashed once (MD5) instead
//! of SHA-256 twice and MD5 once as rust-s3 does. Over plain http (or over https with
//! `s3_sign_payload`, for a store that refuses `UNSIGNED-PAYLOAD`) the SHA-256 of the part is
//! signed. No `aws-chunked` encoding or trailing checksums are used (several S3-compatible
//! stores reject or mis-store them). Each part must come back with its MD5 as ETag (unless
//! SSE-KMS), which the agent checks itself: it catches damaged bytes on a store that checks
//! nothing. `CompleteMultipartUpload` lists the ETags the parts came back with.
//!
//! Server-side encryption headers go on `PutObject` and `CreateMultipartUpload` only: real
//! AWS rejects them on `UploadPart` and `CompleteMultipartUpload`. rust-s3 can only add headers
//! to every request of a bucket, so two bucket handles are kept: one with the SSE (and
//! storage-class) headers for those two calls, one without for everything else.
//!
//! After an upload, `HeadObject` must report the staged file's size and (unless SSE-KMS, where
//! ETags are not MD5s) the ETag the bytes imply: their MD5 for a single PUT, or for a
//! multipart upload the MD5 of the parts' MD5s with `-<parts>`. An object that fails the
//! check is deleted.
//!
//! With `s3_static_snapshot_name`, the previous snapshot sits under the one fixed name, so
//! nothing may be written there until the new one is known good: the upload goes to a
//! temporary key beside it (`.<name>.tmp-<snapshot time>`), is checked there, and is then
//! copied over the fixed name server-side (`CopyObject`, atomic: the old object stays whole
//! until the new one replaces it). The temporary key is deleted in every case. A failed or
//! unverified upload thus never removes or replaces the last good object.
//!
//! Each request is retried on its own when it fails in a way S3 documents as transient (503
//! `SlowDown`, 500, a reset connection: [`crate::retry`]), each part on its own, so a failed
//! part is sent again and the others are not. rust-s3's own retry (one retry of reads and
//! parts, after a sleep no stop request can end) is switched off, so the one policy applies.
//!
//! Cleanup removes only what this upload wrote: the parts of its own multipart upload, the
//! object it completed, or its temporary key. A `PutObject` that failed left nothing, so
//! nothing is deleted then (an object of the same name from before stays).

mod parts;

use std::cell::RefCell;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, anyhow, bail, ensure};
use log::{debug, info, warn};
use md5::{Digest, Md5};
use s3::bucket::Bucket;
use s3::creds::Credentials;
use s3::error::S3Error;
use s3::region::Region;
use ureq::http::{HeaderMap, HeaderName, HeaderValue};

use super::keys::ObjectKeys;
use super::{Storage, clean_up_on_failure, read_full};
use crate::archive::hex;
use crate::config::S3Config;
use crate::progress::{Progress, Reading, Show, Writing};
use crate::retry::{self, HttpStatus};
use crate::secret::Secret;
use crate::shutdown::StopFlag;
use crate::snapshot_name::{SnapshotEntry, SnapshotName};

pub use parts::{MAX_CONCURRENCY, MAX_PART_SIZE, MIN_PART_SIZE};
const CONTENT_TYPE: &str = "application/gzip";

/// Snapshots under a key prefix in one bucket.
pub struct S3Storage {
    config: S3Config,
    keys: ObjectKeys,
    part_size: usize,
    /// Parts in flight at once.
    concurrency: usize,
    page_size: Option<usize>,
    buckets: RefCell<Option<Buckets>>,
    /// `idle_timeout`, applied to each request.
    request_timeout: Option<std::time::Duration>,
    /// Where credentials come from: the config's keys, else the AWS chain (`crate::aws`).
    aws: crate::aws::CredentialChain,
}

struct Buckets {
    plain: Box<Bucket>,
    with_sse: Box<Bucket>,
    /// The credentials both handles sign with.
    credentials: crate::aws::Credentials,
}

/// rust-s3's form of credentials from the chain. No expiry is given to rust-s3, so its own
/// refresh (its own chain) never runs: [`S3Storage::with_buckets`] swaps them instead.
fn s3_credentials(c: &crate::aws::Credentials) -> Result<Credentials> {
    Credentials::new(
        Some(&c.access_key_id),
        Some(c.secret_access_key.expose()),
        None,
        c.session_token.as_ref().map(crate::secret::Secret::expose),
        None,
    )
    .context("cannot use the AWS credentials")
}

impl S3Storage {
    /// A storage for `config`. Nothing is sent, and credentials are not looked up, until the
    /// first call.
    #[must_use]
    pub fn new(config: S3Config) -> Self {
        Self {
            keys: ObjectKeys::new(&config.key_prefix),
            part_size: usize::try_from(config.part_size).unwrap_or(usize::MAX),
            concurrency: config.upload_concurrency,
            page_size: None,
            buckets: RefCell::new(None),
            request_timeout: None,
            aws: crate::aws::CredentialChain::new(
                config
                    .access_key_id
                    .clone()
                    .zip(config.secret_access_key.clone()),
                crate::aws::process_env(),
            ),
            config,
        }
    }

    /// Limits each request (one part at most) to `timeout`: `idle_timeout`, as near as
    /// rust-s3 allows (its client, attohttpc, also gives up on a read that waits 30 s).
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// Uses parts of `bytes` (tests use the 5 MiB minimum).
    #[must_use]
    pub fn with_part_size(mut self, bytes: usize) -> Self {
        self.part_size = bytes.max(5 << 20);
        self
    }

    /// Sends up to `parts` parts at once (1 to [`MAX_CONCURRENCY`]).
    #[must_use]
    pub fn with_upload_concurrency(mut self, parts: usize) -> Self {
        self.concurrency = parts.clamp(1, MAX_CONCURRENCY);
        self
    }

    /// Lists `keys` per page (tests use a small page to prove pagination).
    #[must_use]
    pub fn with_page_size(mut self, keys: usize) -> Self {
        self.page_size = Some(keys);
        self
    }

    fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.config.bucket)
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

    /// The two bucket handles, created at first use and refreshed when temporary
    /// credentials expire.
    fn with_buckets<T>(&self, f: impl FnOnce(&Buckets) -> Result<T>) -> Result<T> {
        let mut slot = self.buckets.borrow_mut();
        if slot.is_none() {
            *slot = Some(self.open()?);
        } else if let Some(b) = slot.as_mut() {
            // Temporary credentials (IRSA, Pod Identity, instance role) are fetched again
            // shortly before they expire; both handles then sign with the new ones.
            let fresh = self.aws.credentials()?;
            if fresh != b.credentials {
                let converted = s3_credentials(&fresh)?;
                b.plain.set_credentials(converted.clone());
                b.with_sse.set_credentials(converted);
                b.credentials = fresh;
            }
        }
        // Just set above when it was empty.
        let buckets = slot.as_ref().ok_or_else(|| anyhow!("no S3 client"))?;
        f(buckets)
    }

    fn open(&self) -> Result<Buckets> {
        crate::install_crypto_provider();
        // Our retry policy instead of rust-s3's (a process-wide setting of that crate).
        s3::set_retries(0);
        let c = &self.config;
        // The seam to the AWS chain: the config's keys (read now, so rotated file:// or
        // env:// keys are picked up), else the environment, a profile, IRSA, Pod Identity or
        // the instance role. Errors name the source and URL.
        let chain_credentials = self.aws.credentials()?;
        let credentials = s3_credentials(&chain_credentials)?;
        let region = match &c.endpoint {
            Some(endpoint) => Region::Custom {
                region: c.region.clone(),
                endpoint: endpoint.clone(),
            },
            None => c
                .region
                .parse()
                .with_context(|| format!("unknown AWS region {:?}", c.region))?,
        };
        let mut plain = Bucket::new(&c.bucket, region, credentials)
            .with_context(|| format!("cannot set up S3 bucket {}", c.bucket))?;
        if let Some(timeout) = self.request_timeout {
            plain.set_request_timeout(Some(timeout));
        }
        if c.force_path_style {
            plain = plain.with_path_style();
        }
        let mut headers = HeaderMap::new();
        let header = |name: &'static str, value: &str| -> Result<(HeaderName, HeaderValue)> {
            Ok((HeaderName::from_static(name), HeaderValue::from_str(value)?))
        };
        let mut extra = Vec::new();
        if let Some(key) = &c.kms_key_id {
            extra.push(header("x-amz-server-side-encryption", "aws:kms")?);
            extra.push(header("x-amz-server-side-encryption-aws-kms-key-id", key)?);
        } else if c.server_side_encryption {
            extra.push(header("x-amz-server-side-encryption", "AES256")?);
        }
        if let Some(class) = &c.storage_class {
            extra.push(header("x-amz-storage-class", class)?);
        }
        for (name, value) in extra {
            headers.insert(name, value);
        }
        let with_sse = Box::new(
            plain
                .with_extra_headers(headers)
                .context("cannot set the encryption and storage class headers")?,
        );
        Ok(Buckets {
            plain,
            with_sse,
            credentials: chain_credentials,
        })
    }

    /// Uploads `from` to `key` and checks what landed; on any failure, removes what this
    /// upload wrote (its parts, or the object it completed) and nothing else.
    fn put(&self, buckets: &Buckets, from: &Path, key: &str, stop: &StopFlag) -> Result<()> {
        let mut file = File::open(from)
            .with_context(|| format!("cannot open the staged snapshot {}", from.display()))?;
        let size = file.metadata()?.len();
        let expected_etag = if size <= self.part_size as u64 {
            let mut body = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            file.read_to_end(&mut body)?;
            stop.check()?;
            // A failed PutObject stored nothing: no cleanup (it could delete an older object).
            self.retried(format_args!("PutObject {}", self.url(key)), stop, || {
                buckets
                    .with_sse
                    .put_object_with_content_type(key, &body, CONTENT_TYPE)
                    .map_err(sanitized)
                    .context("PutObject failed")
            })?;
            hex(&Md5::digest(&body))
        } else {
            let shown = Progress::start(
                format!("{} to {}", from.display(), self.url(key)),
                Some(size),
                Show::Log,
            );
            self.put_multipart(buckets, Reading::new(file, shown), size, key, stop)?
        };
        clean_up_on_failure(
            self.check_landed(buckets, key, size, Some(&expected_etag)),
            self.url(key),
            || {
                self.retried(
                    format_args!("DeleteObject {}", self.url(key)),
                    &StopFlag::never(),
                    || {
                        buckets
                            .plain
                            .delete_object(key)
                            .map_err(sanitized)
                            .context("DeleteObject failed")
                    },
                )?;
                Ok(())
            },
        )
    }

    /// Returns the ETag S3 computes for these parts. On failure the multipart upload is
    /// aborted, so no parts linger (and are billed).
    fn put_multipart(
        &self,
        buckets: &Buckets,
        file: impl Read + Send,
        size: u64,
        key: &str,
        stop: &StopFlag,
    ) -> Result<String> {
        let plan = parts::plan(size, self.part_size as u64, self.concurrency)?;
        // Before the upload starts: a credential that cannot be read leaves nothing behind.
        let target = PartTarget::new(buckets, key, self.config.sign_payload)?;
        info!(
            "uploading {} in {} parts of {} MiB, {} at a time (at most {} MiB of parts in \
             memory), {}",
            self.url(key),
            plan.parts,
            plan.part_size >> 20,
            plan.in_flight,
            plan.memory() >> 20,
            if target.signed_payload {
                "each part's SHA-256 signed"
            } else {
                "UNSIGNED-PAYLOAD"
            }
        );
        let upload = self.retried(
            format_args!("CreateMultipartUpload {}", self.url(key)),
            stop,
            || {
                buckets
                    .with_sse
                    .initiate_multipart_upload(key, CONTENT_TYPE)
                    .map_err(sanitized)
                    .context("CreateMultipartUpload failed")
            },
        )?;
        let id = upload.upload_id;
        let sent = (|| -> Result<String> {
            let sent = self.send_parts(&target, &id, file, &plan, key, stop)?;
            let count = sent.len();
            // Each part as the store named it: with SSE-KMS its ETag is not the MD5, and S3
            // refuses a completion that lists anything but the ETags UploadPart returned.
            let parts: Vec<s3::serde_types::Part> = sent
                .iter()
                .zip(1..)
                .map(|(part, part_number)| s3::serde_types::Part {
                    part_number,
                    etag: format!("\"{}\"", part.etag),
                })
                .collect();
            stop.check()?;
            let md5s: Vec<[u8; 16]> = sent.iter().map(|part| part.md5).collect();
            let etag = format!("{}-{count}", hex(&Md5::digest(md5s.concat())));
            let completed = self.retried(
                format_args!("CompleteMultipartUpload {}", self.url(key)),
                stop,
                || {
                    buckets
                        .plain
                        .complete_multipart_upload(key, &id, parts.clone())
                        .map_err(sanitized)
                        .context("CompleteMultipartUpload failed")
                },
            );
            if let Err(e) = completed {
                // The store may have completed the upload and only its answer was lost or
                // not understood (rust-s3 0.38 refuses some stores' XML root): then the
                // object is there, and only its size and ETag can say it is whole.
                self.check_landed(buckets, key, size, Some(&etag))
                    .map_err(|_| e)?;
                warn!(
                    "the answer to CompleteMultipartUpload {} could not be used, but the \
                     object is there with the size and ETag of every byte sent",
                    self.url(key)
                );
            }
            Ok(etag)
        })();
        clean_up_on_failure(
            sent,
            format!("the multipart upload {id} of {}", self.url(key)),
            || {
                self.retried(
                    format_args!("AbortMultipartUpload {}", self.url(key)),
                    &StopFlag::never(),
                    || {
                        buckets
                            .plain
                            .abort_upload(key, &id)
                            .map_err(sanitized)
                            .context("AbortMultipartUpload failed")
                    },
                )
            },
        )
    }

    /// Sends the parts of `file`, `plan.in_flight` at a time, each retried on its own; returns
    /// each part's MD5 and the ETag the store answered, in order. Each sender thread owns one
    /// buffer of a part and takes the next part from the file when its previous one is
    /// stored. The first failure (or a stop) ends the others at their next request or wait,
    /// so the caller can abort at once.
    fn send_parts(
        &self,
        target: &PartTarget,
        id: &str,
        file: impl Read + Send,
        plan: &parts::Plan,
        key: &str,
        stop: &StopFlag,
    ) -> Result<Vec<SentPart>> {
        let part_size = usize::try_from(plan.part_size)?;
        // Raised by the caller's stop (through the watcher below) or by the first failure.
        let give_up = StopFlag::never();
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(std::time::Duration::from_secs(10)))
            .timeout_per_read(self.request_timeout)
            .timeout_per_write(self.request_timeout)
            .max_idle_connections_per_host(plan.in_flight)
            // What the OS trusts, with SSL_CERT_FILE / SSL_CERT_DIR: a private CA of an
            // S3-compatible endpoint, as for rust-s3's requests and Vault.
            .tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::PlatformVerifier)
                    .build(),
            )
            .user_agent(concat!("vault-raft-snapshot/", env!("CARGO_PKG_VERSION")))
            .build();
        let agent = crate::http::agent(config, give_up.clone());
        let source = Mutex::new((file, 0u32, false));
        let digests = Mutex::new(Vec::new());
        let first_error: Mutex<Option<anyhow::Error>> = Mutex::new(None);
        let finished = AtomicBool::new(false);
        let check_etag = self.config.kms_key_id.is_none();
        let url = self.url(key);
        let url = url.as_str();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                while !finished.load(Ordering::SeqCst) {
                    if stop.requested() {
                        give_up.raise();
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
            });
            let senders: Vec<_> = (0..plan.in_flight)
                .map(|_| {
                    scope.spawn(|| {
                        let sent = (|| -> Result<()> {
                            let mut buffer = Vec::new();
                            loop {
                                give_up.check()?;
                                let (number, filled) = {
                                    let mut guard = source
                                        .lock()
                                        .map_err(|_| anyhow!("a part sender panicked"))?;
                                    let (reader, next, done) = &mut *guard;
                                    if *done {
                                        return Ok(());
                                    }
                                    if buffer.is_empty() {
                                        buffer = vec![0u8; part_size];
                                    }
                                    let filled = read_full(reader, &mut buffer)?;
                                    *done = filled < part_size;
                                    if filled == 0 {
                                        return Ok(());
                                    }
                                    *next += 1;
                                    (*next, filled)
                                };
                                let chunk = &buffer[..filled];
                                let md5: [u8; 16] = Md5::digest(chunk).into();
                                let etag = retry::POLICY.run(
                                    &format_args!("UploadPart {number} of {url}"),
                                    &give_up,
                                    || target.send(&agent, id, number, chunk, &md5, check_etag),
                                )?;
                                digests
                                    .lock()
                                    .map_err(|_| anyhow!("a part sender panicked"))?
                                    .push((number, SentPart { md5, etag }));
                            }
                        })();
                        if let Err(e) = sent {
                            if let Ok(mut first) = first_error.lock() {
                                first.get_or_insert(e);
                            }
                            give_up.raise();
                        }
                    })
                })
                .collect();
            for sender in senders {
                if sender.join().is_err() {
                    give_up.raise();
                    if let Ok(mut first) = first_error.lock() {
                        first.get_or_insert_with(|| anyhow!("a part sender panicked"));
                    }
                }
            }
            finished.store(true, Ordering::SeqCst);
        });
        // A stop is reported as a stop, not as the part it interrupted.
        stop.check()?;
        if let Some(e) = first_error
            .into_inner()
            .map_err(|_| anyhow!("a part sender panicked"))?
        {
            return Err(e);
        }
        let mut digests = digests
            .into_inner()
            .map_err(|_| anyhow!("a part sender panicked"))?;
        digests.sort_by_key(|(number, _)| *number);
        ensure!(
            digests.len() as u64 == plan.parts,
            "sent {} parts, expected {} for {} bytes: the staged file changed size",
            digests.len(),
            plan.parts,
            plan.part_size
        );
        Ok(digests.into_iter().map(|(_, part)| part).collect())
    }

    /// Uploads to a temporary key beside the fixed name, checks it there, then copies it
    /// over the fixed name. The temporary key is deleted whatever happens.
    fn put_static(
        &self,
        buckets: &Buckets,
        from: &Path,
        static_name: &str,
        name: &SnapshotName,
        stop: &StopFlag,
    ) -> Result<()> {
        let key = self.keys.key(static_name);
        let temp = self
            .keys
            .key(&format!(".{static_name}.tmp-{}", name.unix_nanos()));
        let size = std::fs::metadata(from)
            .with_context(|| format!("cannot read the staged snapshot {}", from.display()))?
            .len();
        self.put(buckets, from, &temp, stop)?;
        let replaced = (|| -> Result<()> {
            stop.check()?;
            // With the SSE and storage-class headers: a copy does not inherit them.
            self.retried(
                format_args!("CopyObject to {}", self.url(&key)),
                stop,
                || {
                    buckets
                        .with_sse
                        .copy_object_internal(&temp, &key)
                        .map_err(sanitized)
                        .with_context(|| format!("CopyObject from {} failed", self.url(&temp)))
                },
            )?;
            // A copy's ETag is not the parts' one: only its size can be checked.
            self.check_landed(buckets, &key, size, None)
        })();
        debug!("deleting the temporary object {}", self.url(&temp));
        let removed = self.retried(
            format_args!("DeleteObject {}", self.url(&temp)),
            &StopFlag::never(),
            || {
                buckets
                    .plain
                    .delete_object(&temp)
                    .map_err(sanitized)
                    .context("DeleteObject failed")
            },
        );
        if let Err(e) = removed {
            log::error!(
                "could not remove the temporary object {}; remove it by hand: {e:#}",
                self.url(&temp)
            );
        }
        replaced
    }

    /// Checks that `key` holds `size` bytes and, where given and comparable, the `etag`.
    fn check_landed(
        &self,
        buckets: &Buckets,
        key: &str,
        size: u64,
        etag: Option<&str>,
    ) -> Result<()> {
        let (head, _) = self.retried(
            format_args!("HeadObject {}", self.url(key)),
            &StopFlag::never(),
            || {
                buckets
                    .plain
                    .head_object(key)
                    .map_err(sanitized)
                    .context("HeadObject after the upload failed")
            },
        )?;
        let landed = head.content_length.and_then(|n| u64::try_from(n).ok());
        ensure!(
            landed == Some(size),
            "the object landed with size {landed:?}, expected {size}"
        );
        if let (Some(etag), None) = (etag, &self.config.kms_key_id) {
            let reported = head
                .e_tag
                .unwrap_or_default()
                .trim_matches('"')
                .to_ascii_lowercase();
            ensure!(
                reported == etag,
                "the object's ETag is {reported:?}, expected {etag:?} from the bytes sent"
            );
        }
        Ok(())
    }
}

/// One part as sent and stored.
struct SentPart {
    /// The MD5 of its bytes (its `Content-MD5`).
    md5: [u8; 16],
    /// The ETag the store answered, without quotes: the MD5 in hex (checked), or with SSE-KMS
    /// an opaque tag (not checked) that `CompleteMultipartUpload` must list.
    etag: String,
}

/// Where and as whom the parts of one upload are sent.
struct PartTarget {
    /// `https://host/bucket/key` or `https://bucket.host/key`, key URI-encoded.
    object_url: String,
    region: String,
    /// Whether each part's SHA-256 is signed (plain http, or `s3_sign_payload`); else
    /// `UNSIGNED-PAYLOAD`.
    signed_payload: bool,
    credentials: crate::aws::Credentials,
}

impl PartTarget {
    fn new(buckets: &Buckets, key: &str, sign_payload: bool) -> Result<Self> {
        let bucket = &buckets.plain;
        let object_url = format!("{}/{}", bucket.url(), s3::signing::uri_encode(key, false));
        let (scheme, _) = object_url
            .split_once("://")
            .ok_or_else(|| anyhow!("the S3 endpoint has no scheme"))?;
        let missing = || anyhow!("no AWS credentials to sign the upload's parts with");
        let token = match bucket.security_token()? {
            Some(token) => Some(token),
            None => bucket.session_token()?,
        };
        Ok(Self {
            signed_payload: signs_payload(scheme, sign_payload),
            region: bucket.region().to_string(),
            credentials: crate::aws::Credentials {
                access_key_id: bucket.access_key()?.ok_or_else(missing)?,
                secret_access_key: Secret::new(bucket.secret_key()?.ok_or_else(missing)?),
                session_token: token.map(Secret::new),
                expires: None,
            },
            object_url,
        })
    }

    /// Sends one part (`UploadPart`) with its `Content-MD5`, so the store refuses bytes that
    /// changed on the way; checks that the ETag it answers is that MD5 (not with SSE-KMS,
    /// where ETags are not MD5s) and returns that ETag.
    fn send(
        &self,
        agent: &ureq::Agent,
        upload_id: &str,
        number: u32,
        body: &[u8],
        md5: &[u8; 16],
        check_etag: bool,
    ) -> Result<String> {
        use crate::aws::sign::{Request, S3Payload, sign_s3};
        use base64::Engine as _;
        let url = format!(
            "{}?partNumber={number}&uploadId={}",
            self.object_url,
            s3::signing::uri_encode(upload_id, true)
        );
        let content_md5 = base64::engine::general_purpose::STANDARD.encode(md5);
        let headers = [("content-md5", content_md5.as_str())];
        let payload = if self.signed_payload {
            S3Payload::Signed(body)
        } else {
            S3Payload::Unsigned
        };
        let request = Request {
            method: "PUT",
            url: &url,
            headers: &headers,
            body: &[],
        };
        let signed = sign_s3(
            &request,
            payload,
            &self.region,
            &self.credentials,
            std::time::SystemTime::now(),
        )
        .with_context(|| format!("cannot sign UploadPart {number}"))?;
        let mut request = agent.put(&url).header("content-md5", &content_md5);
        for (name, value) in &signed {
            request = request.header(name.as_str(), value.expose());
        }
        let mut response = request
            .send(body)
            .with_context(|| format!("UploadPart {number} failed"))?;
        let status = response.status().as_u16();
        let answer = response
            .body_mut()
            .with_config()
            .limit(64 << 10)
            .read_to_string()
            .unwrap_or_default();
        if status != 200 {
            return Err(anyhow::Error::new(HttpStatus {
                status,
                message: format!(
                    "UploadPart {number} answered {status}{}",
                    s3_error_code(&answer)
                ),
            }));
        }
        let etag = response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .trim_matches('"')
            .to_string();
        if check_etag {
            ensure!(
                etag.to_ascii_lowercase() == hex(md5),
                "UploadPart {number} came back with ETag {:?}, not the MD5 of the bytes sent",
                crate::text::escape(&crate::text::cut(&etag, 80))
            );
            return Ok(hex(md5));
        }
        ensure!(
            is_plain_etag(&etag),
            "UploadPart {number} came back without a usable ETag ({:?})",
            crate::text::escape(&crate::text::cut(&etag, 80))
        );
        Ok(etag)
    }
}

/// Whether the parts sent to an endpoint of this scheme carry their SHA-256 in the signature:
/// over plain http always (S3 requires it there), over https only with `s3_sign_payload`.
fn signs_payload(scheme: &str, sign_payload: bool) -> bool {
    sign_payload || !scheme.eq_ignore_ascii_case("https")
}

/// Whether a part's ETag (quotes removed) can be listed back in `CompleteMultipartUpload`:
/// not empty, at most 1024 visible ASCII characters, none that XML would read as markup.
fn is_plain_etag(etag: &str) -> bool {
    !etag.is_empty()
        && etag.len() <= 1024
        && etag
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'<' | b'>' | b'&'))
}

/// rust-s3's error with what the store sent cut short: an error document to its code and
/// message (escaped, at most 300 characters before escaping, as for STS), a body that is no
/// error document (a gateway's HTML, a plain-text denial) to its first 200 characters, and an
/// answer rust-s3 could not parse (its parser quotes the offending value) to 300. A bucket
/// cannot put a page of text or a forged log line into an error, a log line or the metrics.
/// `SlowDown` stays recognisable to the retry, and every other error keeps its type (the
/// retry and the disk-full check look inside them).
fn sanitized(error: S3Error) -> anyhow::Error {
    match error {
        S3Error::HttpFailWithBody(status, body) => {
            let summary = crate::aws::error_summary(&body);
            let summary = if summary.is_empty() {
                crate::text::escape(&crate::text::cut(body.trim(), 200)).into_owned()
            } else {
                summary
            };
            anyhow::Error::new(S3Error::HttpFailWithBody(status, summary))
        }
        S3Error::SerdeXml(e) => anyhow!(
            "the answer could not be read: {}",
            crate::text::escape(&crate::text::cut(&e.to_string(), 300))
        ),
        other => anyhow::Error::new(other),
    }
}

/// ` (<Code>)` from an S3 error document, when it is a plain code; nothing else of what the
/// server sent is quoted.
fn s3_error_code(body: &str) -> String {
    body.split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| code)
        .filter(|code| {
            !code.is_empty() && code.len() <= 64 && code.bytes().all(|b| b.is_ascii_alphanumeric())
        })
        .map(|code| format!(" ({code})"))
        .unwrap_or_default()
}

/// An incomplete multipart upload, as `ListMultipartUploads` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Incomplete {
    key: String,
    id: String,
    /// `Initiated`, as the server wrote it (ISO 8601, UTC).
    initiated: String,
}

/// The uploads to abort: those whose key `ours` claims, started at least `older_than` before
/// `now`. One whose start cannot be read is kept (its age is unknown); one that started "in
/// the future" (a clock ahead of ours) is taken as started now. Returns each with its age.
fn stale_uploads(
    uploads: &[Incomplete],
    ours: impl Fn(&str) -> bool,
    older_than: std::time::Duration,
    now: std::time::SystemTime,
) -> Vec<(&Incomplete, std::time::Duration)> {
    uploads
        .iter()
        .filter(|u| ours(&u.key))
        .filter_map(|u| {
            let started = crate::aws::parse_utc(&u.initiated)?;
            let age = now.duration_since(started).unwrap_or_default();
            (age >= older_than).then_some((u, age))
        })
        .collect()
}

impl S3Storage {
    /// True for a key this storage writes: a snapshot name under the prefix, or with
    /// `s3_static_snapshot_name` that name and its temporary keys (`.<name>.tmp-<time>`).
    fn writes_key(&self, key: &str) -> bool {
        match &self.config.static_snapshot_name {
            None => self.keys.parse(key).is_some_and(|n| !n.is_other_agents()),
            Some(fixed) => {
                key == self.keys.key(fixed)
                    || key
                        .strip_prefix(&self.keys.key(&format!(".{fixed}.tmp-")))
                        .is_some_and(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            }
        }
    }

    /// The incomplete multipart uploads under the prefix.
    fn incomplete_uploads(&self, buckets: &Buckets, stop: &StopFlag) -> Result<Vec<Incomplete>> {
        let prefix = self.keys.list_prefix();
        let pages = self.retried(
            format_args!("ListMultipartUploads {}", self.location()),
            stop,
            || {
                buckets
                    .plain
                    .list_multiparts_uploads((!prefix.is_empty()).then_some(prefix.as_str()), None)
                    .map_err(sanitized)
                    .context("ListMultipartUploads failed")
            },
        )?;
        Ok(pages
            .into_iter()
            .flat_map(|page| page.uploads)
            .map(|u| Incomplete {
                key: u.key,
                id: u.id,
                initiated: u.initiated,
            })
            .collect())
    }
}

impl Storage for S3Storage {
    fn kind(&self) -> &'static str {
        "aws"
    }

    /// Aborts the incomplete multipart uploads of this storage's own keys started more than
    /// `older_than` ago: what an agent killed in the middle of an upload left (S3 bills the
    /// parts until they are aborted). Uploads of other keys, and younger ones (an upload in
    /// progress), are never touched. An abort that fails is logged and the others go on.
    fn abort_stale_uploads(
        &self,
        older_than: std::time::Duration,
        stop: &StopFlag,
    ) -> Result<Vec<String>> {
        self.with_buckets(|buckets| {
            let uploads = self.incomplete_uploads(buckets, stop)?;
            let now = std::time::SystemTime::now();
            let mut aborted = Vec::new();
            for (upload, age) in stale_uploads(&uploads, |k| self.writes_key(k), older_than, now) {
                let url = self.url(&upload.key);
                let done = self.retried(format_args!("AbortMultipartUpload {url}"), stop, || {
                    buckets
                        .plain
                        .abort_upload(&upload.key, &upload.id)
                        .map_err(sanitized)
                        .context("AbortMultipartUpload failed")
                });
                match done {
                    Ok(()) => aborted.push(format!(
                        "Aborted the incomplete multipart upload of {url}, started {} ago by an \
                         agent stopped in the middle of it",
                        crate::duration::format(std::time::Duration::from_secs(age.as_secs()))
                    )),
                    Err(e) => {
                        log::warn!("cannot abort the incomplete multipart upload of {url}: {e:#}")
                    }
                }
            }
            Ok(aborted)
        })
        .with_context(|| format!("aborting incomplete uploads in {}", self.location()))
    }

    fn location(&self) -> String {
        format!("s3://{}/{}", self.config.bucket, self.keys.prefix())
    }

    fn upload(&self, from: &Path, name: &SnapshotName, stop: &StopFlag) -> Result<String> {
        let key = match &self.config.static_snapshot_name {
            Some(fixed) => self.keys.key(fixed),
            None => self.keys.snapshot(name),
        };
        self.with_buckets(|buckets| match &self.config.static_snapshot_name {
            Some(fixed) => self.put_static(buckets, from, fixed, name, stop),
            None => self.put(buckets, from, &key, stop),
        })
        .with_context(|| format!("uploading {}", self.url(&key)))?;
        Ok(self.url(&key))
    }

    fn list(&self) -> Result<Vec<SnapshotEntry>> {
        if self.config.static_snapshot_name.is_some() {
            // One fixed object, overwritten each time: nothing to prune.
            return Ok(Vec::new());
        }
        let prefix = self.keys.list_prefix();
        self.with_buckets(|buckets| {
            let mut entries = Vec::new();
            let mut token = None;
            loop {
                let (page, _) = self.retried(
                    format_args!("ListObjectsV2 {}", self.location()),
                    &StopFlag::never(),
                    || {
                        buckets
                            .plain
                            .list_page(prefix.clone(), None, token.clone(), None, self.page_size)
                            .map_err(sanitized)
                            .context("ListObjectsV2 failed")
                    },
                )?;
                for object in page.contents {
                    if let Some(name) = self.keys.parse(&object.key) {
                        entries.push(SnapshotEntry::file(name, object.size));
                    }
                }
                if !page.is_truncated {
                    return Ok(entries);
                }
                token = page.next_continuation_token;
                if token.is_none() {
                    bail!(
                        "ListObjectsV2 said the listing is truncated but gave no continuation token"
                    );
                }
            }
        })
        .with_context(|| format!("listing {}", self.location()))
    }

    fn download(&self, name: &SnapshotName, to: &Path) -> Result<()> {
        let key = self.keys.snapshot(name);
        self.with_buckets(|buckets| {
            let status = self.retried(
                format_args!("GetObject {}", self.url(&key)),
                &StopFlag::never(),
                || {
                    // A retry starts the file again.
                    let shown = Progress::start(
                        format!("{} to {}", self.url(&key), to.display()),
                        None,
                        Show::BarOnTerminal,
                    );
                    let mut file = Writing::new(File::create(to)?, shown);
                    buckets
                        .plain
                        .get_object_to_writer(&key, &mut file)
                        .map_err(sanitized)
                        .context("GetObject failed")
                },
            )?;
            ensure!(status == 200, "GetObject answered {status}");
            Ok(())
        })
        .with_context(|| format!("downloading {}", self.url(&key)))
    }

    fn delete(&self, name: &SnapshotName) -> Result<()> {
        let key = self.keys.snapshot(name);
        self.with_buckets(|buckets| {
            self.retried(
                format_args!("DeleteObject {}", self.url(&key)),
                &StopFlag::never(),
                || {
                    buckets
                        .plain
                        .delete_object(&key)
                        .map_err(sanitized)
                        .context("DeleteObject failed")
                },
            )?;
            Ok(())
        })
        .with_context(|| format!("deleting {}", self.url(&key)))
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::{Incomplete, is_plain_etag, s3_error_code, signs_payload, stale_uploads};
    use crate::aws::parse_utc;

    #[test]
    fn parses_s3_times_in_utc_only() {
        let at = |s: u64| Some(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(parse_utc("1970-01-01T00:00:00Z"), at(0));
        assert_eq!(parse_utc("2024-05-01T12:34:56.789Z"), at(1_714_566_896));
        assert_eq!(parse_utc("2024-05-01T12:34:56+00:00"), at(1_714_566_896));
        for bad in [
            "",
            "2024-05-01",
            "2024-05-01T12:34:56",
            "2024-05-01T12:34:56+02:00",
            "2024-13-01T00:00:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T12:34:5xZ",
            "1969-12-31T23:59:59Z",
        ] {
            assert_eq!(parse_utc(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_our_uploads_older_than_the_bound_are_stale() {
        let upload = |key: &str, initiated: &str| Incomplete {
            key: key.into(),
            id: format!("id-{key}"),
            initiated: initiated.into(),
        };
        let uploads = [
            upload("raft/raft_snapshot-1.snap", "2024-05-01T00:00:00.000Z"),
            upload("raft/raft_snapshot-2.snap", "2024-05-01T23:00:00.000Z"),
            upload("raft/notes.bin", "2024-04-01T00:00:00.000Z"),
            upload("raft/raft_snapshot-3.snap", "yesterday"),
            upload("raft/raft_snapshot-4.snap", "2024-05-03T00:00:00.000Z"),
        ];
        let ours = |key: &str| key.starts_with("raft/raft_snapshot-");
        let now = parse_utc("2024-05-02T01:00:00Z").unwrap();
        let day = Duration::from_secs(86_400);
        let keys = |bound| -> Vec<(&str, u64)> {
            stale_uploads(&uploads, ours, bound, now)
                .into_iter()
                .map(|(u, age)| (u.key.as_str(), age.as_secs()))
                .collect()
        };
        // A day: the one started 25 h ago; not the 2 h old one (in progress, maybe), not a
        // foreign key however old, not one whose start is unreadable.
        assert_eq!(keys(day), [("raft/raft_snapshot-1.snap", 90_000)]);
        // 0: every one of ours whose start can be read, one "in the future" as just started.
        assert_eq!(
            keys(Duration::ZERO),
            [
                ("raft/raft_snapshot-1.snap", 90_000),
                ("raft/raft_snapshot-2.snap", 7_200),
                ("raft/raft_snapshot-4.snap", 0),
            ]
        );
    }

    #[test]
    fn only_a_plain_error_code_is_quoted_from_a_server() {
        let doc = "<Error><Code>SlowDown</Code><Message>Reduce your rate</Message></Error>";
        assert_eq!(s3_error_code(doc), " (SlowDown)");
        assert_eq!(s3_error_code("<Code>\u{1b}[31mred</Code>"), "");
        assert_eq!(s3_error_code("not xml"), "");
    }

    #[test]
    fn the_payload_is_signed_over_http_and_over_https_only_when_asked() {
        assert!(signs_payload("http", false));
        assert!(signs_payload("HTTP", false));
        assert!(!signs_payload("https", false));
        assert!(!signs_payload("HTTPS", false));
        assert!(signs_payload("https", true));
        assert!(signs_payload("http", true));
    }

    #[test]
    fn only_a_plain_etag_is_listed_back_to_the_store() {
        assert!(is_plain_etag("9b2cf535f27731c974343645a3985328"));
        assert!(is_plain_etag("kms-3f1c:v2/opaque"));
        assert!(!is_plain_etag(""));
        assert!(!is_plain_etag("a</ETag><PartNumber>9"));
        assert!(!is_plain_etag("a&amp;b"));
        assert!(!is_plain_etag("with space"));
        assert!(!is_plain_etag("\u{1b}[31m"));
        assert!(!is_plain_etag(&"e".repeat(1025)));
    }
}
