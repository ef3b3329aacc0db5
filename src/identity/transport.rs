//! azure_core's `HttpClient` over the handler's reqwest client: one HTTP and TLS stack (reqwest 0.12,
//! rustls with ring, the extra CA certificates) for hooks and token requests alike.
//!
//! Failures come back as errors azure_core's retry policy does not retry: a non-success answer as
//! `ErrorKind::HttpResponse` (with its body, for the classification), no answer as a
//! [`Unanswered`]. So no credential retries on its own (the metadata service's policy would retry
//! for 72 s, past any hook deadline): each token request is one attempt of the hook's delivery,
//! retried with its backoff within its deadline.
//!
//! It also gives `AZURE_POD_IDENTITY_AUTHORITY_HOST` the meaning azure-identity (Python) gives it:
//! `azure_identity` sends instance-metadata requests to a hard-coded `http://169.254.169.254`, and
//! this transport sends them to that host instead (`{host}/metadata/identity/oauth2/token?...`).

use azure_core::error::{Error, ErrorKind};
use azure_core::http::headers::{HeaderName, HeaderValue, Headers};
use azure_core::http::{AsyncRawResponse, Body, HttpClient, RawResponse, Request, StatusCode, Url};
use std::collections::HashMap;

/// The instance metadata service's address, as `azure_identity` writes it.
const IMDS_HOST: &str = "169.254.169.254";
/// Largest token-endpoint answer read: real ones are a few KiB.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// Sends `azure_identity`'s requests with reqwest.
#[derive(Debug, Clone)]
pub(super) struct ReqwestTransport {
    client: reqwest::Client,
    /// `AZURE_POD_IDENTITY_AUTHORITY_HOST`, without its trailing `/`.
    imds_authority: Option<Url>,
}

impl ReqwestTransport {
    /// A transport over `client`; instance-metadata requests go to `imds_authority` when given.
    pub(super) fn new(client: reqwest::Client, imds_authority: Option<Url>) -> Self {
        Self {
            client,
            imds_authority,
        }
    }

    /// `url`, moved to the pod identity host when it is the instance metadata service's.
    fn destination(&self, url: &Url) -> Url {
        match &self.imds_authority {
            Some(base) if url.host_str() == Some(IMDS_HOST) => {
                let mut target = base.clone();
                let path = format!("{}{}", base.path().trim_end_matches('/'), url.path());
                target.set_path(&path);
                target.set_query(url.query());
                target
            }
            _ => url.clone(),
        }
    }
}

#[async_trait::async_trait]
impl HttpClient for ReqwestTransport {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let method = reqwest::Method::from_bytes(request.method().as_ref().as_bytes())
            .map_err(|_| Error::with_message(ErrorKind::Other, "an unknown HTTP method"))?;
        let mut outgoing = self.client.request(method, self.destination(request.url()));
        for (name, value) in request.headers().iter() {
            let mut value =
                reqwest::header::HeaderValue::from_str(value.as_str()).map_err(|_| {
                    Error::with_message(ErrorKind::Other, "a header value HTTP does not allow")
                })?;
            // The identity header and the like stay out of reqwest's and hyper's debug output.
            value.set_sensitive(true);
            outgoing = outgoing.header(name.as_str(), value);
        }
        outgoing = match request.body() {
            Body::Bytes(bytes) => outgoing.body(bytes.to_vec()),
            #[allow(unreachable_patterns)]
            _ => {
                return Err(Error::with_message(
                    ErrorKind::Other,
                    "streamed request bodies are not sent to token endpoints",
                ))
            }
        };
        let response = outgoing.send().await.map_err(transport_error)?;
        let status = response.status();
        let headers = headers(response.headers());
        let body = read_bounded(response).await?;
        if !status.is_success() {
            let code = StatusCode::from(status.as_u16());
            return Err(Error::new(
                ErrorKind::HttpResponse {
                    status: code,
                    error_code: None,
                    raw_response: Some(Box::new(RawResponse::from_bytes(code, headers, body))),
                },
                format!("the token endpoint answered {status}"),
            ));
        }
        Ok(AsyncRawResponse::from_bytes(
            status.as_u16().into(),
            headers,
            body,
        ))
    }
}

/// The answer's headers in azure_core's form (values that are not text are left out).
fn headers(map: &reqwest::header::HeaderMap) -> Headers {
    let pairs: HashMap<HeaderName, HeaderValue> = map
        .iter()
        .filter_map(|(name, value)| {
            let value = value.to_str().ok()?;
            Some((
                HeaderName::from(name.as_str().to_owned()),
                HeaderValue::from(value.to_owned()),
            ))
        })
        .collect();
    Headers::from(pairs)
}

/// The body, refusing answers over [`MAX_ANSWER_BYTES`].
async fn read_bounded(mut response: reqwest::Response) -> azure_core::Result<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(Error::new(
                ErrorKind::Other,
                Unanswered("the token endpoint's answer is larger than 256 KiB".into()),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// No answer from the token endpoint: a failure a retry may cure, reported so that azure_core's retry
/// policy passes it through (it retries only its `Io` and `Connection` kinds).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct Unanswered(String);

/// reqwest's error as an [`Unanswered`]. The text leaves out the URL.
fn transport_error(error: reqwest::Error) -> Error {
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "could not connect".to_owned()
    } else {
        "the request failed".to_owned()
    };
    let mut source = std::error::Error::source(&error);
    while let Some(inner) = source {
        text = format!("{text}: {inner}");
        source = inner.source();
    }
    Error::new(ErrorKind::Other, Unanswered(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imds_requests_go_to_the_pod_identity_host() {
        let transport = ReqwestTransport::new(
            reqwest::Client::new(),
            Some(Url::parse("http://127.0.0.1:5000/prefix/").unwrap()),
        );
        let imds = Url::parse(
            "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2019-08-01&resource=x",
        )
        .unwrap();
        assert_eq!(
            transport.destination(&imds).as_str(),
            "http://127.0.0.1:5000/prefix/metadata/identity/oauth2/token?api-version=2019-08-01&resource=x"
        );
        let other = Url::parse("https://login.microsoftonline.com/t/oauth2/v2.0/token").unwrap();
        assert_eq!(transport.destination(&other), other);
    }
}
