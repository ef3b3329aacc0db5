//! Microsoft Entra ID bearer tokens on the webhook door, against a JWKS served on 127.0.0.1 with RSA
//! keys generated for the test run.

use crate::support::receiver;

use crate::support::{fixture_events, spawn_app};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use receiver::Receiver;
use ring::rand::SystemRandom;
use ring::signature::{KeyPair, RsaKeyPair, RSA_PKCS1_SHA256};
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const AUDIENCE: &str = "api://aml-events";

/// A fresh 2048-bit RSA key from openssl (PKCS#1 DER, which ring reads), as a ring key pair.
fn generate_key() -> RsaKeyPair {
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("key.pem");
    let der = dir.path().join("key.der");
    let run = |args: &[&std::ffi::OsStr]| {
        let status = std::process::Command::new("openssl")
            .args(args)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl is installed");
        assert!(status.success(), "openssl {args:?}");
    };
    run(&[
        "genpkey".as_ref(),
        "-algorithm".as_ref(),
        "RSA".as_ref(),
        "-pkeyopt".as_ref(),
        "rsa_keygen_bits:2048".as_ref(),
        "-out".as_ref(),
        pem.as_os_str(),
    ]);
    run(&[
        "rsa".as_ref(),
        "-in".as_ref(),
        pem.as_os_str(),
        "-traditional".as_ref(),
        "-outform".as_ref(),
        "DER".as_ref(),
        "-out".as_ref(),
        der.as_os_str(),
    ]);
    RsaKeyPair::from_der(&std::fs::read(&der).unwrap()).unwrap()
}

fn jwk(key: &RsaKeyPair, kid: &str) -> Value {
    let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(key.public_key());
    json!({"kty": "RSA", "use": "sig", "kid": kid, "n": URL_SAFE_NO_PAD.encode(&public.n), "e": URL_SAFE_NO_PAD.encode(&public.e)})
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn sign(key: &RsaKeyPair, header: &Value, claims: &Value) -> String {
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        signed.as_bytes(),
        &mut signature,
    )
    .unwrap();
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn good_claims() -> Value {
    json!({
        "aud": AUDIENCE,
        "iss": format!("https://login.microsoftonline.com/{TENANT}/v2.0"),
        "iat": now() - 60,
        "nbf": now() - 60,
        "exp": now() + 3600,
        "roles": ["AzureEventGridSecureWebhookSubscriber"],
        "appid": "4962773b-9cdb-44cf-a8bf-237846a00ab7"
    })
}

#[tokio::test]
async fn only_valid_event_grid_tokens_are_accepted() {
    let key = generate_key();
    let stranger = generate_key();
    let jwks = Receiver::start().await;
    jwks.serve_json("/keys", &json!({"keys": [jwk(&key, "kid-1")]}));
    let jwks_url = jwks.url("/keys");
    let handler = spawn_app(
        &[
            ("AML_EVENTS_ENTRA_AUDIENCE", AUDIENCE),
            ("AML_EVENTS_ENTRA_TENANT", TENANT),
            ("AML_EVENTS_ENTRA_JWKS_URL", &jwks_url),
        ],
        None,
    )
    .await;
    let rs256 = json!({"alg": "RS256", "typ": "JWT", "kid": "kid-1"});
    let with = |key: &str, value: Value| {
        let mut claims = good_claims();
        claims[key] = value;
        claims
    };
    let token = |claims: Value| Some(sign(&key, &rs256, &claims));
    let v1_issuer = format!("https://sts.windows.net/{TENANT}/");
    let other_issuer = "https://login.microsoftonline.com/other-tenant/v2.0";
    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "kid": "kid-1"}).to_string()),
        URL_SAFE_NO_PAD.encode(good_claims().to_string())
    );

    let cases: Vec<(&str, Option<String>, u16)> = vec![
        ("valid token", token(good_claims()), 200),
        ("v1 issuer", token(with("iss", json!(v1_issuer))), 200),
        ("no token", None, 401),
        ("expired", token(with("exp", json!(now() - 3600))), 401),
        (
            "not yet valid",
            token(with("nbf", json!(now() + 3600))),
            401,
        ),
        (
            "wrong audience",
            token(with("aud", json!("api://someone-else"))),
            401,
        ),
        ("wrong issuer", token(with("iss", json!(other_issuer))), 401),
        ("missing role", token(with("roles", json!(["Reader"]))), 401),
        (
            "unknown key id",
            Some(sign(
                &stranger,
                &json!({"alg": "RS256", "kid": "kid-2"}),
                &good_claims(),
            )),
            401,
        ),
        (
            "right kid, wrong key",
            Some(sign(&stranger, &rs256, &good_claims())),
            401,
        ),
        ("alg none", Some(alg_none), 401),
        ("garbage", Some("not.a.jwt".to_owned()), 401),
        ("no expiry", token(with("exp", Value::Null)), 401),
        ("no audience", token(with("aud", Value::Null)), 401),
        ("no issuer", token(with("iss", Value::Null)), 401),
        (
            "issuer array",
            token(with("iss", json!([v1_issuer, other_issuer]))),
            401,
        ),
        ("exp not a number", token(with("exp", json!("never"))), 401),
        // An `exp` near 2^64 must not wrap around when the leeway is added.
        ("exp near 2^64", token(with("exp", json!(u64::MAX))), 200),
    ];
    let event = fixture_events("eventgrid-model-registered.json");
    for (case, token, want) in cases {
        let mut request = reqwest::Client::new()
            .post(format!("{}/api/eventgrid", handler.base))
            .header("aeg-event-type", "Notification")
            .header("content-type", "application/json")
            .body(Value::Array(event.clone()).to_string());
        if let Some(token) = &token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, want, "{case}: {body}");
    }
    // The scheme is case-insensitive (RFC 9110, section 11.1), and spaces after it are tolerated.
    for scheme in ["BEARER ", "bearer ", "Bearer   "] {
        let response = reqwest::Client::new()
            .post(format!("{}/api/eventgrid", handler.base))
            .header("aeg-event-type", "Notification")
            .header("content-type", "application/json")
            .header(
                "authorization",
                format!("{scheme}{}", sign(&key, &rs256, &good_claims())),
            )
            .body(Value::Array(event.clone()).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{scheme:?}");
    }
    // The JWKS was fetched once, then cached (the unknown kid does not refetch within five minutes).
    assert_eq!(jwks.requests("/keys").len(), 1);
}

#[tokio::test]
async fn oversized_or_crowded_key_sets_are_not_trusted() {
    let key = generate_key();
    let jwks = Receiver::start().await;
    // More than 100 keys: refused as a whole, though the signing key is among them.
    let crowded: Vec<Value> = (1..=101).map(|i| jwk(&key, &format!("kid-{i}"))).collect();
    jwks.serve_json("/crowded", &json!({ "keys": crowded }));
    // Over 1 MiB: refused before it is parsed.
    jwks.serve_json(
        "/oversized",
        &json!({"keys": [jwk(&key, "kid-1")], "padding": "x".repeat(1024 * 1024)}),
    );
    let token = sign(
        &key,
        &json!({"alg": "RS256", "kid": "kid-1"}),
        &good_claims(),
    );
    for path in ["/crowded", "/oversized"] {
        let handler = spawn_app(
            &[
                ("AML_EVENTS_ENTRA_AUDIENCE", AUDIENCE),
                ("AML_EVENTS_ENTRA_TENANT", TENANT),
                ("AML_EVENTS_ENTRA_JWKS_URL", &jwks.url(path)),
            ],
            None,
        )
        .await;
        let response = reqwest::Client::new()
            .post(format!("{}/api/eventgrid", handler.base))
            .header("aeg-event-type", "Notification")
            .header("authorization", format!("Bearer {token}"))
            .body(Value::Array(fixture_events("eventgrid-model-registered.json")).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 503, "{path}");
    }
}

#[tokio::test]
async fn unreachable_signing_keys_answer_503_so_event_grid_retries() {
    let key = generate_key();
    let down = format!("http://127.0.0.1:{}/keys", crate::support::free_port());
    let handler = spawn_app(
        &[
            ("AML_EVENTS_ENTRA_AUDIENCE", AUDIENCE),
            ("AML_EVENTS_ENTRA_TENANT", TENANT),
            ("AML_EVENTS_ENTRA_JWKS_URL", &down),
        ],
        None,
    )
    .await;
    let token = sign(
        &key,
        &json!({"alg": "RS256", "kid": "kid-1"}),
        &good_claims(),
    );
    for _ in 0..2 {
        let response = reqwest::Client::new()
            .post(format!("{}/api/eventgrid", handler.base))
            .header("aeg-event-type", "Notification")
            .header("authorization", format!("Bearer {token}"))
            .body(Value::Array(fixture_events("eventgrid-model-registered.json")).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 503);
    }
}
