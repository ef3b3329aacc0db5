//! A token service on 127.0.0.1 that speaks the documented protocols, for the handler's `auth`:
//!
//! - the App Service / Functions / Container Apps endpoint, at `{http}/msi/token`:
//!   `GET ?api-version=2019-08-01&resource=...` with `X-IDENTITY-HEADER`, answering `expires_on` as a
//!   string of epoch seconds and no `expires_in`
//!   (<https://learn.microsoft.com/azure/app-service/overview-managed-identity#rest-endpoint-reference>;
//!   `MicrosoftDocs/azure-docs@02512778:articles/app-service/overview-managed-identity.md`);
//! - the instance metadata service, at `{http}/metadata/identity/oauth2/token`: `Metadata: true`
//!   required (else 400), `expires_in` and `expires_on` as strings
//!   (`MicrosoftDocs/entra-docs@03ffb81c:docs/identity/managed-identities-azure-resources/how-to-use-vm-token.md`),
//!   reached through `AZURE_POD_IDENTITY_AUTHORITY_HOST`;
//! - Entra ID's v2 token endpoint, at `{https}/{tenant}/oauth2/v2.0/token`: a form POST
//!   (`client_credentials` with `client_secret` or `client_assertion`), answering `expires_in` as a
//!   number (`MicrosoftDocs/entra-docs@03033ebd:docs/identity-platform/v2-oauth2-client-creds-grant-flow.md`).
//!   Over TLS, with a test CA the handler trusts through `AML_EVENTS_EXTRA_CA_CERTS`, because
//!   `azure_identity` refuses an authority that is not https.
//!
//! Every request is recorded; answers are scripted ([`Answer`]), one per request, then a token valid
//! for an hour. Tokens are unique, so a test can look for each in every output.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use warp::http::{HeaderMap, StatusCode};
use warp::Filter;

/// The path of the App Service endpoint (`IDENTITY_ENDPOINT` is `{http}/msi/token`, as on Functions).
pub const APP_SERVICE_PATH: &str = "/msi/token";
/// The instance metadata service's token path.
pub const IMDS_PATH: &str = "/metadata/identity/oauth2/token";

/// How the service answers one token request.
#[derive(Debug, Clone)]
pub enum Answer {
    /// A token valid for this many seconds, in the protocol's own shape.
    Token {
        /// Seconds until it expires.
        lifetime: u64,
    },
    /// An error: `status` with `body` (for example `{"error": "invalid_client", ...}`).
    Error {
        /// The status.
        status: u16,
        /// The JSON body.
        body: Value,
    },
    /// `answer`, after `delay` (a slow endpoint, or one past the hook's timeout).
    Delayed {
        /// How long to wait first.
        delay: Duration,
        /// What to answer then.
        answer: Box<Answer>,
    },
}

impl Answer {
    /// A token valid for `lifetime` seconds.
    pub fn token(lifetime: u64) -> Self {
        Self::Token { lifetime }
    }

    /// Entra ID's answer to a wrong client secret (AADSTS7000215).
    pub fn invalid_client() -> Self {
        Self::Error {
            status: 401,
            body: json!({
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.\r\nTrace ID: 00000000-0000-0000-0000-000000000000",
                "error_codes": [7000215],
            }),
        }
    }

    /// The managed-identity endpoints' answer when no identity is assigned (or the client id is
    /// unknown): 400.
    pub fn no_identity() -> Self {
        Self::Error {
            status: 400,
            body: json!({
                "error": "invalid_request",
                "error_description": "Identity not found",
            }),
        }
    }

    /// `status` with an error body (for example 500 or 503: the endpoint is unwell).
    pub fn status(status: u16) -> Self {
        Self::Error {
            status,
            body: json!({"error": "temporarily_unavailable", "error_description": "try again"}),
        }
    }

    /// `answer` after `delay`.
    pub fn delayed(delay: Duration, answer: Answer) -> Self {
        Self::Delayed {
            delay,
            answer: Box::new(answer),
        }
    }
}

/// One request the service received.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query parameters.
    pub query: BTreeMap<String, String>,
    /// The headers.
    pub headers: HeaderMap,
    /// The form fields of a POST.
    pub form: BTreeMap<String, String>,
    /// Whether it came over TLS.
    pub tls: bool,
}

impl TokenRequest {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Default)]
struct State {
    answers: VecDeque<Answer>,
    requests: Vec<TokenRequest>,
    issued: Vec<String>,
}

/// The running service; stops when dropped.
pub struct TokenService {
    /// `http://127.0.0.1:PORT`: the App Service endpoint and the metadata service.
    pub http_base: String,
    /// `https://localhost:PORT`: Entra ID's token endpoint, with a certificate from [`Self::ca_file`].
    pub https_base: String,
    /// The test CA's certificate (PEM), for `AML_EVENTS_EXTRA_CA_CERTS`.
    pub ca_file: PathBuf,
    /// The `IDENTITY_HEADER` the App Service endpoint expects.
    pub identity_header: String,
    state: Arc<Mutex<State>>,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::watch::Sender<bool>,
}

impl TokenService {
    /// Starts the service: plain HTTP and TLS listeners on free ports of 127.0.0.1.
    pub async fn start() -> TokenService {
        let state: Arc<Mutex<State>> = Arc::default();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tls = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http_base = format!("http://{}", plain.local_addr().unwrap());
        let https_base = format!("https://localhost:{}", tls.local_addr().unwrap().port());
        let identity_header = format!("idh-{:016x}", fastrand::u64(..));
        let (ca_pem, acceptor) = test_tls();
        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("test-ca.pem");
        std::fs::write(&ca_file, ca_pem).unwrap();
        let service = warp::service(routes(state.clone(), identity_header.clone(), false));
        tokio::spawn(serve(plain, None, service, stopped.clone()));
        let service = warp::service(routes(state.clone(), identity_header.clone(), true));
        tokio::spawn(serve(tls, Some(acceptor), service, stopped));
        TokenService {
            http_base,
            https_base,
            ca_file,
            identity_header,
            state,
            _dir: dir,
            _stop: stop,
        }
    }

    /// Queues answers for the next requests (afterwards: a token valid for an hour).
    pub fn answer(&self, answers: Vec<Answer>) {
        self.state.lock().unwrap().answers.extend(answers);
    }

    /// What a Function App with a managed identity has: `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`.
    pub fn function_app_env(&self) -> Vec<(String, String)> {
        vec![
            (
                "IDENTITY_ENDPOINT".into(),
                format!("{}{APP_SERVICE_PATH}", self.http_base),
            ),
            ("IDENTITY_HEADER".into(), self.identity_header.clone()),
        ]
    }

    /// What points the instance metadata service here: `AZURE_POD_IDENTITY_AUTHORITY_HOST`.
    pub fn imds_env(&self) -> Vec<(String, String)> {
        vec![(
            "AZURE_POD_IDENTITY_AUTHORITY_HOST".into(),
            self.http_base.clone(),
        )]
    }

    /// What points Entra ID here: `AZURE_AUTHORITY_HOST` and the test CA
    /// (`AML_EVENTS_EXTRA_CA_CERTS`).
    pub fn entra_env(&self) -> Vec<(String, String)> {
        vec![
            ("AZURE_AUTHORITY_HOST".into(), self.https_base.clone()),
            (
                "AML_EVENTS_EXTRA_CA_CERTS".into(),
                self.ca_file.to_string_lossy().into_owned(),
            ),
        ]
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<TokenRequest> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Every access token handed out so far.
    pub fn issued(&self) -> Vec<String> {
        self.state.lock().unwrap().issued.clone()
    }

    /// What no output may contain: every token issued and the identity header.
    pub fn secrets(&self) -> Vec<String> {
        let mut secrets = self.issued();
        secrets.push(self.identity_header.clone());
        secrets
    }

    /// Panics if `output` (named `what`) contains a token or the identity header.
    pub fn assert_no_secret_in(&self, what: &str, output: &str) {
        for secret in self.secrets() {
            assert!(
                !output.contains(&secret),
                "{what} contains the secret {secret}:\n{output}"
            );
        }
    }
}

/// Serves `service` on `listener` (through `acceptor` when given) until `stopped` turns true.
async fn serve<S>(
    listener: tokio::net::TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    service: S,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) where
    S: tower_service::Service<
            warp::http::Request<hyper::body::Incoming>,
            Response = warp::reply::Response,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
            _ = stopped.changed() => return,
        };
        let service = service.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let serve_one = hyper::service::service_fn(move |request| {
                let mut service = service.clone();
                async move { tower_service::Service::call(&mut service, request).await }
            });
            let http = hyper::server::conn::http1::Builder::new();
            match acceptor {
                Some(acceptor) => {
                    if let Ok(tls) = acceptor.accept(stream).await {
                        let io = hyper_util::rt::TokioIo::new(tls);
                        let _ = http.serve_connection(io, serve_one).await;
                    }
                }
                None => {
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = http.serve_connection(io, serve_one).await;
                }
            }
        });
    }
}

/// A test CA and a `localhost` / `127.0.0.1` certificate it signed: the CA's PEM and the acceptor.
fn test_tls() -> (String, tokio_rustls::TlsAcceptor) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "aml-events test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            tokio_rustls::rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    (
        ca_cert.pem(),
        tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    )
}

/// Every request: recorded, then answered from the script in the shape of the path's protocol.
fn routes(
    state: Arc<Mutex<State>>,
    identity_header: String,
    tls: bool,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Infallible> + Clone {
    warp::any()
        .and(warp::method())
        .and(warp::path::full())
        .and(
            warp::query::raw()
                .map(Some)
                .or(warp::any().map(|| None))
                .unify(),
        )
        .and(warp::header::headers_cloned())
        .and(warp::body::bytes())
        .then(
            move |method: warp::http::Method,
                  path: warp::path::FullPath,
                  query: Option<String>,
                  headers: HeaderMap,
                  body: bytes::Bytes| {
                let state = state.clone();
                let identity_header = identity_header.clone();
                async move {
                    let pairs = |text: &str| -> BTreeMap<String, String> {
                        url::form_urlencoded::parse(text.as_bytes())
                            .into_owned()
                            .collect()
                    };
                    let request = TokenRequest {
                        method: method.to_string(),
                        path: path.as_str().to_owned(),
                        query: pairs(query.as_deref().unwrap_or_default()),
                        headers,
                        form: pairs(&String::from_utf8_lossy(&body)),
                        tls,
                    };
                    answer(&state, &identity_header, request).await
                }
            },
        )
        .recover(|_| async { Ok::<_, Infallible>(reply(500, &json!({}))) })
        .unify()
}

/// The answer to `request`, recorded first.
async fn answer(
    state: &Mutex<State>,
    identity_header: &str,
    request: TokenRequest,
) -> warp::reply::Response {
    let protocol = Protocol::of(&request);
    let refusal = match protocol {
        // The platform checks the header; the documentation names no status for a wrong one.
        Protocol::AppService if request.header("x-identity-header") != Some(identity_header) => {
            Some(json!({"statusCode": 401, "message": "wrong or missing X-IDENTITY-HEADER"}))
        }
        // "missing → 400 bad_request_102" (how-to-use-vm-token.md).
        Protocol::Imds if request.header("metadata") != Some("true") => Some(
            json!({"error": "invalid_request", "error_description": "Required metadata header not specified"}),
        ),
        _ => None,
    };
    let mut next = {
        let mut state = state.lock().unwrap();
        state.requests.push(request.clone());
        state.answers.pop_front().unwrap_or(Answer::token(3600))
    };
    if let Some(body) = refusal {
        return reply(400, &body);
    }
    loop {
        match next {
            Answer::Delayed { delay, answer } => {
                tokio::time::sleep(delay).await;
                next = *answer;
            }
            Answer::Error { status, body } => return reply(status, &body),
            Answer::Token { lifetime } => {
                let token = jwt(&protocol, &request);
                state.lock().unwrap().issued.push(token.clone());
                return reply(200, &protocol.token_body(&request, &token, lifetime));
            }
        }
    }
}

/// The client id a system-assigned identity's tokens carry here.
pub const SYSTEM_ASSIGNED_CLIENT_ID: &str = "5e29463d-71da-4fe0-8e69-999b57db23b0";
/// The tenant every token here is issued in.
pub const TOKEN_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// A token shaped as Entra ID's (a JWT whose claims name the identity: `appid`, `oid`, `tid`), unique
/// by its `uti`, with no valid signature: the handler reads its claims only to show them.
fn jwt(protocol: &Protocol, request: &TokenRequest) -> String {
    use base64::Engine as _;
    let client_id = match protocol {
        Protocol::Entra => request.form.get("client_id").cloned(),
        _ => request.query.get("client_id").cloned(),
    }
    .unwrap_or_else(|| SYSTEM_ASSIGNED_CLIENT_ID.to_owned());
    let audience = request
        .query
        .get("resource")
        .or(request.form.get("scope"))
        .cloned()
        .unwrap_or_default();
    let claims = json!({
        "aud": audience.trim_end_matches("/.default"),
        "appid": client_id,
        "oid": "9f2c4b1e-7d3a-4c5e-8b6f-0a1d2e3f4a5b",
        "tid": TOKEN_TENANT,
        "uti": format!("{:016x}", fastrand::u64(..)),
    });
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.c2lnbmF0dXJl",
        b64(&json!({"typ": "JWT", "alg": "RS256"})),
        b64(&claims)
    )
}

/// Which protocol a path speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    AppService,
    Imds,
    Entra,
}

impl Protocol {
    fn of(request: &TokenRequest) -> Self {
        match request.path.as_str() {
            APP_SERVICE_PATH => Self::AppService,
            IMDS_PATH => Self::Imds,
            _ => Self::Entra,
        }
    }

    /// A success body in the protocol's own shape.
    fn token_body(self, request: &TokenRequest, token: &str, lifetime: u64) -> Value {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let expires_on = (now + lifetime).to_string();
        let resource = request.query.get("resource").cloned().unwrap_or_default();
        match self {
            Self::AppService => json!({
                "access_token": token,
                "expires_on": expires_on,
                "resource": resource,
                "token_type": "Bearer",
                "client_id": request.query.get("client_id").cloned().unwrap_or_else(|| "5E29463D-71DA-4FE0-8E69-999B57DB23B0".into()),
            }),
            Self::Imds => json!({
                "access_token": token,
                "refresh_token": "",
                "expires_in": lifetime.to_string(),
                "expires_on": expires_on,
                "not_before": now.to_string(),
                "resource": resource,
                "token_type": "Bearer",
            }),
            Self::Entra => json!({
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": token,
            }),
        }
    }
}

fn reply(status: u16, body: &Value) -> warp::reply::Response {
    warp::http::Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header("content-type", "application/json; charset=utf-8")
        .body(body.to_string().into())
        .unwrap()
}
