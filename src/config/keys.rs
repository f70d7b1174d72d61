//! The documentation of every configuration key: one table that the man page and README's
//! configuration tables are generated from (`crate::docs`). Tests check it against the keys
//! the parser accepts, so neither can drift from the other.

use super::auth::DEFAULT_AZURE_RESOURCE;
use super::{DEFAULT_ADDR, DEFAULT_K8S_TOKEN_PATH};

/// Where a key belongs in the documentation: one table each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// How to reach Vault.
    Vault,
    /// How to log in.
    Auth,
    /// Schedule, retention, staging, metrics.
    Agent,
    /// `local_storage`.
    Local,
    /// `aws_storage`.
    S3,
    /// `google_storage`.
    Gcs,
    /// `azure_storage`.
    Azure,
    /// Keys every storage object takes.
    AnyStorage,
    /// The `drill` object.
    Drill,
}

impl Section {
    /// Every section, in the order the documentation shows them.
    pub const ALL: [Section; 9] = [
        Section::Vault,
        Section::Auth,
        Section::Agent,
        Section::Local,
        Section::S3,
        Section::Gcs,
        Section::Azure,
        Section::AnyStorage,
        Section::Drill,
    ];

    /// The name of its table in README (`<!-- keys:NAME -->`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Section::Vault => "vault",
            Section::Auth => "auth",
            Section::Agent => "agent",
            Section::Local => "local_storage",
            Section::S3 => "aws_storage",
            Section::Gcs => "google_storage",
            Section::Azure => "azure_storage",
            Section::AnyStorage => "any_storage",
            Section::Drill => "drill",
        }
    }
}

/// One documented configuration key, for the man page and README. A test checks this list
/// against the keys the parser accepts, so it cannot drift.
#[derive(Debug, Clone, Copy)]
pub struct KeyDoc {
    /// Which table it is shown in.
    pub section: Section,
    /// The JSON key (`section.key` inside a storage object).
    pub key: &'static str,
    /// The default, or `""` when there is none.
    pub default: &'static str,
    /// The environment variable that fills it in, or `""`.
    pub env: &'static str,
    /// What it does.
    pub doc: &'static str,
}

/// Every configuration key.
pub const KEYS: &[KeyDoc] = &[
    KeyDoc {
        section: Section::Vault,
        key: "addr",
        default: DEFAULT_ADDR,
        env: "VAULT_ADDR",
        doc: "Vault's address: this node's, or a load balancer's. Or a JSON list of the nodes' addresses: at every cycle the agent asks each in turn (sys/leader, 5s each) and talks to the active one, for an agent outside the cluster with no load balancer; VAULT_ADDR and --addr take one address.",
    },
    KeyDoc {
        section: Section::Vault,
        key: "namespace",
        default: "",
        env: "VAULT_NAMESPACE",
        doc: "Vault namespace, sent as X-Vault-Namespace.",
    },
    KeyDoc {
        section: Section::Vault,
        key: "leader_check",
        default: "auto",
        env: "",
        doc: "Who takes the snapshot. auto: is_self when addr is this host, else only the agent whose host leader_address resolves to. is_self: act when the node at addr is the active node (one agent pointed at a Kubernetes <release>-active Service). none: no check, snapshot whichever node answers (exactly one agent per cluster). With a list of nodes in addr, auto means is_self of the node found active.",
    },
    KeyDoc {
        section: Section::Vault,
        key: "timeout",
        default: "none",
        env: "",
        doc: "Limit on the whole snapshot download, as a Go duration (e.g. 30m).",
    },
    KeyDoc {
        section: Section::Vault,
        key: "idle_timeout",
        default: "5m",
        env: "",
        doc: "The longest wait for the next byte from Vault or a storage, in either direction, as a Go duration. A peer silent for longer fails that download or that storage; the temporary file is removed. (S3: each request, one part of s3_part_size at most, must finish within it.)",
    },
    KeyDoc {
        section: Section::Vault,
        key: "ca_cert",
        default: "the system's trusted CAs",
        env: "VAULT_CACERT",
        doc: "PEM file of the CA certificates that sign Vault's certificate.",
    },
    KeyDoc {
        section: Section::Vault,
        key: "ca_path",
        default: "",
        env: "VAULT_CAPATH",
        doc: "Directory of PEM CA files; ca_cert wins when both are set.",
    },
    KeyDoc {
        section: Section::Vault,
        key: "client_cert",
        default: "",
        env: "VAULT_CLIENT_CERT",
        doc: "PEM client certificate for mutual TLS (with client_key).",
    },
    KeyDoc {
        section: Section::Vault,
        key: "client_key",
        default: "",
        env: "VAULT_CLIENT_KEY",
        doc: "PEM private key of client_cert.",
    },
    KeyDoc {
        section: Section::Vault,
        key: "tls_skip_verify",
        default: "false",
        env: "VAULT_SKIP_VERIFY",
        doc: "Do not verify Vault's certificate (a warning is logged at every start).",
    },
    KeyDoc {
        section: Section::Vault,
        key: "tls_server_name",
        default: "",
        env: "VAULT_TLS_SERVER_NAME",
        doc: "Not supported yet: refused with an error; use the certificate's name in addr.",
    },
    KeyDoc {
        section: Section::Auth,
        key: "token_path",
        default: "",
        env: "",
        doc: "File holding a Vault token (e.g. a Vault Agent sink), read at every cycle; when set, the other methods are skipped.",
    },
    KeyDoc {
        section: Section::Auth,
        key: "vault_auth_method",
        default: "approle",
        env: "",
        doc: "approle, k8s (or kubernetes), token (VAULT_TOKEN), userpass, ldap, jwt, cert, aws (IAM), gcp or azure.",
    },
    KeyDoc {
        section: Section::Auth,
        key: "role_id",
        default: "",
        env: "",
        doc: "AppRole role_id. A secret: also file:///path or env://NAME, read at every use.",
    },
    KeyDoc {
        section: Section::Auth,
        key: "secret_id",
        default: "",
        env: "",
        doc: "AppRole secret_id. A secret: also file:///path or env://NAME, read at every use.",
    },
    KeyDoc {
        section: Section::Auth,
        key: "approle",
        default: "approle",
        env: "",
        doc: "AppRole auth mount.",
    },
    KeyDoc {
        section: Section::Auth,
        key: "k8s_auth_role",
        default: "",
        env: "",
        doc: "Vault role for Kubernetes login.",
    },
    KeyDoc {
        section: Section::Auth,
        key: "k8s_auth_path",
        default: "kubernetes",
        env: "",
        doc: "Kubernetes auth mount.",
    },
    KeyDoc {
        section: Section::Auth,
        key: "k8s_token_path",
        default: DEFAULT_K8S_TOKEN_PATH,
        env: "",
        doc: "File holding the service account JWT.",
    },
    KeyDoc {
        section: Section::Auth,
        key: "gcp_auth_role",
        default: "",
        env: "",
        doc: "Vault role (type gce) for vault_auth_method gcp: the agent asks the GCE metadata server for this instance's identity token (audience http://vault/<role>, format full) at every login.",
    },
    KeyDoc {
        section: Section::Auth,
        key: "gcp_auth_path",
        default: "gcp",
        env: "",
        doc: "GCP auth mount.",
    },
    KeyDoc {
        section: Section::Auth,
        key: "gcp_auth_service_account",
        default: "default",
        env: "",
        doc: "The instance's service account whose identity token is sent (its e-mail address, or default).",
    },
    KeyDoc {
        section: Section::Auth,
        key: "azure_auth_role",
        default: "",
        env: "",
        doc: "Vault role for vault_auth_method azure: the agent asks Azure's instance metadata service for a managed-identity token and the VM's subscription, resource group and VM (or scale set) name at every login.",
    },
    KeyDoc {
        section: Section::Auth,
        key: "azure_auth_path",
        default: "azure",
        env: "",
        doc: "Azure auth mount.",
    },
    KeyDoc {
        section: Section::Auth,
        key: "azure_auth_resource",
        default: DEFAULT_AZURE_RESOURCE,
        env: "",
        doc: "The resource the managed-identity token is for: the mount's configured resource (the token's aud).",
    },
    KeyDoc {
        section: Section::Auth,
        key: "userpass_username",
        default: "",
        env: "",
        doc: "userpass: the user name (login at auth/<userpass_auth_path>/login/<name>).",
    },
    KeyDoc {
        section: Section::Auth,
        key: "userpass_password",
        default: "",
        env: "",
        doc: "userpass: the password. A secret: also file:///path or env://NAME, read at every login.",
    },
    KeyDoc {
        section: Section::Auth,
        key: "userpass_auth_path",
        default: "userpass",
        env: "",
        doc: "userpass auth mount.",
    },
    KeyDoc {
        section: Section::Auth,
        key: "ldap_username",
        default: "",
        env: "",
        doc: "ldap: the user name (login at auth/<ldap_auth_path>/login/<name>).",
    },
    KeyDoc {
        section: Section::Auth,
        key: "ldap_password",
        default: "",
        env: "",
        doc: "ldap: the password. A secret: also file:///path or env://NAME, read at every login.",
    },
    KeyDoc {
        section: Section::Auth,
        key: "ldap_auth_path",
        default: "ldap",
        env: "",
        doc: "LDAP auth mount.",
    },
    KeyDoc {
        section: Section::Auth,
        key: "jwt_auth_role",
        default: "",
        env: "",
        doc: "jwt: the Vault role to log in with.",
    },
    KeyDoc {
        section: Section::Auth,
        key: "jwt_token_path",
        default: "",
        env: "",
        doc: "jwt: file holding the JWT (a projected service account token, a CI job's OIDC token), read again at every login.",
    },
    KeyDoc {
        section: Section::Auth,
        key: "jwt_auth_path",
        default: "jwt",
        env: "",
        doc: "JWT/OIDC auth mount.",
    },
    KeyDoc {
        section: Section::Auth,
        key: "cert_auth_role",
        default: "",
        env: "",
        doc: "cert: the certificate role (name) to log in against; without it every matching one is tried. The certificate is client_cert/client_key; addr must be https://.",
    },
    KeyDoc {
        section: Section::Auth,
        key: "cert_auth_path",
        default: "cert",
        env: "",
        doc: "TLS certificate auth mount.",
    },
    KeyDoc {
        section: Section::Auth,
        key: "aws_auth_role",
        default: "",
        env: "",
        doc: "Vault role for vault_auth_method aws (IAM): the agent logs in with an sts:GetCallerIdentity request signed with credentials from the AWS chain (environment, profile, IRSA, EKS Pod Identity, instance role).",
    },
    KeyDoc {
        section: Section::Auth,
        key: "aws_auth_path",
        default: "aws",
        env: "",
        doc: "AWS auth mount.",
    },
    KeyDoc {
        section: Section::Auth,
        key: "aws_auth_header_value",
        default: "",
        env: "",
        doc: "Sent and signed as X-Vault-AWS-IAM-Server-ID; set it when the mount's iam_server_id_header_value is set.",
    },
    KeyDoc {
        section: Section::Auth,
        key: "aws_auth_region",
        default: "us-east-1",
        env: "AWS_REGION",
        doc: "The STS region the login request is signed for (https://sts.amazonaws.com/ in us-east-1, else the region's endpoint; AWS_ENDPOINT_URL_STS overrides the URL). It must match the mount's sts_region / sts_endpoint.",
    },
    KeyDoc {
        section: Section::Agent,
        key: "frequency",
        default: "1h",
        env: "",
        doc: "How often run takes a snapshot, as a Go duration: 30s, 5m, 1h, 1h30m; at least 1s.",
    },
    KeyDoc {
        section: Section::Agent,
        key: "retry_interval",
        default: "30s",
        env: "",
        doc: "After a failed cycle, run tries again this soon instead of waiting a whole frequency; each further failure in a row doubles the wait, up to frequency (a cycle that stores everywhere starts the schedule again). At least 1s; a value over frequency is frequency.",
    },
    KeyDoc {
        section: Section::Agent,
        key: "abort_incomplete_uploads_after",
        default: "24h",
        env: "",
        doc: "After its first cycle, once and run abort the incomplete S3 multipart uploads of their own snapshot names (under s3_key_prefix) started longer ago than this: what an agent killed during an upload left, billed until aborted. Never another name's. The default is far longer than any upload, so an upload in progress (also another node's agent writing under the same prefix) is never aborted; 0 aborts all of ours, for a single agent. GCS and Azure clean up after themselves (see README).",
    },
    KeyDoc {
        section: Section::Agent,
        key: "retain",
        default: "0",
        env: "",
        doc: "Keep the newest N snapshots in each storage, by the time in their names. With every retain rule 0 or unset, nothing is deleted.",
    },
    KeyDoc {
        section: Section::Agent,
        key: "retain_hourly",
        default: "0",
        env: "",
        doc: "Keep the newest snapshot of each of the last N UTC hours that have a snapshot.",
    },
    KeyDoc {
        section: Section::Agent,
        key: "retain_daily",
        default: "0",
        env: "",
        doc: "Keep the newest snapshot of each of the last N UTC days that have a snapshot.",
    },
    KeyDoc {
        section: Section::Agent,
        key: "retain_weekly",
        default: "0",
        env: "",
        doc: "Keep the newest snapshot of each of the last N ISO weeks that have a snapshot.",
    },
    KeyDoc {
        section: Section::Agent,
        key: "retain_monthly",
        default: "0",
        env: "",
        doc: "Keep the newest snapshot of each of the last N calendar months that have a snapshot.",
    },
    KeyDoc {
        section: Section::Agent,
        key: "retain_yearly",
        default: "0",
        env: "",
        doc: "Keep the newest snapshot of each of the last N calendar years that have a snapshot.",
    },
    KeyDoc {
        section: Section::Agent,
        key: "retain_within",
        default: "0s",
        env: "",
        doc: "Keep every snapshot taken within this Go duration (e.g. 72h) of the newest snapshot, counted from the newest snapshot, not the clock.",
    },
    KeyDoc {
        section: Section::Agent,
        key: "temp_dir",
        default: "the system temp dir",
        env: "TMPDIR",
        doc: "Where the download is staged. On the same filesystem as local_storage.path, the snapshot is linked instead of copied.",
    },
    KeyDoc {
        section: Section::Agent,
        key: "metrics_file",
        default: "",
        env: "",
        doc: "Prometheus text file for node_exporter's textfile collector, written after every cycle; read by the status command.",
    },
    KeyDoc {
        section: Section::Agent,
        key: "metrics_push_url",
        default: "",
        env: "",
        doc: "A Prometheus Pushgateway (e.g. http://pushgateway:9091): after every cycle the metrics are pushed to <url>/metrics/job/vault_raft_snapshot/instance/<hostname>, so a CronJob's result outlives its pod. Values the process does not know (no success yet in a fresh pod) are left out, and the Pushgateway keeps the ones pushed before. A failed push is a warning.",
    },
    KeyDoc {
        section: Section::Agent,
        key: "metrics_listen",
        default: "",
        env: "",
        doc: "host:port (e.g. 0.0.0.0:2112) where run serves HTTP: GET /metrics (the metrics file's metrics, the next cycle's time, cycles by outcome), /healthz (503 when a cycle runs, or the next one is overdue, by more than twice frequency plus timeout), /readyz (503 only before the loop starts and after a shutdown signal; never for Vault or a storage), /status (JSON of the last cycle). Off when empty; once ignores it. A port that cannot be bound is a config error (exit 2).",
    },
    KeyDoc {
        section: Section::Agent,
        key: "metrics_vrsa_names",
        default: "false",
        env: "",
        doc: "true: metrics_listen's /metrics also serves Argelbargel's vault-raft-snapshot-agent's gauges, so its users' alerts keep working: vrsa_last_snapshot_time (start of the last cycle that took a snapshot or found this node a standby), vrsa_last_successful_snapshot_time and vrsa_last_snapshot_success (1/0) for the last such cycle, vrsa_next_snapshot_time (0 until the first cycle ends), vrsa_last_snapshot_size (bytes of the last verified snapshot). Ours are stricter: success means verified and stored in every storage (theirs: a non-empty snapshot was taken, whatever the uploads did); a standby's cycle counts as a success, as in our own last_success_timestamp; a stopped cycle changes nothing.",
    },
    KeyDoc {
        section: Section::Agent,
        key: "other_snapshot_names",
        default: "",
        env: "",
        doc: "Other agents' snapshot names to see and prune beside ours: a list of {\"name_prefix\", \"go_time_layout\", \"name_suffix\", \"time_zone\"} (Argelbargel's agent: namePrefix + Go time layout timestampFormat + nameSuffix; defaults raft-snapshot-, 2006-01-02T15-04-05Z-0700, .snap; time_zone UTC, Local (default, as that agent writes) or +02:00, used only when the layout has no zone). Such names are listed, fetched, restored and counted and pruned by retention by the time in their name; a name is recognised only if it is exactly what Go writes for that time. We never write them. Layout tokens: 2006 06 01 1 Jan January 02 2 _2 15 03 3 04 4 05 5 PM pm Mon Monday MST -0700 -07:00 -07 -070000 -07:00:00 Z0700 Z07:00 Z07 .000 .999 (or ,); a layout with 002 or __2, without year, month or day, or 03/3 without PM is refused. {\"vault_file_prefix\": \"vault-snapshot\"} (Vault Enterprise) is accepted but such names are not recognised: their time format is not documented (a warning says so).",
    },
    KeyDoc {
        section: Section::Agent,
        key: "log_format",
        default: "text",
        env: "",
        doc: "text, or json: one JSON object per line with time, level, message, and snapshot and storage where a line has them. Lines before the config is read are text.",
    },
    KeyDoc {
        section: Section::Local,
        key: "local_storage.path",
        default: "",
        env: "",
        doc: "Directory for raft_snapshot-<unix ns>.snap files; must exist and be writable.",
    },
    KeyDoc {
        section: Section::S3,
        key: "aws_storage.s3_bucket",
        default: "",
        env: "",
        doc: "S3 bucket (required to enable S3).",
    },
    KeyDoc {
        section: Section::S3,
        key: "aws_storage.s3_key_prefix",
        default: "raft_snapshots",
        env: "",
        doc: "Key prefix; snapshots are <prefix>/raft_snapshot-<unix ns>.snap. \"/\" is the bucket root (as Argelbargel's agent's s3 storage writes); missing or \"\" keeps raft_snapshots, the Go agent's default. At the root only keys without '/' that are snapshot names (ours, or other_snapshot_names) are seen; every other object is left alone.",
    },
    KeyDoc {
        section: Section::S3,
        key: "aws_storage.s3_region",
        default: "us-east-1",
        env: "AWS_REGION, AWS_DEFAULT_REGION",
        doc: "Region.",
    },
    KeyDoc {
        section: Section::S3,
        key: "aws_storage.s3_endpoint",
        default: "AWS",
        env: "",
        doc: "Endpoint of an S3-compatible service, e.g. http://127.0.0.1:9000.",
    },
    KeyDoc {
        section: Section::S3,
        key: "aws_storage.s3_force_path_style",
        default: "false",
        env: "",
        doc: "Path-style addressing (endpoint/bucket/key), for S3-compatible services.",
    },
    KeyDoc {
        section: Section::S3,
        key: "aws_storage.access_key_id",
        default: "the AWS credential chain",
        env: "AWS_ACCESS_KEY_ID",
        doc: "Static access key (with secret_access_key); otherwise environment, profile, web identity, container or instance credentials. A secret: also file:///path or env://NAME, read at every use.",
    },
    KeyDoc {
        section: Section::S3,
        key: "aws_storage.secret_access_key",
        default: "",
        env: "AWS_SECRET_ACCESS_KEY",
        doc: "Static secret key. A secret: also file:///path or env://NAME, read at every use.",
    },
    KeyDoc {
        section: Section::S3,
        key: "aws_storage.s3_server_side_encryption",
        default: "false",
        env: "",
        doc: "SSE-S3 (AES256) on every snapshot.",
    },
    KeyDoc {
        section: Section::S3,
        key: "aws_storage.s3_kms_key_id",
        default: "",
        env: "",
        doc: "SSE-KMS with this key id or ARN.",
    },
    KeyDoc {
        section: Section::S3,
        key: "aws_storage.s3_storage_class",
        default: "STANDARD",
        env: "",
        doc: "Storage class, e.g. STANDARD_IA.",
    },
    KeyDoc {
        section: Section::S3,
        key: "aws_storage.s3_static_snapshot_name",
        default: "",
        env: "",
        doc: "Write every snapshot to this one object name (overwritten each time); no retention then.",
    },
    KeyDoc {
        section: Section::S3,
        key: "aws_storage.s3_part_size",
        default: "8MiB",
        env: "",
        doc: "Bytes per part of a multipart upload: a number, or text with a unit (B, KiB, MiB, GiB) such as \"16MiB\"; 5MiB to 5GiB. A snapshot no larger than one part goes in one PutObject; one that would need more than 10000 parts gets larger parts. Each part carries Content-MD5 and must come back with that MD5 as its ETag.",
    },
    KeyDoc {
        section: Section::S3,
        key: "aws_storage.s3_upload_concurrency",
        default: "4",
        env: "",
        doc: "Parts sent at the same time, 1 to 64, each retried on its own; the first that fails for good aborts the upload. An upload holds at most s3_upload_concurrency x s3_part_size bytes of parts in memory (32 MiB by default), logged when it starts. Over https parts are signed without hashing their bytes (UNSIGNED-PAYLOAD, unless s3_sign_payload); over http their SHA-256 is signed.",
    },
    KeyDoc {
        section: Section::S3,
        key: "aws_storage.s3_sign_payload",
        default: "false",
        env: "",
        doc: "true: sign each part's SHA-256 over https too, for an S3-compatible store that refuses UNSIGNED-PAYLOAD (it answers UploadPart with 403, e.g. SignatureDoesNotMatch or NotImplemented). Costs one SHA-256 of every byte; Content-MD5 stays. Over plain http the payload is always signed.",
    },
    KeyDoc {
        section: Section::Gcs,
        key: "google_storage.bucket",
        default: "",
        env: "",
        doc: "GCS bucket (required to enable GCS).",
    },
    KeyDoc {
        section: Section::Gcs,
        key: "google_storage.prefix",
        default: "none",
        env: "",
        doc: "Object name prefix.",
    },
    KeyDoc {
        section: Section::Gcs,
        key: "google_storage.endpoint",
        default: "https://storage.googleapis.com",
        env: "STORAGE_EMULATOR_HOST",
        doc: "JSON API endpoint; STORAGE_EMULATOR_HOST also turns credentials off, for an emulator.",
    },
    KeyDoc {
        section: Section::Gcs,
        key: "google_storage.credentials_file",
        default: "the Google credential chain",
        env: "GOOGLE_APPLICATION_CREDENTIALS",
        doc: "Service-account, authorized-user or external_account (workload identity federation: subject token from a file or URL, exchanged at token_url, optionally impersonating a service account) JSON; otherwise the GCE/GKE metadata server.",
    },
    KeyDoc {
        section: Section::Azure,
        key: "azure_storage.account_name",
        default: "",
        env: "AZURE_STORAGE_ACCOUNT",
        doc: "Storage account.",
    },
    KeyDoc {
        section: Section::Azure,
        key: "azure_storage.account_key",
        default: "",
        env: "AZURE_STORAGE_KEY",
        doc: "Shared key, used first; without it: sas_token, then workload identity (AZURE_FEDERATED_TOKEN_FILE), a service principal (AZURE_CLIENT_SECRET), then managed identity. A secret: also file:///path or env://NAME, read at every use.",
    },
    KeyDoc {
        section: Section::Azure,
        key: "azure_storage.container_name",
        default: "",
        env: "",
        doc: "Blob container (required to enable Azure).",
    },
    KeyDoc {
        section: Section::Azure,
        key: "azure_storage.prefix",
        default: "none",
        env: "",
        doc: "Blob name prefix.",
    },
    KeyDoc {
        section: Section::Azure,
        key: "azure_storage.endpoint",
        default: "https://<account>.blob.core.windows.net",
        env: "",
        doc: "Blob endpoint, for Azurite or sovereign clouds.",
    },
    KeyDoc {
        section: Section::Azure,
        key: "azure_storage.sas_token",
        default: "",
        env: "",
        doc: "A SAS token instead of the shared key. A secret: also file:///path or env://NAME, read at every use.",
    },
    KeyDoc {
        section: Section::AnyStorage,
        key: "<storage>.name",
        default: "kind-position, e.g. local-0, aws-1",
        env: "",
        doc: "What list, fetch, restore, prune and the logs call this storage (letters, digits, '.', '_', '-'; unique). Without it: local-N, aws-N, gcp-N or azure-N, N its position in the section (0 for a single object); --storage also takes the kind alone when it has one storage.",
    },
    KeyDoc {
        section: Section::AnyStorage,
        key: "<storage>.retain, <storage>.retain_hourly, <storage>.retain_daily, <storage>.retain_weekly, <storage>.retain_monthly, <storage>.retain_yearly, <storage>.retain_within",
        default: "the top-level policy",
        env: "",
        doc: "Any storage object may set its own retention; one that sets any retain key uses its own retain keys only (it replaces the top-level policy, it does not merge with it).",
    },
    KeyDoc {
        section: Section::Drill,
        key: "drill.server",
        default: "",
        env: "",
        doc: "Absolute path of the vault or bao binary the drill runs its scratch server with (127.0.0.1, a free port, Raft storage in a private directory under temp_dir, removed afterwards). Setting the drill object enables the drill command.",
    },
    KeyDoc {
        section: Section::Drill,
        key: "drill.unseal_keys",
        default: "",
        env: "",
        doc: "The source cluster's Shamir unseal keys (a list; each a secret: file:///path or env://NAME), sent to the scratch server over its API, never on a command line or in a file. Excludes drill.seal.",
    },
    KeyDoc {
        section: Section::Drill,
        key: "drill.seal",
        default: "",
        env: "",
        doc: "The source cluster's auto-unseal stanza, e.g. seal \"awskms\" { kms_key_id = \"...\" }, written into the scratch server's config file (put no secret in it: give the KMS credentials through the environment). Excludes drill.unseal_keys.",
    },
    KeyDoc {
        section: Section::Drill,
        key: "drill.token",
        default: "",
        env: "",
        doc: "A token of the source cluster to read drill.expect with (a secret: also file:// or env://). Without it the drill logs in as the agent does (its auth method lives in the restored data).",
    },
    KeyDoc {
        section: Section::Drill,
        key: "drill.expect",
        default: "",
        env: "",
        doc: "API paths that must answer 200 in the restored server, e.g. [\"secret/data/canary\"].",
    },
    KeyDoc {
        section: Section::Drill,
        key: "drill.timeout",
        default: "10m",
        env: "",
        doc: "Limit on the whole drill, as a Go duration; the scratch server is stopped and its directory removed when it is reached.",
    },
    KeyDoc {
        section: Section::Drill,
        key: "drill.frequency",
        default: "off",
        env: "",
        doc: "How often run drills the snapshot it just stored (after a successful cycle, never during one), as a Go duration, e.g. 24h; off by default.",
    },
];

#[cfg(test)]
mod tests {
    use super::KEYS;

    /// The keys accepted at the top level: the file's own and the retention keys.
    fn accepted_keys() -> Vec<String> {
        use super::super::storage::probe_one;
        let mut keys = probe_one::<super::super::load::RawConfig>();
        keys.extend(probe_one::<super::super::retention::RawRetention>());
        keys
    }

    #[test]
    fn every_storage_key_is_documented_and_every_documented_one_accepted() {
        for (section, fields) in super::super::storage::accepted_fields() {
            for field in &fields {
                let documented = KEYS.iter().any(|d| {
                    d.key == format!("{section}.{field}")
                        || ((field.starts_with("retain") || field == "name")
                            && d.key.split(", ").any(|k| k == format!("<storage>.{field}")))
                });
                assert!(documented, "{section}.{field} is not documented");
            }
            for doc in KEYS
                .iter()
                .filter(|d| d.key.starts_with(&format!("{section}.")))
            {
                let field = doc.key.split_once('.').unwrap().1;
                assert!(
                    fields.iter().any(|f| f == field),
                    "{} is documented but not accepted",
                    doc.key
                );
            }
        }
    }

    #[test]
    fn every_accepted_key_is_documented_and_every_documented_key_accepted() {
        let accepted = accepted_keys();
        assert!(accepted.len() > 20, "{accepted:?}");
        for key in &accepted {
            let documented = KEYS
                .iter()
                .any(|d| d.key == key || d.key.starts_with(&format!("{key}.")));
            assert!(documented, "{key} is not documented");
        }
        for doc in KEYS.iter().filter(|d| !d.key.starts_with('<')) {
            let top = doc.key.split('.').next().unwrap();
            assert!(
                accepted.iter().any(|k| k == top),
                "{} is documented but not accepted",
                doc.key
            );
        }
    }
}
