//! One storage contract, checked the same way for every storage (restic's backend suite,
//! in Rust): local and in-memory always, and S3, GCS and Azure (each with its Cargo feature)
//! against moto, fake-gcs-server and Azurite on 127.0.0.1 (`contrib/test-servers.sh start`).
//! A missing server fails the test unless `VRS_TEST_SKIP_CLOUD=1` is set, for local
//! development without them.
//!
//! The `conformance` test target (`tests/conformance.rs`) runs the checks, once per storage,
//! with [`conformance!`]; the `integration` target includes this file for its fixtures only
//! (a cloud storage's raw bucket, its config, a fault proxy in front of it).
//!
//! Every test gets a fresh location (a temporary directory, or a unique key prefix) and
//! places foreign objects beside it: other names, other prefixes, a sibling prefix that
//! starts the same way, and nested keys. None may ever be listed or deleted.

use std::fs;
#[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use vault_raft_snapshot::archive::build::pseudo_random_bytes;
#[cfg(feature = "azure")]
use vault_raft_snapshot::config::AzureConfig;
#[cfg(feature = "gcs")]
use vault_raft_snapshot::config::GcsConfig;
#[cfg(feature = "s3")]
use vault_raft_snapshot::config::S3Config;
use vault_raft_snapshot::retention::RetentionPolicy;
#[cfg(any(feature = "s3", feature = "azure"))]
use vault_raft_snapshot::secret::{Secret, SecretRef};
use vault_raft_snapshot::shutdown::StopFlag;
use vault_raft_snapshot::snapshot_name::SnapshotName;
use vault_raft_snapshot::storage::Storage;
#[cfg(feature = "azure")]
use vault_raft_snapshot::storage::azure::AzureStorage;
#[cfg(feature = "gcs")]
use vault_raft_snapshot::storage::gcs::GcsStorage;
use vault_raft_snapshot::storage::local::LocalStorage;
use vault_raft_snapshot::storage::memory::MemoryStorage;
#[cfg(feature = "s3")]
use vault_raft_snapshot::storage::s3::S3Storage;

#[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
use crate::fault_proxy::{Action, FaultProxy, Request, replace_once};

#[cfg(feature = "s3")]
pub const S3_ENDPOINT: &str = "http://127.0.0.1:5055";
#[cfg(feature = "gcs")]
pub const GCS_ENDPOINT: &str = "http://127.0.0.1:4443";
#[cfg(feature = "azure")]
pub const AZURE_ENDPOINT: &str = "http://127.0.0.1:10000/devstoreaccount1";
#[cfg(feature = "azure")]
pub const AZURE_ACCOUNT: &str = "devstoreaccount1";
#[cfg(feature = "azure")]
pub const AZURE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// The bucket (or container) every cloud fixture uses.
#[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
pub const BUCKET: &str = "vrs-test";

/// The faults a fixture can inject into its storage.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// The write fails after the first part (S3 UploadPart 2, the second GCS chunk, the
    /// second Azure Put Block, a local disk that fills up), every time it is tried.
    SecondPartFails,
    /// The object lands, but the storage reports it one byte larger than sent (the payload
    /// is 1234 bytes).
    WrongSizeReported,
    /// A stop is requested (as SIGTERM does) while the first part is on its way: the
    /// storage's own abort or cancel must clean up, not the client library's.
    StopAfterFirstPart,
}

/// A storage that fails as asked, with what makes it fail (a proxy, a small tmpfs).
pub struct Faulty {
    pub storage: Box<dyn Storage>,
    pub _guard: Box<dyn std::any::Any>,
    /// The flag to pass to the upload (raised by the fault where it is a stop).
    pub stop: StopFlag,
}

impl Faulty {
    fn new(storage: Box<dyn Storage>, guard: impl std::any::Any, stop: StopFlag) -> Self {
        Self {
            storage,
            _guard: Box::new(guard),
            stop,
        }
    }
}

/// How a storage's requests look on the wire, for the proxy that injects faults.
#[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
struct Wire {
    upstream: &'static str,
    /// A request that carries one part of an upload.
    is_part: fn(&Request) -> bool,
    /// The request whose answer reports the size of what landed.
    is_check: fn(&Request) -> bool,
    /// Rewrites that answer to report 1235 bytes for the 1234 sent.
    misreport: fn(Vec<u8>) -> Vec<u8>,
}

#[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
impl Wire {
    /// A proxy injecting `fault`, and the stop flag it raises (for `StopAfterFirstPart`).
    fn proxy(self, fault: Fault) -> (FaultProxy, StopFlag) {
        let stop = StopFlag::never();
        let raise = stop.clone();
        let parts = std::sync::atomic::AtomicUsize::new(0);
        let proxy = FaultProxy::start(self.upstream, move |r: &Request| match fault {
            Fault::SecondPartFails if (self.is_part)(r) => {
                if parts.fetch_add(1, Ordering::SeqCst) >= 1 {
                    Action::Fail(500)
                } else {
                    Action::Forward
                }
            }
            Fault::WrongSizeReported if (self.is_check)(r) => Action::Rewrite(self.misreport),
            Fault::StopAfterFirstPart if (self.is_part)(r) => {
                raise.raise();
                Action::Forward
            }
            _ => Action::Forward,
        });
        (proxy, stop)
    }
}

/// A storage under test, with raw access to its location for foreign objects.
pub trait Fixture {
    /// The storage, with small pages (2 per page) and small parts.
    fn storage(&self) -> Box<dyn Storage>;
    /// The storage with `fault` injected, or `None` where it cannot be injected.
    fn faulty(&self, fault: Fault) -> Option<Faulty>;
    /// True if no unfinished multipart upload is left under the prefix (where the storage
    /// has such a thing to ask about).
    fn no_unfinished_uploads(&self) -> bool {
        true
    }
    /// The test's own prefix (or directory name) inside the bucket (or root directory).
    fn prefix(&self) -> &str;
    /// Writes an object at `key` (relative to the bucket or root), bypassing the storage.
    fn put_raw(&self, key: &str, bytes: &[u8]);
    /// Whether `key` exists.
    fn exists_raw(&self, key: &str) -> bool;
}

/// A prefix no other test uses.
#[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
pub fn unique_prefix() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "t{}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        nanos
    )
}

/// True if a server answers at `addr`; otherwise fails, or (with VRS_TEST_SKIP_CLOUD=1)
/// returns false so the test is skipped with a note.
#[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
pub fn server_up(name: &str, addr: &str) -> bool {
    if TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2)).is_ok() {
        return true;
    }
    if std::env::var("VRS_TEST_SKIP_CLOUD").is_ok_and(|v| v == "1") {
        eprintln!("{name} is not running at {addr}; skipped (VRS_TEST_SKIP_CLOUD=1)");
        return false;
    }
    panic!(
        "{name} is not running at {addr}: start the test servers with `contrib/test-servers.sh start` \
         (or run `contrib/test.sh`), or set VRS_TEST_SKIP_CLOUD=1 to skip cloud storage tests"
    );
}

// ---------------------------------------------------------------- local

pub struct LocalFixture {
    root: tempfile::TempDir,
    prefix: String,
}

impl LocalFixture {
    pub fn new() -> Option<Self> {
        let root = tempfile::tempdir().unwrap();
        let prefix = "ours".to_string();
        fs::create_dir(root.path().join(&prefix)).unwrap();
        Some(Self { root, prefix })
    }
}

/// A tmpfs of `size` mounted on a fresh directory, unmounted when dropped. The tests run
/// as root (CI does); a machine where mounting fails fails the test with the reason.
pub struct Tmpfs {
    pub dir: tempfile::TempDir,
}

impl Tmpfs {
    pub fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("running mount");
        assert!(
            status.success(),
            "cannot mount a tmpfs on {} (these tests need root for a real full disk)",
            dir.path().display()
        );
        Self { dir }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

impl Fixture for LocalFixture {
    fn storage(&self) -> Box<dyn Storage> {
        Box::new(LocalStorage::new(self.root.path().join(&self.prefix)))
    }
    fn faulty(&self, fault: Fault) -> Option<Faulty> {
        match fault {
            // A 1 MiB filesystem fills up in the middle of an 11 MiB snapshot.
            Fault::SecondPartFails => {
                let tmpfs = Tmpfs::mount("1m");
                let storage = Box::new(LocalStorage::new(tmpfs.dir.path().to_path_buf()));
                Some(Faulty::new(storage, tmpfs, StopFlag::never()))
            }
            // A local file's size is read back from the file itself after fsync; there is
            // no server whose answer could be made to lie.
            Fault::WrongSizeReported => None,
            // A local write is one copy: the flag is checked before it starts.
            Fault::StopAfterFirstPart => {
                let stop = StopFlag::never();
                stop.raise();
                Some(Faulty::new(self.storage(), (), stop))
            }
        }
    }
    fn prefix(&self) -> &str {
        &self.prefix
    }
    fn put_raw(&self, key: &str, bytes: &[u8]) {
        let path = self.root.path().join(key);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }
    fn exists_raw(&self, key: &str) -> bool {
        self.root.path().join(key).exists()
    }
}

// ---------------------------------------------------------------- memory

/// The in-memory storage under a prefix of its bucket; foreign objects are other keys in it.
pub struct MemoryFixture {
    bucket: MemoryStorage,
    prefix: String,
}

impl MemoryFixture {
    pub fn new() -> Option<Self> {
        Some(Self {
            bucket: MemoryStorage::new("conformance"),
            prefix: "ours".to_string(),
        })
    }
}

impl Fixture for MemoryFixture {
    fn storage(&self) -> Box<dyn Storage> {
        Box::new(self.bucket.under(&self.prefix))
    }
    fn faulty(&self, fault: Fault) -> Option<Faulty> {
        match fault {
            // An upload in memory is one step: reading the staged file, then storing it. A
            // refused write fails after the read, as a failed second part does.
            Fault::SecondPartFails => {
                let storage = self.bucket.under(&self.prefix);
                storage.fail_uploads(true);
                Some(Faulty::new(Box::new(storage), (), StopFlag::never()))
            }
            // The size listed is the length of the bytes held; nothing reports it.
            Fault::WrongSizeReported => None,
            // The flag is checked before the upload starts.
            Fault::StopAfterFirstPart => {
                let stop = StopFlag::never();
                stop.raise();
                Some(Faulty::new(self.storage(), (), stop))
            }
        }
    }
    fn prefix(&self) -> &str {
        &self.prefix
    }
    fn put_raw(&self, key: &str, bytes: &[u8]) {
        self.bucket.insert_raw(key, bytes);
    }
    fn exists_raw(&self, key: &str) -> bool {
        self.bucket.contains_raw(key)
    }
}

// ---------------------------------------------------------------- S3

#[cfg(feature = "s3")]
pub struct S3Fixture {
    prefix: String,
    bucket: Box<::s3::Bucket>,
}

#[cfg(feature = "s3")]
pub fn s3_config(prefix: &str) -> S3Config {
    S3Config {
        access_key_id: Some(SecretRef::value(
            "access_key_id",
            Secret::new("test-access-key"),
        )),
        secret_access_key: Some(SecretRef::value(
            "secret_access_key",
            Secret::new("test-secret-key"),
        )),
        endpoint: Some(S3_ENDPOINT.into()),
        force_path_style: true,
        region: "us-east-1".into(),
        bucket: BUCKET.into(),
        key_prefix: prefix.into(),
        server_side_encryption: false,
        kms_key_id: None,
        static_snapshot_name: None,
        storage_class: None,
        part_size: 8 << 20,
        upload_concurrency: 4,
        sign_payload: false,
    }
}

#[cfg(feature = "s3")]
/// The test bucket on moto, for reading and writing behind the storage's back.
pub fn raw_s3_bucket() -> Box<::s3::Bucket> {
    let credentials = ::s3::creds::Credentials::new(
        Some("test-access-key"),
        Some("test-secret-key"),
        None,
        None,
        None,
    )
    .unwrap();
    let region = ::s3::Region::Custom {
        region: "us-east-1".into(),
        endpoint: S3_ENDPOINT.into(),
    };
    ::s3::Bucket::new(BUCKET, region, credentials)
        .unwrap()
        .with_path_style()
}

#[cfg(feature = "s3")]
impl S3Fixture {
    pub fn new() -> Option<Self> {
        if !server_up("moto (S3)", "127.0.0.1:5055") {
            return None;
        }
        let bucket = raw_s3_bucket();
        Some(Self {
            prefix: unique_prefix(),
            bucket,
        })
    }
}

#[cfg(feature = "s3")]
impl S3Fixture {
    fn storage_at(&self, endpoint: &str) -> Box<dyn Storage> {
        let mut config = s3_config(&self.prefix);
        config.endpoint = Some(endpoint.to_string());
        Box::new(
            S3Storage::new(config)
                .with_part_size(5 << 20)
                .with_page_size(2),
        )
    }
}

#[cfg(feature = "s3")]
impl Fixture for S3Fixture {
    fn storage(&self) -> Box<dyn Storage> {
        self.storage_at(S3_ENDPOINT)
    }
    fn faulty(&self, fault: Fault) -> Option<Faulty> {
        let wire = Wire {
            upstream: "127.0.0.1:5055",
            is_part: |r| r.method == "PUT" && r.target.contains("partNumber="),
            is_check: |r| r.method == "HEAD",
            misreport: bump_content_length,
        };
        let (proxy, stop) = wire.proxy(fault);
        Some(Faulty::new(self.storage_at(&proxy.url()), proxy, stop))
    }
    fn no_unfinished_uploads(&self) -> bool {
        let pages = self
            .bucket
            .list_multiparts_uploads(Some(&format!("{}/", self.prefix)), None)
            .unwrap();
        pages.iter().all(|page| page.uploads.is_empty())
    }
    fn prefix(&self) -> &str {
        &self.prefix
    }
    fn put_raw(&self, key: &str, bytes: &[u8]) {
        self.bucket.put_object(key, bytes).unwrap();
    }
    fn exists_raw(&self, key: &str) -> bool {
        self.bucket.head_object(key).is_ok()
    }
}

// ---------------------------------------------------------------- GCS

#[cfg(feature = "gcs")]
pub struct GcsFixture {
    prefix: String,
}

#[cfg(feature = "gcs")]
pub fn gcs_config(prefix: &str) -> GcsConfig {
    GcsConfig {
        bucket: BUCKET.into(),
        prefix: prefix.into(),
        endpoint: GCS_ENDPOINT.into(),
        credentials: vault_raft_snapshot::config::GoogleCredentials::None,
    }
}

#[cfg(feature = "gcs")]
impl GcsFixture {
    pub fn new() -> Option<Self> {
        server_up("fake-gcs-server (GCS)", "127.0.0.1:4443").then(|| Self {
            prefix: unique_prefix(),
        })
    }
}

#[cfg(feature = "gcs")]
impl GcsFixture {
    fn storage_at(&self, endpoint: &str) -> Box<dyn Storage> {
        let mut config = gcs_config(&self.prefix);
        config.endpoint = endpoint.to_string();
        Box::new(
            GcsStorage::new(config)
                .with_chunk_size(1 << 20)
                .with_page_size(2),
        )
    }
}

#[cfg(feature = "gcs")]
impl Fixture for GcsFixture {
    fn storage(&self) -> Box<dyn Storage> {
        self.storage_at(GCS_ENDPOINT)
    }
    fn faulty(&self, fault: Fault) -> Option<Faulty> {
        let wire = Wire {
            upstream: "127.0.0.1:4443",
            is_part: |r| r.method == "PUT" && r.target.contains("upload_id="),
            // The last chunk's answer is the object resource, with its size.
            is_check: |r| r.method == "PUT" && r.target.contains("upload_id="),
            misreport: bump_json_size,
        };
        let (proxy, stop) = wire.proxy(fault);
        Some(Faulty::new(self.storage_at(&proxy.url()), proxy, stop))
    }
    fn prefix(&self) -> &str {
        &self.prefix
    }
    fn put_raw(&self, key: &str, bytes: &[u8]) {
        let url = format!(
            "{GCS_ENDPOINT}/upload/storage/v1/b/{BUCKET}/o?uploadType=media&name={}",
            vault_raft_snapshot::storage::gcs::encode(key)
        );
        let response = ureq::post(&url)
            .header("Content-Type", "application/octet-stream")
            .send(bytes)
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
    }
    fn exists_raw(&self, key: &str) -> bool {
        let url = format!(
            "{GCS_ENDPOINT}/storage/v1/b/{BUCKET}/o/{}",
            vault_raft_snapshot::storage::gcs::encode(key)
        );
        ureq::get(&url).call().is_ok()
    }
}

// ---------------------------------------------------------------- Azure

#[cfg(feature = "azure")]
pub struct AzureFixture {
    prefix: String,
    runtime: tokio::runtime::Runtime,
    store: object_store::azure::MicrosoftAzure,
}

#[cfg(feature = "azure")]
pub fn azure_config(prefix: &str) -> AzureConfig {
    AzureConfig {
        account_name: AZURE_ACCOUNT.into(),
        account_key: Some(SecretRef::value("account_key", Secret::new(AZURE_KEY))),
        container_name: BUCKET.into(),
        prefix: prefix.into(),
        endpoint: Some(AZURE_ENDPOINT.into()),
        sas_token: None,
    }
}

#[cfg(feature = "azure")]
impl AzureFixture {
    pub fn new() -> Option<Self> {
        if !server_up("Azurite (Azure)", "127.0.0.1:10000") {
            return None;
        }
        vault_raft_snapshot::install_crypto_provider();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let store = object_store::azure::MicrosoftAzureBuilder::new()
            .with_account(AZURE_ACCOUNT)
            .with_access_key(AZURE_KEY)
            .with_container_name(BUCKET)
            .with_endpoint(AZURE_ENDPOINT.into())
            .with_allow_http(true)
            .build()
            .unwrap();
        Some(Self {
            prefix: unique_prefix(),
            runtime,
            store,
        })
    }
}

#[cfg(feature = "azure")]
impl AzureFixture {
    fn storage_at(&self, endpoint: &str) -> Box<dyn Storage> {
        let mut config = azure_config(&self.prefix);
        config.endpoint = Some(endpoint.to_string());
        Box::new(
            AzureStorage::new(config)
                .unwrap()
                .with_block_size(5 << 20)
                .with_page_size(2),
        )
    }
}

#[cfg(feature = "azure")]
impl Fixture for AzureFixture {
    fn storage(&self) -> Box<dyn Storage> {
        self.storage_at(AZURE_ENDPOINT)
    }
    fn faulty(&self, fault: Fault) -> Option<Faulty> {
        let wire = Wire {
            upstream: "127.0.0.1:10000",
            is_part: |r| r.method == "PUT" && r.target.contains("comp=block&"),
            is_check: |r| r.method == "HEAD",
            misreport: bump_content_length,
        };
        let (proxy, stop) = wire.proxy(fault);
        let endpoint = format!("{}/{AZURE_ACCOUNT}", proxy.url());
        Some(Faulty::new(self.storage_at(&endpoint), proxy, stop))
    }
    fn prefix(&self) -> &str {
        &self.prefix
    }
    fn put_raw(&self, key: &str, bytes: &[u8]) {
        use object_store::ObjectStoreExt;
        let path = object_store::path::Path::from(key);
        self.runtime
            .block_on(self.store.put(&path, bytes.to_vec().into()))
            .unwrap();
    }
    fn exists_raw(&self, key: &str) -> bool {
        use object_store::ObjectStoreExt;
        self.runtime
            .block_on(self.store.head(&object_store::path::Path::from(key)))
            .is_ok()
    }
}

// ---------------------------------------------------------------- faults

/// A HEAD answer for the 1234-byte payload, reporting 1235 bytes.
#[cfg(any(feature = "s3", feature = "azure"))]
fn bump_content_length(response: Vec<u8>) -> Vec<u8> {
    let response = replace_once(
        response,
        b"Content-Length: 1234\r\n",
        b"Content-Length: 1235\r\n",
    );
    replace_once(
        response,
        b"content-length: 1234\r\n",
        b"content-length: 1235\r\n",
    )
}

/// A GCS object resource for the 1234-byte payload, reporting 1235 bytes.
#[cfg(feature = "gcs")]
fn bump_json_size(response: Vec<u8>) -> Vec<u8> {
    let response = replace_once(response, b"\"size\":\"1234\"", b"\"size\":\"1235\"");
    replace_once(response, b"\"size\": \"1234\"", b"\"size\": \"1235\"")
}

// ---------------------------------------------------------------- the checks

fn name(seconds: u64) -> SnapshotName {
    SnapshotName::at(UNIX_EPOCH + Duration::from_secs(1_700_000_000 + seconds))
}

/// A fresh staged file, as the agent makes one per cycle: storages may link it, so it is
/// never rewritten.
fn staged(dir: &Path, bytes: &[u8]) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let path = dir.join(format!(
        "staged-{}.snap",
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    fs::write(&path, bytes).unwrap();
    path
}

pub fn empty_location_lists_nothing(f: &dyn Fixture) {
    assert!(f.storage().list().unwrap().is_empty());
}

pub fn upload_then_list_shows_name_and_exact_size(f: &dyn Fixture) {
    let work = tempfile::tempdir().unwrap();
    let storage = f.storage();
    storage
        .upload(
            &staged(work.path(), &[7u8; 1234]),
            &name(1),
            &StopFlag::never(),
        )
        .unwrap();
    let listed = storage.list().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!((listed[0].name, listed[0].size), (name(1), 1234));
}

pub fn download_is_byte_identical_for_1_byte_and_beyond_one_part(f: &dyn Fixture) {
    let work = tempfile::tempdir().unwrap();
    let storage = f.storage();
    for (n, bytes) in [(1, vec![42u8]), (2, pseudo_random_bytes(17 << 20, 9))] {
        storage
            .upload(&staged(work.path(), &bytes), &name(n), &StopFlag::never())
            .unwrap();
        let back = work.path().join("back");
        storage.download(&name(n), &back).unwrap();
        assert!(
            fs::read(&back).unwrap() == bytes,
            "{} bytes did not round-trip",
            bytes.len()
        );
    }
    let mut sizes: Vec<u64> = storage.list().unwrap().iter().map(|e| e.size).collect();
    sizes.sort();
    assert_eq!(sizes, [1, 17 << 20]);
}

pub fn foreign_objects_are_never_listed_or_deleted(f: &dyn Fixture) {
    let work = tempfile::tempdir().unwrap();
    let p = f.prefix();
    let foreign = [
        format!("{p}/notes.txt"),
        format!("{p}/raft_snapshot-01.snap"),
        format!("{p}/nested/{}", name(50)),
        format!("{p}-other-cluster/{}", name(51)),
        format!("other-cluster-{p}/{}", name(52)),
    ];
    for key in &foreign {
        f.put_raw(key, b"not ours");
    }
    let storage = f.storage();
    for n in 1..=3 {
        storage
            .upload(
                &staged(work.path(), b"ours, long enough for retention to count"),
                &name(n),
                &StopFlag::never(),
            )
            .unwrap();
    }
    let listed: Vec<SnapshotName> = storage.list().unwrap().iter().map(|e| e.name).collect();
    assert_eq!(listed.len(), 3, "{listed:?}");
    let decisions = vault_raft_snapshot::prune::prune(
        "conformance",
        storage.as_ref(),
        RetentionPolicy::keep_last(1),
        SystemTime::now(),
        false,
    )
    .unwrap();
    assert_eq!(decisions.iter().filter(|d| !d.keep).count(), 2);
    assert_eq!(storage.list().unwrap().len(), 1);
    for key in &foreign {
        assert!(f.exists_raw(key), "{key} was deleted");
    }
}

pub fn listing_is_complete_beyond_one_page(f: &dyn Fixture) {
    let work = tempfile::tempdir().unwrap();
    let storage = f.storage();
    for n in 1..=7 {
        storage
            .upload(&staged(work.path(), b"x"), &name(n), &StopFlag::never())
            .unwrap();
    }
    let mut listed: Vec<SnapshotName> = storage.list().unwrap().iter().map(|e| e.name).collect();
    listed.sort();
    assert_eq!(listed, (1..=7).map(name).collect::<Vec<_>>());
}

pub fn delete_removes_and_deleting_a_missing_name_is_fine(f: &dyn Fixture) {
    let work = tempfile::tempdir().unwrap();
    let storage = f.storage();
    storage
        .upload(&staged(work.path(), b"x"), &name(1), &StopFlag::never())
        .unwrap();
    storage
        .upload(&staged(work.path(), b"y"), &name(2), &StopFlag::never())
        .unwrap();
    storage.delete(&name(1)).unwrap();
    storage.delete(&name(1)).unwrap();
    storage.delete(&name(99)).unwrap();
    let listed: Vec<SnapshotName> = storage.list().unwrap().iter().map(|e| e.name).collect();
    assert_eq!(listed, [name(2)]);
}

pub fn a_failed_upload_leaves_nothing_that_lists(f: &dyn Fixture) {
    let storage = f.storage();
    assert!(
        storage
            .upload(
                Path::new("/nonexistent/staged.snap"),
                &name(1),
                &StopFlag::never()
            )
            .is_err()
    );
    assert!(storage.list().unwrap().is_empty());
}

pub fn a_failure_in_the_middle_of_an_upload_leaves_nothing_and_no_parts(f: &dyn Fixture) {
    let faulty = f
        .faulty(Fault::SecondPartFails)
        .expect("every storage can fail in the middle of an upload");
    let work = tempfile::tempdir().unwrap();
    let bytes = pseudo_random_bytes(11 << 20, 3);
    let error = faulty
        .storage
        .upload(&staged(work.path(), &bytes), &name(1), &StopFlag::never())
        .unwrap_err();
    eprintln!("the upload failed as it should: {error:#}");
    assert!(faulty.storage.list().unwrap().is_empty());
    assert!(f.storage().list().unwrap().is_empty());
    assert!(
        f.no_unfinished_uploads(),
        "parts of the failed upload were left"
    );
}

pub fn a_stop_in_the_middle_of_an_upload_leaves_nothing_and_no_parts(f: &dyn Fixture) {
    let faulty = f
        .faulty(Fault::StopAfterFirstPart)
        .expect("every storage can be stopped");
    let work = tempfile::tempdir().unwrap();
    let bytes = pseudo_random_bytes(11 << 20, 4);
    let error = faulty
        .storage
        .upload(&staged(work.path(), &bytes), &name(1), &faulty.stop)
        .unwrap_err();
    let error = format!("{error:#}");
    assert_contains!(error, "interrupted by a shutdown signal");
    assert!(f.storage().list().unwrap().is_empty());
    assert!(
        f.no_unfinished_uploads(),
        "parts of the stopped upload were left"
    );
}

pub fn uploading_the_same_name_twice_replaces_it(f: &dyn Fixture) {
    let work = tempfile::tempdir().unwrap();
    let storage = f.storage();
    let stop = StopFlag::never();
    storage
        .upload(&staged(work.path(), b"first"), &name(1), &stop)
        .unwrap();
    storage
        .upload(&staged(work.path(), b"second one"), &name(1), &stop)
        .unwrap();
    let listed = storage.list().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!((listed[0].name, listed[0].size), (name(1), 10));
    let back = work.path().join("back");
    storage.download(&name(1), &back).unwrap();
    assert_eq!(fs::read(back).unwrap(), b"second one");
}

pub fn an_object_that_landed_with_the_wrong_size_is_detected_and_removed(f: &dyn Fixture) {
    let Some(faulty) = f.faulty(Fault::WrongSizeReported) else {
        eprintln!("this storage has no server whose size report could be falsified");
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let error = faulty
        .storage
        .upload(
            &staged(work.path(), &[9u8; 1234]),
            &name(1),
            &StopFlag::never(),
        )
        .unwrap_err();
    let error = format!("{error:#}");
    assert_contains!(error, "1235");
    assert_contains!(error, "1234");
    assert!(
        f.storage().list().unwrap().is_empty(),
        "the bad object was left"
    );
}

/// One test per check for a fixture: `conformance!(local, LocalFixture::new())` in the test
/// target's root, next to `mod conformance`.
macro_rules! conformance {
    ($module:ident, $fixture:expr) => {
        mod $module {
            use crate::conformance::*;

            fn run(check: fn(&dyn Fixture)) {
                if let Some(fixture) = $fixture {
                    check(&fixture);
                }
            }

            #[test]
            fn empty_location_lists_nothing() {
                run(crate::conformance::empty_location_lists_nothing);
            }
            #[test]
            fn upload_then_list_shows_name_and_exact_size() {
                run(crate::conformance::upload_then_list_shows_name_and_exact_size);
            }
            #[test]
            fn download_is_byte_identical_for_1_byte_and_beyond_one_part() {
                run(crate::conformance::download_is_byte_identical_for_1_byte_and_beyond_one_part);
            }
            #[test]
            fn foreign_objects_are_never_listed_or_deleted() {
                run(crate::conformance::foreign_objects_are_never_listed_or_deleted);
            }
            #[test]
            fn listing_is_complete_beyond_one_page() {
                run(crate::conformance::listing_is_complete_beyond_one_page);
            }
            #[test]
            fn delete_removes_and_deleting_a_missing_name_is_fine() {
                run(crate::conformance::delete_removes_and_deleting_a_missing_name_is_fine);
            }
            #[test]
            fn a_failed_upload_leaves_nothing_that_lists() {
                run(crate::conformance::a_failed_upload_leaves_nothing_that_lists);
            }
            #[test]
            fn a_failure_in_the_middle_of_an_upload_leaves_nothing_and_no_parts() {
                run(crate::conformance::a_failure_in_the_middle_of_an_upload_leaves_nothing_and_no_parts);
            }
            #[test]
            fn a_stop_in_the_middle_of_an_upload_leaves_nothing_and_no_parts() {
                run(crate::conformance::a_stop_in_the_middle_of_an_upload_leaves_nothing_and_no_parts);
            }
            #[test]
            fn uploading_the_same_name_twice_replaces_it() {
                run(crate::conformance::uploading_the_same_name_twice_replaces_it);
            }
            #[test]
            fn an_object_that_landed_with_the_wrong_size_is_detected_and_removed() {
                run(crate::conformance::an_object_that_landed_with_the_wrong_size_is_detected_and_removed);
            }
        }
    };
}
