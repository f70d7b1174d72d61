//! TLS: Vault's certificate is verified by default (the original agent skipped it), a private
//! CA is trusted through `ca_cert`/`ca_path`/`VAULT_CACERT`, `tls_skip_verify` is an explicit,
//! logged escape hatch, and client certificates work for mutual TLS.

use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;

use crate::env::{TestEnv, assert_code, valid_archive};
use crate::vault_stand_in::{TlsServerConfig, VaultStandIn};

/// A private CA with a server certificate for 127.0.0.1 and a client certificate.
pub struct Pki {
    pub ca_pem: String,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: Vec<u8>,
    pub client_pem: String,
    pub client_key_pem: String,
    ca_der: CertificateDer<'static>,
    /// The server certificate and its key, in PEM, for servers started as programs.
    pub server_pem: String,
    pub server_key_pem: String,
}

pub fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().unwrap();
    let mut server_params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    server_params
        .subject_alt_names
        .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();

    let client_key = KeyPair::generate().unwrap();
    let client_params = CertificateParams::new(vec!["snapshot-agent".to_string()]).unwrap();
    let client_cert = client_params.signed_by(&client_key, &issuer).unwrap();

    Pki {
        ca_pem: ca_cert.pem(),
        ca_der: ca_cert.der().clone(),
        server_chain: vec![server_cert.der().clone()],
        server_key: server_key.serialize_der(),
        client_pem: client_cert.pem(),
        client_key_pem: client_key.serialize_pem(),
        server_pem: server_cert.pem(),
        server_key_pem: server_key.serialize_pem(),
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub fn server_config(pki: &Pki, require_client_cert: bool) -> TlsServerConfig {
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = if require_client_cert {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(pki.ca_der.clone()).unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider(),
        )
        .build()
        .unwrap();
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.server_key.clone()));
    Arc::new(
        builder
            .with_single_cert(pki.server_chain.clone(), key)
            .unwrap(),
    )
}

fn write(env: &TestEnv, name: &str, text: &str) -> PathBuf {
    let path = env.root.path().join(name);
    fs::write(&path, text).unwrap();
    path
}

#[test]
fn an_untrusted_certificate_is_refused_by_default() {
    let pki = pki();
    let vault = VaultStandIn::start_tls(valid_archive(1000), server_config(&pki, false));
    let env = TestEnv::new();
    env.write_config(&vault, json!({}));
    let outcome = env.run(&["once"]);
    assert_code(&outcome, 1);
    assert_contains!(
        outcome.stderr,
        format!("cannot reach Vault at GET {}/v1/sys/leader", vault.url())
    );
    assert_contains!(outcome.stderr.to_lowercase(), "certificate");
    assert!(env.files().is_empty());
}

#[test]
fn a_private_ca_is_trusted_through_ca_cert_ca_path_or_vault_cacert() {
    let pki = pki();
    let vault = VaultStandIn::start_tls(valid_archive(1000), server_config(&pki, false));
    let env = TestEnv::new();
    let ca = write(&env, "ca.pem", &pki.ca_pem);

    env.write_config(&vault, json!({"ca_cert": ca}));
    assert_code(&env.run(&["once"]), 0);

    let ca_dir = env.root.path().join("cas");
    fs::create_dir(&ca_dir).unwrap();
    fs::write(ca_dir.join("internal.pem"), &pki.ca_pem).unwrap();
    env.write_config(&vault, json!({"ca_path": ca_dir}));
    assert_code(&env.run(&["once"]), 0);

    env.write_config(&vault, json!({}));
    let outcome = env
        .command(&["once"])
        .env("VAULT_CACERT", &ca)
        .output()
        .unwrap();
    assert_eq!(
        outcome.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&outcome.stderr)
    );
    assert_eq!(env.files().len(), 3);
}

#[test]
fn tls_skip_verify_connects_and_warns() {
    let pki = pki();
    let vault = VaultStandIn::start_tls(valid_archive(1000), server_config(&pki, false));
    let env = TestEnv::new();
    env.write_config(&vault, json!({"tls_skip_verify": true}));
    let outcome = env.run(&["once"]);
    assert_code(&outcome, 0);
    assert_contains!(outcome.stderr, "TLS certificate verification is OFF");
}

#[test]
fn mutual_tls_presents_the_client_certificate() {
    let pki = pki();
    let vault = VaultStandIn::start_tls(valid_archive(1000), server_config(&pki, true));
    let env = TestEnv::new();
    let ca = write(&env, "ca.pem", &pki.ca_pem);
    env.write_config(&vault, json!({"ca_cert": ca}));
    assert_code(&env.run(&["once"]), 1);

    let cert = write(&env, "client.pem", &pki.client_pem);
    let key = write(&env, "client-key.pem", &pki.client_key_pem);
    env.write_config(
        &vault,
        json!({"ca_cert": ca, "client_cert": cert, "client_key": key}),
    );
    assert_code(&env.run(&["once"]), 0);
    assert_eq!(env.files().len(), 1);
}

#[test]
fn a_file_that_is_not_a_certificate_is_a_config_error() {
    let vault = VaultStandIn::start(Vec::new());
    let env = TestEnv::new();
    let junk = write(&env, "ca.pem", "not a certificate");
    env.write_config(&vault, json!({"ca_cert": junk}));
    let outcome = env.run(&["once"]);
    assert_code(&outcome, 2);
    assert_contains!(outcome.stderr, "key \"ca_cert\"");
    assert_contains!(outcome.stderr, "no PEM certificate");
}
