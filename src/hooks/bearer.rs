//! A hook's `auth` on the wire: each attempt of a delivery asks the hook's credential for a token
//! (from its cache, or one request) and sends `Authorization: Bearer …`. So a token request is part
//! of the attempt: bounded by the attempt's time limit, retried with the hook's backoff within the
//! deadline when the token endpoint is down, and not retried when it refuses.

use super::delivery::{Outgoing, Transport, TransportError, TransportFuture};
use crate::identity::{may_carry_token, HookAuth};
use reqwest::header::AUTHORIZATION;
use std::time::Duration;

/// `inner` with a token from `auth` on every request.
#[derive(Debug)]
pub(crate) struct WithToken<'a> {
    /// The transport that sends.
    pub(crate) inner: &'a dyn Transport,
    /// The hook's credential and audience.
    pub(crate) auth: &'a HookAuth,
}

impl Transport for WithToken<'_> {
    fn send<'a>(&'a self, request: &'a Outgoing, limit: Duration) -> TransportFuture<'a> {
        Box::pin(async move {
            // Validation refused such URLs already; a URL from anywhere else is checked here.
            if !may_carry_token(&request.url) {
                return Err(TransportError::Token {
                    message: "a token is sent only over https or to a loopback address".into(),
                    permanent: true,
                });
            }
            let started = tokio::time::Instant::now();
            let token = self
                .auth
                .token(limit)
                .await
                .map_err(|e| TransportError::Token {
                    permanent: e.is_permanent(),
                    message: e.to_string(),
                })?;
            let Some(bearer) = token.bearer() else {
                return Err(TransportError::Token {
                    message: format!(
                        "{} gave a token that is not a valid header value",
                        self.auth.credential().describe()
                    ),
                    permanent: false,
                });
            };
            let mut request = request.clone();
            request.headers.insert(AUTHORIZATION, bearer);
            let left = limit.saturating_sub(started.elapsed());
            self.inner.send(&request, left).await
        })
    }
}
