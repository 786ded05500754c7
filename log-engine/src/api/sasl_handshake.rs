//! SaslHandshake (key 17, v1): a client on a `SASL_PLAINTEXT` listener names its mechanism
//! before authenticating. Only PLAIN is served; any other gets UNSUPPORTED_SASL_MECHANISM
//! with the list. On a `PLAINTEXT` listener the request is out of place: ILLEGAL_SASL_STATE.

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::{SaslHandshakeRequest, SaslHandshakeResponse};
use kafka_protocol::protocol::StrBytes;

use super::{Auth, Ctx};

/// The one mechanism served.
pub(crate) const PLAIN: &str = "PLAIN";

pub(crate) fn handle(
    ctx: &Ctx,
    req: SaslHandshakeRequest,
    auth: &mut Auth,
) -> Result<Bytes, String> {
    let offered = vec![StrBytes::from_static_str(PLAIN)];
    let error = match auth {
        Auth::Open | Auth::Done(_) => {
            let response = SaslHandshakeResponse::default()
                .with_error_code(ResponseError::IllegalSaslState.code());
            return ctx.respond(&response);
        }
        _ if req.mechanism.as_str() == PLAIN => {
            *auth = Auth::AwaitingToken;
            0
        }
        _ => {
            tracing::info!(client = %ctx.client_host, mechanism = %req.mechanism.as_str(),
                "refused a SASL mechanism the broker does not serve");
            ResponseError::UnsupportedSaslMechanism.code()
        }
    };
    ctx.respond(
        &SaslHandshakeResponse::default()
            .with_error_code(error)
            .with_mechanisms(offered),
    )
}
