use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::providers::{detect, error_summary, form_encode, parse_profile, xml_text};
use super::*;

fn env(pairs: &[(&str, &str)]) -> Env {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Arc::new(move |name| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    })
}

fn source(statics: bool, pairs: &[(&str, &str)]) -> Result<Source, String> {
    detect(statics, &*env(pairs)).map_err(|e| format!("{e:#}"))
}

#[test]
fn the_chain_takes_the_first_configured_source_in_the_sdk_order() {
    let keys = [
        ("AWS_ACCESS_KEY_ID", "AKID"),
        ("AWS_SECRET_ACCESS_KEY", "s"),
    ];
    let irsa = [
        ("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token"),
        ("AWS_ROLE_ARN", "arn:aws:iam::1:role/r"),
    ];
    let pod = [
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "http://169.254.170.23/v1/credentials",
        ),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/var/run/eks"),
    ];
    let all: Vec<(&str, &str)> = keys.iter().chain(&irsa).chain(&pod).copied().collect();
    assert_eq!(source(true, &all), Ok(Source::Config));
    assert_eq!(source(false, &all), Ok(Source::Environment));
    let no_keys: Vec<(&str, &str)> = irsa.iter().chain(&pod).copied().collect();
    assert_eq!(
        source(false, &no_keys),
        Ok(Source::WebIdentity {
            role_arn: "arn:aws:iam::1:role/r".into(),
            token_file: "/var/run/token".into(),
            sts: "https://sts.amazonaws.com".into(),
        })
    );
    assert_eq!(
        source(false, &pod),
        Ok(Source::Container {
            url: "http://169.254.170.23/v1/credentials".into()
        })
    );
    assert_eq!(
        source(
            false,
            &[("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/creds/x")]
        ),
        Ok(Source::Container {
            url: "http://169.254.170.2/v2/creds/x".into()
        })
    );
    assert_eq!(
        source(false, &[]),
        Ok(Source::InstanceMetadata {
            endpoint: "http://169.254.169.254".into()
        })
    );
    assert_eq!(
        source(
            false,
            &[("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9/")]
        ),
        Ok(Source::InstanceMetadata {
            endpoint: "http://127.0.0.1:9".into()
        })
    );
}

#[test]
fn half_configured_or_disabled_sources_are_errors_that_name_the_variables() {
    for (pairs, expected) in [
        (
            &[("AWS_ACCESS_KEY_ID", "AKID")][..],
            "AWS_SECRET_ACCESS_KEY is not",
        ),
        (
            &[("AWS_ROLE_ARN", "arn")][..],
            "AWS_WEB_IDENTITY_TOKEN_FILE is not",
        ),
        (
            &[("AWS_WEB_IDENTITY_TOKEN_FILE", "/t")][..],
            "AWS_ROLE_ARN is not",
        ),
        (
            &[("AWS_EC2_METADATA_DISABLED", "true")][..],
            "no AWS credentials",
        ),
        (
            &[(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "http://10.0.0.1/creds",
            )][..],
            "only this host",
        ),
        (
            &[("AWS_PROFILE", "prod"), ("HOME", "/nonexistent")][..],
            "AWS_PROFILE names the profile [prod]",
        ),
        (
            &[
                ("AWS_WEB_IDENTITY_TOKEN_FILE", "/t"),
                ("AWS_ROLE_ARN", "arn"),
                ("AWS_REGION", "eu-west-1/../x"),
            ][..],
            "is not a region's name",
        ),
    ] {
        let error = source(false, pairs).expect_err(expected);
        assert!(error.contains(expected), "{pairs:?}: {error}");
    }
    // https may go anywhere; plain http only to this host and the agents' link-local ones.
    for url in [
        "https://creds.example.com/x",
        "http://127.0.0.1:8080/x",
        "http://[::1]:80/x",
        "http://localhost/x",
    ] {
        assert!(
            source(false, &[("AWS_CONTAINER_CREDENTIALS_FULL_URI", url)]).is_ok(),
            "{url}"
        );
    }
}

#[test]
fn sts_is_regional_unless_told_otherwise() {
    let sts = |pairs: &[(&str, &str)]| sts_endpoint(&*env(pairs)).unwrap();
    assert_eq!(sts(&[]), "https://sts.amazonaws.com");
    assert_eq!(
        sts(&[("AWS_REGION", "eu-central-1")]),
        "https://sts.eu-central-1.amazonaws.com"
    );
    assert_eq!(
        sts(&[("AWS_DEFAULT_REGION", "cn-north-1")]),
        "https://sts.cn-north-1.amazonaws.com.cn"
    );
    assert_eq!(
        sts(&[
            ("AWS_REGION", "eu-central-1"),
            ("AWS_STS_REGIONAL_ENDPOINTS", "legacy")
        ]),
        "https://sts.amazonaws.com"
    );
    // Legacy only ever meant the global host in the regions that had it.
    assert_eq!(
        sts(&[
            ("AWS_REGION", "ap-east-1"),
            ("AWS_STS_REGIONAL_ENDPOINTS", "legacy")
        ]),
        "https://sts.ap-east-1.amazonaws.com"
    );
    assert_eq!(
        sts(&[
            ("AWS_REGION", "eu-central-1"),
            ("AWS_STS_REGIONAL_ENDPOINTS", "regional")
        ]),
        "https://sts.eu-central-1.amazonaws.com"
    );
    assert_eq!(
        sts(&[
            ("AWS_REGION", "eu-central-1"),
            ("AWS_ENDPOINT_URL", "http://a:1/"),
            (
                "AWS_ENDPOINT_URL_STS",
                "https://vpce-1.sts.eu-central-1.vpce.amazonaws.com/"
            )
        ]),
        "https://vpce-1.sts.eu-central-1.vpce.amazonaws.com"
    );
    assert_eq!(sts(&[("AWS_ENDPOINT_URL", "http://a:1/")]), "http://a:1");
    assert!(sts_endpoint(&*env(&[("AWS_ENDPOINT_URL_STS", "sts.local")])).is_err());
}

#[test]
fn profiles_parse_as_the_cli_writes_them() {
    let text = "# comment\n[default]\naws_access_key_id = AKIDDEF\naws_secret_access_key=sdef\n\n\
                [prod]\naws_access_key_id=AKIDPROD\n aws_secret_access_key = sprod \n\
                aws_session_token = tok\n[half]\naws_access_key_id=AKIDHALF\n";
    let def = parse_profile(text, "default").unwrap();
    assert_eq!(def.access_key_id, "AKIDDEF");
    assert_eq!(def.secret_access_key.expose(), "sdef");
    assert_eq!(def.session_token, None);
    let prod = parse_profile(text, "prod").unwrap();
    assert_eq!(prod.secret_access_key.expose(), "sprod");
    assert_eq!(prod.session_token.as_ref().map(Secret::expose), Some("tok"));
    assert!(parse_profile(text, "half").is_none());
    assert!(parse_profile(text, "missing").is_none());
}

#[test]
fn answers_and_times_are_read_and_errors_are_shortened() {
    assert_eq!(
        parse_utc("2026-12-04T22:38:51.206737Z"),
        Some(UNIX_EPOCH + Duration::from_secs(1_796_423_931))
    );
    assert_eq!(
        parse_utc("2026-12-04T22:38:51Z"),
        Some(UNIX_EPOCH + Duration::from_secs(1_796_423_931))
    );
    assert_eq!(parse_utc("2026-12-04 22:38:51"), None);
    assert_eq!(parse_utc("2026-12-04T22:38:51+02:00"), None);
    let xml = "<R><Credentials><AccessKeyId>ASIA1</AccessKeyId><SessionToken>a&amp;b</SessionToken></Credentials></R>";
    assert_eq!(xml_text(xml, "AccessKeyId").as_deref(), Some("ASIA1"));
    assert_eq!(xml_text(xml, "SessionToken").as_deref(), Some("a&b"));
    assert_eq!(xml_text(xml, "Expiration"), None);
    assert_eq!(
        error_summary(
            "<ErrorResponse><Error><Code>InvalidIdentityToken</Code><Message>bad\nline</Message></Error></ErrorResponse>"
        ),
        "InvalidIdentityToken: bad\\nline"
    );
    assert_eq!(error_summary(r#"{"message": "denied"}"#), "denied");
    assert_eq!(
        form_encode(&[("RoleArn", "arn:aws:iam::1:role/r"), ("T", "a+b c")]),
        "RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr&T=a%2Bb%20c"
    );
}

#[test]
fn temporary_credentials_are_refreshed_five_minutes_before_expiry() {
    let now = SystemTime::now();
    let with = |expires| Credentials {
        access_key_id: "ASIA".into(),
        secret_access_key: Secret::new("s"),
        session_token: None,
        expires,
    };
    assert!(!with(None).needs_refresh(now));
    assert!(!with(Some(now + Duration::from_secs(301))).needs_refresh(now));
    assert!(with(Some(now + Duration::from_secs(299))).needs_refresh(now));
    assert!(with(Some(now + Duration::from_secs(299))).valid_at(now));
    assert!(!with(Some(now)).valid_at(now));
    // No key in Debug.
    let shown = format!(
        "{:?}",
        Credentials {
            session_token: Some(Secret::new("t0k3nvalue")),
            ..with(None)
        }
    );
    assert!(
        !shown.contains("t0k3nvalue") && !shown.contains("ASIA"),
        "{shown}"
    );
}

#[test]
fn sources_are_displayed_without_secrets() {
    let shown = Source::WebIdentity {
        role_arn: "arn:aws:iam::1:role/r".into(),
        token_file: "/var/run/token".into(),
        sts: "https://sts.eu-west-1.amazonaws.com".into(),
    }
    .to_string();
    assert_eq!(
        shown,
        "web identity (IRSA): role arn:aws:iam::1:role/r, token file /var/run/token, STS https://sts.eu-west-1.amazonaws.com"
    );
    let chain = CredentialChain::new(
        None,
        env(&[
            ("AWS_ACCESS_KEY_ID", "AKIDENV"),
            ("AWS_SECRET_ACCESS_KEY", "envsecret"),
            ("AWS_SESSION_TOKEN", "envtoken"),
        ]),
    );
    let c = chain.credentials().unwrap();
    assert_eq!(c.access_key_id, "AKIDENV");
    assert_eq!(c.session_token.unwrap().expose(), "envtoken");
}

#[test]
fn sigv4_matches_the_aws_test_suite() {
    // get-vanilla of the AWS SigV4 test suite.
    let credentials = Credentials {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        session_token: None,
        expires: None,
    };
    let time = UNIX_EPOCH + Duration::from_secs(1_440_938_160); // 2015-08-30T12:36:00Z
    let headers = sign::sign_headers(
        &sign::Request {
            method: "GET",
            url: "https://example.amazonaws.com/",
            headers: &[],
            body: b"",
        },
        "service",
        "us-east-1",
        &credentials,
        time,
    )
    .unwrap();
    let authorization = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.expose().to_string())
        .unwrap();
    assert_eq!(
        authorization,
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
         SignedHeaders=host;x-amz-date, \
         Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    );
}

#[test]
fn the_vault_login_carries_a_signed_caller_identity_request() {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    let credentials = Credentials {
        access_key_id: "ASIAEXAMPLE".into(),
        secret_access_key: Secret::new("secretkey"),
        session_token: Some(Secret::new("sessiontoken")),
        expires: None,
    };
    let url = sign::login_sts_url("us-east-1", &|_| None).unwrap();
    assert_eq!(url, "https://sts.amazonaws.com/");
    assert_eq!(
        sign::login_sts_url("eu-west-1", &|_| None).unwrap(),
        "https://sts.eu-west-1.amazonaws.com/"
    );
    let body = sign::vault_login_data(
        "snap",
        &url,
        "us-east-1",
        Some("vault.example.com"),
        &credentials,
        SystemTime::now(),
    )
    .unwrap();
    let decode =
        |k: &str| String::from_utf8(STANDARD.decode(body[k].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(body["role"], "snap");
    assert_eq!(body["iam_http_request_method"], "POST");
    assert_eq!(decode("iam_request_url"), url);
    assert_eq!(decode("iam_request_body"), sign::CALLER_IDENTITY_BODY);
    let headers: serde_json::Value = serde_json::from_str(&decode("iam_request_headers")).unwrap();
    assert_eq!(headers["X-Vault-AWS-IAM-Server-ID"][0], "vault.example.com");
    assert_eq!(headers["x-amz-security-token"][0], "sessiontoken");
    let authorization = headers["authorization"][0].as_str().unwrap();
    assert!(
        authorization.contains("/us-east-1/sts/aws4_request")
            && authorization.contains("x-vault-aws-iam-server-id"),
        "{authorization}"
    );
    assert!(!body.to_string().contains("secretkey"));
}
