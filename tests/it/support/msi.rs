//! The smallest App Service managed-identity endpoint that the Azure ML action tests need, on
//! 127.0.0.1 (reference §1a, https://learn.microsoft.com/azure/app-service/overview-managed-identity#rest-endpoint-reference):
//! `GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=…` with `X-IDENTITY-HEADER` answers
//! `{"access_token", "expires_on" (epoch seconds as a string), "resource", "token_type": "Bearer"}`.
//!
//! Kept apart from the token provider's own tests (their token service covers the protocols in
//! full): this one only issues one token per audience and counts the requests.
#![allow(dead_code)]

use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use warp::Filter;

/// The running endpoint; stops when dropped.
pub struct Msi {
    /// `IDENTITY_ENDPOINT`.
    pub endpoint: String,
    /// `IDENTITY_HEADER`.
    pub header: String,
    requests: Arc<Mutex<Vec<HashMap<String, String>>>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Msi {
    /// The token it issues for `resource`.
    pub fn token_for(resource: &str) -> String {
        let audience: String = resource
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        format!("eyJ0eXAi.test-token-for-{audience}.sig")
    }

    /// Starts it; requests must carry `X-IDENTITY-HEADER: {header}`.
    pub async fn start() -> Msi {
        let header = "identity-header-SECRET-4711".to_owned();
        let requests: Arc<Mutex<Vec<HashMap<String, String>>>> = Arc::default();
        let (seen, expected) = (requests.clone(), header.clone());
        let route = warp::path!("msi" / "token")
            .and(warp::get())
            .and(warp::query::<HashMap<String, String>>())
            .and(warp::header::optional::<String>("x-identity-header"))
            .map(
                move |query: HashMap<String, String>, given: Option<String>| {
                    seen.lock().unwrap().push(query.clone());
                    let resource = query.get("resource").cloned().unwrap_or_default();
                    if given.as_deref() != Some(expected.as_str())
                        || query.get("api-version").map(String::as_str) != Some("2019-08-01")
                    {
                        return warp::reply::with_status(
                            warp::reply::json(
                                &json!({"statusCode": 400, "message": "bad request"}),
                            ),
                            warp::http::StatusCode::BAD_REQUEST,
                        );
                    }
                    let expires_on = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_secs()
                        + 3600;
                    warp::reply::with_status(
                        warp::reply::json(&json!({
                            "access_token": Msi::token_for(&resource),
                            "expires_on": expires_on.to_string(),
                            "resource": resource,
                            "token_type": "Bearer",
                            "client_id": "5E29463D-71DA-4FE0-8E69-999B57DB23B0",
                        })),
                        warp::http::StatusCode::OK,
                    )
                },
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(
            warp::serve(route)
                .incoming(listener)
                .graceful(async move {
                    let _ = stopped.await;
                })
                .run(),
        );
        Msi {
            endpoint: format!("http://{addr}/msi/token"),
            header,
            requests,
            _stop: stop,
        }
    }

    /// The query of every token request so far.
    pub fn requests(&self) -> Vec<HashMap<String, String>> {
        self.requests.lock().unwrap().clone()
    }
}
