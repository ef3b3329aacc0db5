//! `handler check --auth`: a token for every (credential, audience) of the hooks file, fetched now,
//! so that an identity can be tested from a console (Kudu, `kubectl exec`) before an event needs it.
//! It prints who the token is for, its audience and expiry; never the token.

use super::CliError;
use crate::app::load_hooks;
use crate::identity::{AccessToken, HookAuth};
use crate::settings::Settings;
use std::time::Duration;

/// How long one token request may take.
const LIMIT: Duration = Duration::from_secs(15);

/// The report, and whether every token was obtained.
pub fn check_auth(settings: &Settings) -> Result<(String, bool), CliError> {
    let config = load_hooks(settings)?;
    let checks = config.token_checks()?;
    if checks.is_empty() {
        return Ok((format!("{}: no hook has `auth`", config.file), true));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let mut lines = Vec::new();
    let mut obtained = 0;
    for (hooks, auth) in &checks {
        let result = runtime.block_on(auth.token(LIMIT));
        obtained += usize::from(result.is_ok());
        lines.push(describe(hooks, auth, result.as_ref()));
    }
    lines.push(format!(
        "{}: {obtained} of {} token(s) obtained",
        config.file,
        checks.len()
    ));
    let report = config.secrets.redact(&lines.join("\n"));
    Ok((report, obtained == checks.len()))
}

/// One (credential, audience): `OK`, what it is, who the token is for and when it expires; or
/// `FAILED` and why.
fn describe(
    hooks: &[String],
    auth: &HookAuth,
    result: Result<&AccessToken, &crate::identity::TokenError>,
) -> String {
    let credential = auth.credential().describe();
    let audience = auth.audience();
    let hooks = hooks.join(", ");
    match result {
        Ok(token) => {
            let mut identity = Vec::new();
            let claims = token.claims().unwrap_or_default();
            if let Some(id) = claims
                .client_id
                .as_deref()
                .or(auth.credential().client_id())
            {
                identity.push(format!("client id {id}"));
            }
            if let Some(id) = &claims.object_id {
                identity.push(format!("object id {id}"));
            }
            if let Some(id) = &claims.tenant_id {
                identity.push(format!("tenant {id}"));
            }
            let identity = if identity.is_empty() {
                String::new()
            } else {
                format!("; identity: {}", identity.join(", "))
            };
            format!(
                "OK      {credential}; audience {audience}{identity}; expires {} (hooks: {hooks})",
                token.expiry_text()
            )
        }
        Err(e) => format!("FAILED  {e} (hooks: {hooks})"),
    }
}
