//! The userpass, LDAP, JWT and TLS certificate logins against a real OpenBao
//! (`tests/support/openbao.rs`): each logs in, takes a snapshot into a local directory, and
//! keeps its secret out of every log line, even at trace level. LDAP runs OpenBao 2.6.2 (the
//! last with LDAP auth in the server) beside Debian's `slapd`, started here on a free port.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::KeyPair;
use serde_json::{Value, json};

use crate::env::{Outcome, TestEnv, assert_code, finish};
use crate::openbao::{Cluster, Options, bao_26_binary, wait_for};

/// An agent of `addr` storing into its own local directory, with the `auth` keys.
fn agent(addr: &str, auth: &Value) -> TestEnv {
    crate::openbao_cluster::agent_of(addr, auth.clone())
}

/// `once` with every log level on (ours at trace, other crates' capped at debug).
fn once_at_trace(env: &TestEnv) -> Outcome {
    let mut command = env.command(&["once"]);
    command.env("RUST_LOG", "trace");
    finish(command.spawn().unwrap(), Duration::from_secs(60))
}

/// One verified snapshot was stored, after a login with `what`.
#[track_caller]
fn assert_stored_after_login(env: &TestEnv, outcome: &Outcome, what: &str) {
    assert_code(outcome, 0);
    assert_contains!(outcome.stderr, &format!("Logged in to Vault with {what}"));
    assert_eq!(env.files().len(), 1, "{}", outcome.stderr);
    let snapshot = env.snaps.join(&env.files()[0]);
    assert_code(
        &TestEnv::new().run(&["verify", snapshot.to_str().unwrap()]),
        0,
    );
}

#[test]
fn userpass_logs_in_stores_a_snapshot_and_a_wrong_password_names_the_path_only() {
    let Some(cluster) = Cluster::start(1) else {
        return;
    };
    let addr = cluster.nodes[0].addr();
    const PASSWORD: &str = "Us3rpass-S3cret-4711";
    for mount in ["userpass", "people"] {
        cluster.root(
            "POST",
            &format!("sys/auth/{mount}"),
            Some(json!({"type": "userpass"})),
        );
    }
    cluster.root(
        "POST",
        "auth/userpass/users/snap",
        Some(json!({"password": PASSWORD, "token_policies": ["snapshot"], "token_ttl": "1h"})),
    );
    // Another mount, and a name with more than letters.
    cluster.root(
        "POST",
        "auth/people/users/ops-agent.1",
        Some(json!({"password": PASSWORD, "token_policies": ["snapshot"], "token_ttl": "1h"})),
    );

    let env = agent(
        &addr,
        &json!({
            "vault_auth_method": "userpass",
            "userpass_username": "snap",
            "userpass_password": PASSWORD,
        }),
    );
    let outcome = once_at_trace(&env);
    assert_stored_after_login(&env, &outcome, "userpass");
    assert_not_contains!(outcome.stderr, PASSWORD);
    assert_not_contains!(outcome.stdout, PASSWORD);

    // The password from a file, at another mount.
    let password_file = env.root.path().join("password");
    fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    let people = agent(
        &addr,
        &json!({
            "vault_auth_method": "userpass",
            "userpass_username": "ops-agent.1",
            "userpass_password": format!("file://{}", password_file.display()),
            "userpass_auth_path": "people",
        }),
    );
    let outcome = once_at_trace(&people);
    assert_stored_after_login(&people, &outcome, "userpass");
    assert_not_contains!(outcome.stderr, PASSWORD);

    // A wrong password: exit 1, the login URL named, no password shown (neither).
    const WRONG: &str = "Wr0ng-Pa55word-0815";
    let wrong = agent(
        &addr,
        &json!({
            "vault_auth_method": "userpass",
            "userpass_username": "snap",
            "userpass_password": WRONG,
        }),
    );
    let outcome = once_at_trace(&wrong);
    assert_code(&outcome, 1);
    assert_contains!(
        outcome.stderr,
        &format!("userpass login at {addr}/v1/auth/userpass/login/snap failed")
    );
    assert_not_contains!(outcome.stderr, WRONG);
    assert_not_contains!(outcome.stderr, PASSWORD);
    assert_not_contains!(outcome.stdout, WRONG);
    assert!(wrong.files().is_empty());
    assert!(wrong.staging_is_empty());

    // `check` shows where the password comes from, never the password.
    let checked = wrong.run(&["check"]);
    assert_code(&checked, 0);
    assert_contains!(
        checked.stdout,
        "userpass at auth/userpass, user snap, password <redacted>"
    );
    assert_not_contains!(checked.stdout, WRONG);
}

/// An ES256 JWT for `sub`, valid from now for `valid_for`.
fn jwt(key: &KeyPair, sub: &str, valid_for: Duration) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({
        "iss": "vrs-test",
        "aud": "vault-raft-snapshot",
        "sub": sub,
        "iat": now,
        "nbf": now,
        "exp": now + valid_for.as_secs(),
    });
    let encoding = jsonwebtoken::EncodingKey::from_ec_pem(key.serialize_pem().as_bytes()).unwrap();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
        &claims,
        &encoding,
    )
    .unwrap()
}

/// Replaces `path` as the kubelet does: a new file renamed over the old.
fn rotate(path: &Path, content: &str) {
    let new = path.with_extension("new");
    fs::write(&new, content).unwrap();
    fs::rename(&new, path).unwrap();
}

#[test]
fn jwt_logs_in_again_with_the_rotated_token_file() {
    let Some(cluster) = Cluster::start(1) else {
        return;
    };
    let key = KeyPair::generate().unwrap();
    cluster.root("POST", "sys/auth/jwt", Some(json!({"type": "jwt"})));
    cluster.root(
        "POST",
        "auth/jwt/config",
        Some(json!({"jwt_validation_pubkeys": [key.public_key_pem()], "bound_issuer": "vrs-test"})),
    );
    // Tokens live 6 s, renewable to 9 s: the agent renews after 4 s and logs in again near
    // 9 s. No leeway, so an expired JWT is refused at once.
    cluster.root(
        "POST",
        "auth/jwt/role/snap",
        Some(json!({
            "role_type": "jwt",
            "bound_audiences": ["vault-raft-snapshot"],
            "bound_subject": "system:serviceaccount:vault:snapshot",
            "user_claim": "sub",
            "token_policies": ["snapshot"],
            "token_ttl": "6s",
            "token_max_ttl": "9s",
            "expiration_leeway": -1,
            "not_before_leeway": -1,
            "clock_skew_leeway": -1,
        })),
    );
    let sub = "system:serviceaccount:vault:snapshot";
    let jwt_dir = tempfile::tempdir().unwrap();
    let token_file = jwt_dir.path().join("jwt");
    // The first JWT expires after 4 s; only the rotated one is good after that.
    fs::write(&token_file, jwt(&key, sub, Duration::from_secs(4))).unwrap();
    let env = agent(
        &cluster.nodes[0].addr(),
        &json!({
            "vault_auth_method": "jwt",
            "jwt_auth_role": "snap",
            "jwt_token_path": token_file,
        }),
    );
    let mut command = env.command(&["run"]);
    command.env("RUST_LOG", "trace");
    let child = command.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let rotated = jwt(&key, sub, Duration::from_secs(3600));
    rotate(&token_file, &rotated);
    std::thread::sleep(Duration::from_millis(10_500));
    let outcome = stop(child);
    assert_code(&outcome, 0);
    let stored = env.files().len();
    let cycles = outcome.stderr.matches("Verified snapshot").count();
    let logins = outcome
        .stderr
        .matches("Logged in to Vault with JWT")
        .count();
    assert!(stored >= 8, "only {stored} snapshots:\n{}", outcome.stderr);
    assert_eq!(stored, cycles, "{}", outcome.stderr);
    // A second login, after the first JWT expired: the file was read again.
    assert!(logins >= 2, "{logins} logins:\n{}", outcome.stderr);
    // Renewed while the lease allowed, as an AppRole token is.
    assert_contains!(outcome.stderr, "renewed the Vault token");
    assert_not_contains!(outcome.stderr, "ERROR");
    assert_not_contains!(outcome.stderr, &rotated);
    let signature = rotated.rsplit('.').next().unwrap();
    assert_not_contains!(outcome.stderr, signature);

    // An expired JWT: exit 1, the login URL named.
    fs::write(&token_file, jwt(&key, sub, Duration::ZERO)).unwrap();
    std::thread::sleep(Duration::from_secs(1));
    for file in env.files() {
        fs::remove_file(env.snaps.join(file)).unwrap();
    }
    let outcome = env.run(&["once"]);
    assert_code(&outcome, 1);
    assert_contains!(outcome.stderr, "JWT login at ");
    assert_contains!(outcome.stderr, "/v1/auth/jwt/login failed");
    assert!(env.files().is_empty());
}

/// SIGTERM to the agent we started, by its own PID, then its outcome.
fn stop(child: Child) -> Outcome {
    // SAFETY: kill(2) on the PID of a child we started and have not reaped.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    finish(child, Duration::from_secs(30))
}

/// A private CA, a server certificate for 127.0.0.1 and a client certificate, written into
/// `dir`: (ca, server cert, server key, client cert, client key).
fn certificates(dir: &Path) -> [PathBuf; 5] {
    let pki = crate::tls::pki();
    let files = [
        ("ca.pem", pki.ca_pem),
        ("server.pem", pki.server_pem),
        ("server-key.pem", pki.server_key_pem),
        ("client.pem", pki.client_pem),
        ("client-key.pem", pki.client_key_pem),
    ];
    files.map(|(name, pem)| {
        let path = dir.join(name);
        fs::write(&path, pem).unwrap();
        path
    })
}

#[test]
fn cert_logs_in_with_the_client_certificate_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let [ca, server_cert, server_key, client_cert, client_key] = certificates(dir.path());
    let Some(cluster) = Cluster::start_with(
        1,
        Options {
            tls: Some((server_cert, server_key)),
            ..Options::default()
        },
    ) else {
        return;
    };
    let addr = cluster.nodes[0].addr();
    assert!(addr.starts_with("https://"), "{addr}");
    cluster.root("POST", "sys/auth/cert", Some(json!({"type": "cert"})));
    // Certificates the CA signed may log in as "agent".
    cluster.root(
        "POST",
        "auth/cert/certs/agent",
        Some(json!({
            "certificate": fs::read_to_string(&ca).unwrap(),
            "token_policies": ["snapshot"],
            "token_ttl": "1h",
        })),
    );
    let tls = json!({
        "vault_auth_method": "cert",
        "cert_auth_role": "agent",
        "ca_cert": ca,
        "client_cert": client_cert,
        "client_key": client_key,
    });
    let env = agent(&addr, &tls);
    let outcome = once_at_trace(&env);
    assert_stored_after_login(&env, &outcome, "TLS certificate");
    let key_pem = fs::read_to_string(&client_key).unwrap();
    let key_body = key_pem.lines().nth(1).unwrap();
    assert_not_contains!(outcome.stderr, key_body);

    // Without a role, every matching one is tried.
    let mut any = tls.clone();
    any.as_object_mut().unwrap().remove("cert_auth_role");
    let env = agent(&addr, &any);
    assert_stored_after_login(&env, &env.run(&["once"]), "TLS certificate");

    // A role the certificate does not match: exit 1, the login URL named.
    cluster.root(
        "POST",
        "auth/cert/certs/other",
        Some(json!({
            "certificate": fs::read_to_string(dir.path().join("server.pem")).unwrap(),
            "token_policies": ["snapshot"],
        })),
    );
    let mut other = tls.clone();
    other["cert_auth_role"] = json!("other");
    let env = agent(&addr, &other);
    let outcome = env.run(&["once"]);
    assert_code(&outcome, 1);
    assert_contains!(
        outcome.stderr,
        &format!("TLS certificate login at {addr}/v1/auth/cert/login failed")
    );
    assert!(env.files().is_empty());
}

/// A `slapd` of Debian's on a free port with its own config and database directory, stopped
/// by its own PID when dropped. `None` when slapd is not installed and
/// `VRS_TEST_SKIP_OPENBAO=1`.
struct Slapd {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

const LDAP_SUFFIX: &str = "dc=example,dc=org";

impl Slapd {
    /// A directory with `ou=people` and the user `uid=<user>` with `password`.
    fn start(user: &str, password: &str) -> Option<Self> {
        if !Path::new("/usr/sbin/slapd").exists() {
            if std::env::var("VRS_TEST_SKIP_OPENBAO").as_deref() == Ok("1") {
                eprintln!("skipped: no slapd (VRS_TEST_SKIP_OPENBAO=1)");
                return None;
            }
            panic!("slapd is not installed: run `contrib/test-servers.sh start`");
        }
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        fs::create_dir(&db).unwrap();
        let conf = dir.path().join("slapd.conf");
        fs::write(
            &conf,
            format!(
                "include /etc/ldap/schema/core.schema\n\
                 include /etc/ldap/schema/cosine.schema\n\
                 include /etc/ldap/schema/inetorgperson.schema\n\
                 modulepath /usr/lib/ldap\n\
                 moduleload back_mdb\n\
                 pidfile {pid}\n\
                 database mdb\n\
                 maxsize 10485760\n\
                 suffix \"{LDAP_SUFFIX}\"\n\
                 rootdn \"cn=admin,{LDAP_SUFFIX}\"\n\
                 directory {db}\n",
                pid = dir.path().join("slapd.pid").display(),
                db = db.display(),
            ),
        )
        .unwrap();
        let ldif = dir.path().join("data.ldif");
        fs::write(
            &ldif,
            format!(
                "dn: {LDAP_SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n\
                 dn: ou=people,{LDAP_SUFFIX}\nobjectClass: organizationalUnit\nou: people\n\n\
                 dn: uid={user},ou=people,{LDAP_SUFFIX}\nobjectClass: inetOrgPerson\nuid: {user}\ncn: {user}\nsn: {user}\nuserPassword: {password}\n"
            ),
        )
        .unwrap();
        for (tool, args) in [
            ("/usr/sbin/slaptest", vec!["-u", "-f"]),
            (
                "/usr/sbin/slapadd",
                vec!["-l", ldif.to_str().unwrap(), "-f"],
            ),
        ] {
            let out = Command::new(tool).args(&args).arg(&conf).output().unwrap();
            assert!(
                out.status.success(),
                "{tool}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // -d 0: in the foreground, so the PID is the child's own.
        let child = Command::new("/usr/sbin/slapd")
            .arg("-f")
            .arg(&conf)
            .arg("-h")
            .arg(format!("ldap://127.0.0.1:{port}/"))
            .args(["-d", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(dir.path().join("slapd.log")).unwrap())
            .spawn()
            .unwrap();
        let slapd = Self {
            child,
            port,
            _dir: dir,
        };
        wait_for("slapd to listen", Duration::from_secs(30), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        Some(slapd)
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the PID of the slapd we started and have not reaped.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

#[test]
fn ldap_logs_in_against_slapd_on_openbao_2_6() {
    const PASSWORD: &str = "Ld4p-S3cret-2718";
    let Some(bao) = bao_26_binary() else {
        if std::env::var("VRS_TEST_SKIP_OPENBAO").as_deref() == Ok("1") {
            eprintln!("skipped: no OpenBao 2.6.2 (VRS_TEST_SKIP_OPENBAO=1)");
            return;
        }
        panic!(
            "OpenBao 2.6.2 is not installed in .test-servers/venv-bao26: run \
             `contrib/test-servers.sh start` (or set VRS_BAO26)"
        );
    };
    let Some(slapd) = Slapd::start("snap", PASSWORD) else {
        return;
    };
    let Some(cluster) = Cluster::start_with(
        1,
        Options {
            bao: Some(bao),
            ..Options::default()
        },
    ) else {
        return;
    };
    let addr = cluster.nodes[0].addr();
    cluster.root("POST", "sys/auth/ldap", Some(json!({"type": "ldap"})));
    cluster.root(
        "POST",
        "auth/ldap/config",
        Some(json!({
            "url": format!("ldap://127.0.0.1:{}", slapd.port),
            "userdn": format!("ou=people,{LDAP_SUFFIX}"),
            "userattr": "uid",
            "discoverdn": false,
            "deny_null_bind": true,
            "token_policies": ["snapshot"],
            "token_ttl": "1h",
        })),
    );
    let password_var = "VRS_TEST_LDAP_PASSWORD";
    let env = agent(
        &addr,
        &json!({
            "vault_auth_method": "ldap",
            "ldap_username": "snap",
            "ldap_password": format!("env://{password_var}"),
        }),
    );
    let mut command = env.command(&["once"]);
    command.env("RUST_LOG", "trace").env(password_var, PASSWORD);
    let outcome = finish(command.spawn().unwrap(), Duration::from_secs(60));
    assert_stored_after_login(&env, &outcome, "LDAP");
    assert_not_contains!(outcome.stderr, PASSWORD);

    // slapd refuses a wrong password: exit 1, the login URL named, the password not shown.
    const WRONG: &str = "Wr0ng-Ld4p-1414";
    let mut command = env.command(&["once"]);
    command.env("RUST_LOG", "trace").env(password_var, WRONG);
    let outcome = finish(command.spawn().unwrap(), Duration::from_secs(60));
    assert_code(&outcome, 1);
    assert_contains!(
        outcome.stderr,
        &format!("LDAP login at {addr}/v1/auth/ldap/login/snap failed")
    );
    assert_not_contains!(outcome.stderr, WRONG);
    assert_eq!(env.files().len(), 1);
}
