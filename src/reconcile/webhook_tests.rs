//! The webhook client against a local https server with a CA of its own.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// A CA and an https server on 127.0.0.1 (certificate for localhost and 127.0.0.1) that answers
/// every request with `response` (raw HTTP) after `delay`.
struct Server {
    port: u16,
    ca_pem: String,
}

fn server(response: Vec<u8>, delay: Duration) -> Server {
    use rcgen::{
        BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
    };
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    leaf.subject_alt_names
        .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf_cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap(),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let response = Arc::new(response);
    tokio::spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, response) = (acceptor.clone(), response.clone());
            tokio::spawn(async move {
                let Ok(mut s) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 16384];
                let _ = s.read(&mut buf).await;
                tokio::time::sleep(delay).await;
                let _ = s.write_all(&response).await;
                let _ = s.shutdown().await;
            });
        }
    });
    Server {
        port,
        ca_pem: ca_cert.pem(),
    }
}

fn answer(status: u16, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

async fn call(s: &Server, host: &str, ca: Option<&str>) -> Result<Answer, WebhookError> {
    post(
        &format!("https://{host}:{}/gate", s.port),
        ca,
        "{}".into(),
        Duration::from_secs(2),
        &AllowedHosts::default(),
    )
    .await
}

#[tokio::test]
async fn an_https_webhook_signed_by_the_ca_bundle_answers_with_its_status_and_body() {
    let s = server(answer(200, "looks good"), Duration::ZERO);
    let a = call(&s, "127.0.0.1", Some(&b64(&s.ca_pem))).await.unwrap();
    assert_eq!((a.status, a.body.as_str()), (200, "looks good"));
    let s = server(answer(503, "no"), Duration::ZERO);
    let a = call(&s, "localhost", Some(&b64(&s.ca_pem))).await.unwrap();
    assert_eq!(a.status, 503);
}

#[tokio::test]
async fn a_server_outside_the_trust_store_and_the_ca_bundle_is_not_believed() {
    let s = server(answer(200, ""), Duration::ZERO);
    let e = call(&s, "127.0.0.1", None).await.unwrap_err();
    assert!(matches!(e, WebhookError::Unreachable(_)), "{e}");
    assert!(e.to_string().contains("certificate"), "{e}");
    let other = server(answer(200, ""), Duration::ZERO);
    let e = call(&s, "127.0.0.1", Some(&b64(&other.ca_pem)))
        .await
        .unwrap_err();
    assert!(!e.fails(), "a TLS failure is no answer: {e}");
}

#[tokio::test]
async fn an_answer_larger_than_the_cap_fails() {
    let big = "x".repeat(MAX_RESPONSE_BYTES + 1);
    let s = server(answer(200, &big), Duration::ZERO);
    let e = call(&s, "127.0.0.1", Some(&b64(&s.ca_pem)))
        .await
        .unwrap_err();
    assert_eq!(e, WebhookError::TooLarge);
    assert!(e.fails());
    // Without a content-length (read to the end of the connection) the cap holds as well.
    let mut raw = b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n".to_vec();
    raw.extend(std::iter::repeat_n(b'x', MAX_RESPONSE_BYTES + 10));
    let s = server(raw, Duration::ZERO);
    let e = call(&s, "127.0.0.1", Some(&b64(&s.ca_pem)))
        .await
        .unwrap_err();
    assert_eq!(e, WebhookError::TooLarge);
}

#[tokio::test]
async fn no_answer_within_the_timeout_is_inconclusive() {
    let s = server(answer(200, ""), Duration::from_secs(5));
    let e = call(&s, "127.0.0.1", Some(&b64(&s.ca_pem)))
        .await
        .unwrap_err();
    assert_eq!(e, WebhookError::TimedOut(2));
    assert!(!e.fails());
}

#[tokio::test]
async fn something_that_is_not_http_is_no_answer() {
    let s = server(b"SSH-2.0-OpenSSH\r\n\r\n".to_vec(), Duration::ZERO);
    let e = call(&s, "127.0.0.1", Some(&b64(&s.ca_pem)))
        .await
        .unwrap_err();
    assert!(matches!(e, WebhookError::Unreachable(_)), "{e}");
}

#[tokio::test]
async fn a_host_outside_the_allow_list_is_refused_before_any_connection() {
    let e = post(
        "https://checker.example.com/gate",
        None,
        "{}".into(),
        Duration::from_secs(1),
        &AllowedHosts::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, WebhookError::HostNotAllowed { .. }), "{e}");
    assert!(e.fails());
    assert!(e.to_string().contains("checker.example.com"), "{e}");
}

#[test]
fn only_https_urls_without_credentials_are_called() {
    let a = AllowedHosts::default();
    assert!(matches!(
        allowed_host("http://localhost/gate", &a),
        Err(WebhookError::BadUrl(_))
    ));
    assert!(matches!(
        allowed_host("https://user:pw@localhost/gate", &a),
        Err(WebhookError::BadUrl(_))
    ));
    assert!(allowed_host("https://checker.ops.svc:8443/gate", &a).is_ok());
}

#[test]
fn a_ca_bundle_must_be_base64_of_pem_certificates() {
    assert!(ca_bundle_certs("not base64!").is_err());
    assert!(ca_bundle_certs(&b64("just text")).is_err());
}
