//! The AWS Lambda door (feature `lambda`): the same warp routes behind `lambda_http`, so a Lambda
//! function URL is an Event Grid webhook endpoint with validation, OPTIONS, batches and auth.
//!
//! Function URLs deliver the API Gateway v2 payload (`apigw_http`). The runtime's own tracing span
//! carries the Lambda request id on every log line.

use super::{routes, Doors};
use std::sync::Arc;

/// Serves `app` through the Lambda runtime until Lambda stops the process.
pub async fn run(app: Arc<Doors>) -> Result<(), lambda_http::Error> {
    lambda_http::run(warp::service(routes(app))).await
}
