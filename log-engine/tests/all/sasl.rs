//! SASL/PLAIN on a `SASL_PLAINTEXT` listener: raw frames (nothing before the login, only
//! PLAIN offered, a wrong password refused and the connection closed) and librdkafka
//! logging in to produce and consume.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::{
    ApiKey, MetadataRequest, MetadataResponse, ResponseHeader, SaslAuthenticateRequest,
    SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::{Decodable, StrBytes};
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

use crate::protocol::{connect, read_frame, request};
use crate::support::TestBroker;

fn sasl_broker(dir: &std::path::Path) -> TestBroker {
    TestBroker::start_with(dir, |c| {
        c.sasl_plain_users = Some(BTreeMap::from([(
            "alice".to_string(),
            "s3cret".to_string(),
        )]));
    })
}

fn handshake(s: &mut std::net::TcpStream, mechanism: &'static str) -> SaslHandshakeResponse {
    let req = SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism));
    s.write_all(&request(ApiKey::SaslHandshake, 1, 1, &req))
        .expect("send");
    let mut frame = read_frame(s).expect("handshake answer");
    ResponseHeader::decode(&mut frame, 0).expect("header");
    SaslHandshakeResponse::decode(&mut frame, 1).expect("handshake")
}

/// Sends a PLAIN token; the answer, or `None` when the connection was closed instead.
fn authenticate(s: &mut std::net::TcpStream, token: &[u8]) -> Option<SaslAuthenticateResponse> {
    let req = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::copy_from_slice(token));
    s.write_all(&request(ApiKey::SaslAuthenticate, 2, 2, &req))
        .expect("send");
    let mut frame = read_frame(s)?;
    ResponseHeader::decode(&mut frame, 1).expect("header");
    Some(SaslAuthenticateResponse::decode(&mut frame, 2).expect("authenticate"))
}

fn metadata(s: &mut std::net::TcpStream) -> Option<MetadataResponse> {
    let req = MetadataRequest::default().with_topics(Some(Vec::new()));
    s.write_all(&request(ApiKey::Metadata, 9, 3, &req)).ok()?;
    let mut frame = read_frame(s)?;
    ResponseHeader::decode(&mut frame, 1).expect("header");
    Some(MetadataResponse::decode(&mut frame, 9).expect("metadata"))
}

#[test]
fn plain_logins_are_checked_before_anything_else_is_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = sasl_broker(dir.path());

    // Nothing but ApiVersions and the SASL exchange before the login.
    let mut s = connect(&broker);
    assert!(metadata(&mut s).is_none(), "closed: request before login");

    // Only PLAIN is offered.
    let mut s = connect(&broker);
    let refused = handshake(&mut s, "SCRAM-SHA-256");
    assert_eq!(refused.error_code, 33, "UNSUPPORTED_SASL_MECHANISM");
    assert_eq!(refused.mechanisms, [StrBytes::from_static_str("PLAIN")]);

    // A wrong password: SASL_AUTHENTICATION_FAILED, then the connection closes.
    let ok = handshake(&mut s, "PLAIN");
    assert_eq!(ok.error_code, 0);
    let failed = authenticate(&mut s, b"\0alice\0guess").expect("an answer first");
    assert_eq!(failed.error_code, 58, "SASL_AUTHENTICATION_FAILED");
    assert_eq!(
        failed.error_message.as_deref(),
        Some("Authentication failed: Invalid username or password")
    );
    assert!(metadata(&mut s).is_none(), "closed after a failed login");

    // Malformed tokens and another user's authorization id are refused the same way.
    for token in [
        &b"alice\0s3cret"[..],
        b"\0alice\0s3cret\0x",
        b"bob\0alice\0s3cret",
    ] {
        let mut s = connect(&broker);
        assert_eq!(handshake(&mut s, "PLAIN").error_code, 0);
        let failed = authenticate(&mut s, token).expect("an answer");
        assert_eq!(failed.error_code, 58, "{token:?}");
    }

    // The right password: logged in, and requests are served.
    let mut s = connect(&broker);
    assert_eq!(handshake(&mut s, "PLAIN").error_code, 0);
    let done = authenticate(&mut s, b"alice\0alice\0s3cret").expect("an answer");
    assert_eq!(done.error_code, 0);
    let md = metadata(&mut s).expect("served after the login");
    assert_eq!(md.brokers.len(), 1);
    // A second handshake on a logged-in connection is out of place.
    assert_eq!(
        handshake(&mut s, "PLAIN").error_code,
        34,
        "ILLEGAL_SASL_STATE"
    );
}

#[test]
fn librdkafka_logs_in_with_plain_to_produce_and_consume() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = sasl_broker(dir.path());
    let client = |password: &str| {
        let mut c = broker.client();
        c.set("security.protocol", "SASL_PLAINTEXT")
            .set("sasl.mechanism", "PLAIN")
            .set("sasl.username", "alice")
            .set("sasl.password", password);
        c
    };
    let producer: ThreadedProducer<DefaultProducerContext> =
        client("s3cret").create().expect("producer");
    for i in 0..10 {
        let value = format!("v{i}");
        producer
            .send(
                BaseRecord::<str, str>::to("logins")
                    .key("k")
                    .payload(&value),
            )
            .map_err(|(e, _)| e)
            .expect("queued");
    }
    producer.flush(Duration::from_secs(30)).expect("delivered");
    let consumer: BaseConsumer = client("s3cret")
        .set("group.id", "readers")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    consumer.subscribe(&["logins"]).expect("subscribe");
    let mut values = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while values.len() < 10 && std::time::Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            values.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
        }
    }
    assert_eq!(values, (0..10).map(|i| format!("v{i}")).collect::<Vec<_>>());

    // A wrong password gets no metadata, and neither does a client without SASL.
    for mut c in [client("guess"), broker.client()] {
        let refused: BaseConsumer = c.set("group.id", "refused").create().expect("consumer");
        assert!(
            refused
                .fetch_metadata(None, Duration::from_secs(3))
                .is_err(),
            "metadata without a valid login"
        );
    }
}
