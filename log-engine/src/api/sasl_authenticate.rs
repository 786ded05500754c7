//! SaslAuthenticate (key 36, v0–2): the PLAIN token (RFC 4616: authorization id, user name,
//! password, separated by NUL) checked against the listener's logins. A failed login is
//! answered SASL_AUTHENTICATION_FAILED and the connection closed, as Kafka does.

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::{SaslAuthenticateRequest, SaslAuthenticateResponse};

use super::{Auth, Ctx, str_bytes};
use crate::broker::Broker;

/// The message a failed login gets (Kafka's wording; which part was wrong is not said).
const FAILED: &str = "Authentication failed: Invalid username or password";

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The user a PLAIN token logs in, or why it does not.
fn check(broker: &Broker, token: &[u8]) -> Result<String, &'static str> {
    let mut parts = token.split(|b| *b == 0);
    let (Some(authz), Some(user), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("malformed PLAIN token");
    };
    let user = std::str::from_utf8(user).map_err(|_| "user name is not UTF-8")?;
    if !authz.is_empty() && authz != user.as_bytes() {
        return Err("authorization id differs from the user");
    }
    let users = broker.config().sasl_plain_users.as_ref();
    match users.and_then(|u| u.get(user)) {
        Some(expected) if same(expected.as_bytes(), password) => Ok(user.to_string()),
        _ => Err("unknown user or wrong password"),
    }
}

pub(crate) fn handle(
    broker: &Broker,
    ctx: &Ctx,
    req: SaslAuthenticateRequest,
    auth: &mut Auth,
) -> Result<Bytes, String> {
    if !matches!(auth, Auth::AwaitingToken) {
        let response = SaslAuthenticateResponse::default()
            .with_error_code(ResponseError::IllegalSaslState.code())
            .with_error_message(Some(str_bytes(
                "SaslAuthenticate must follow a successful SaslHandshake",
            )));
        *auth = Auth::Failed;
        return ctx.respond(&response);
    }
    match check(broker, &req.auth_bytes) {
        Ok(user) => {
            tracing::debug!(client = %ctx.client_host, %user, "SASL/PLAIN login");
            *auth = Auth::Done(user);
            ctx.respond(&SaslAuthenticateResponse::default())
        }
        Err(why) => {
            tracing::warn!(client = %ctx.client_host, reason = why, "SASL/PLAIN login refused");
            *auth = Auth::Failed;
            ctx.respond(
                &SaslAuthenticateResponse::default()
                    .with_error_code(ResponseError::SaslAuthenticationFailed.code())
                    .with_error_message(Some(str_bytes(FAILED))),
            )
        }
    }
}
