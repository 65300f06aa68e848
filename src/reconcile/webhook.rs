//! The webhook gate's HTTP client: one `POST` over `https://` (hyper + rustls), trusting the
//! system trust store plus the gate's optional `caBundle`, only to hosts that
//! `--allowed-webhook-hosts` matches, within the gate's timeout, reading at most
//! [`MAX_RESPONSE_BYTES`] of the answer. Redirects are not followed (a 3xx is an answer).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::{Request, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls::RootCertStore;

pub use crate::api::rollout::ca_bundle_certs;
use crate::plan::webhook_hosts::AllowedHosts;

/// Largest answer read from a webhook (headers aside); a longer one fails the gate.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// What a webhook answered: the status and the start of the body (for the gate's message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// Why there is no answer. [`WebhookError::fails`] says which ones fail the gate outright
/// (configuration or an unacceptable answer) and which are inconclusive (no answer in time).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("host {host:?} is not in --allowed-webhook-hosts ({allowed})")]
    HostNotAllowed { host: String, allowed: String },
    #[error("{0}")]
    BadUrl(String),
    #[error("caBundle: {0}")]
    BadCaBundle(String),
    #[error("the answer is larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
    #[error("no answer within {0}s")]
    TimedOut(u64),
    #[error("{0}")]
    Unreachable(String),
}

impl WebhookError {
    /// A failed check rather than an inconclusive one.
    pub fn fails(&self) -> bool {
        !matches!(self, Self::TimedOut(_) | Self::Unreachable(_))
    }
}

/// The URL's host when it is an `https://` URL the allow-list admits.
pub fn allowed_host(url: &str, allowed: &AllowedHosts) -> Result<Uri, WebhookError> {
    let uri: Uri = url
        .parse()
        .map_err(|e| WebhookError::BadUrl(format!("{url:?} is not a URL: {e}")))?;
    if uri.scheme_str() != Some("https") {
        return Err(WebhookError::BadUrl(format!(
            "{url:?} is not an https:// URL"
        )));
    }
    let host = uri.host().unwrap_or_default();
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(WebhookError::BadUrl(format!("{url:?} carries credentials")));
    }
    if !allowed.allows(host) {
        return Err(WebhookError::HostNotAllowed {
            host: host.to_string(),
            allowed: allowed.to_string(),
        });
    }
    Ok(uri)
}

/// The system trust store, read once.
fn system_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut roots = RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(found.certs);
        roots
    })
}

fn tls_config(ca_bundle: Option<&str>) -> Result<rustls::ClientConfig, WebhookError> {
    let mut roots = system_roots().clone();
    if let Some(b) = ca_bundle {
        let certs = ca_bundle_certs(b).map_err(WebhookError::BadCaBundle)?;
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(WebhookError::BadCaBundle(
                "no usable CA certificate in it".into(),
            ));
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| WebhookError::Unreachable(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// POSTs `body` (JSON) to `url` and returns the answer; see the module for the rules.
pub async fn post(
    url: &str,
    ca_bundle: Option<&str>,
    body: String,
    timeout: Duration,
    allowed: &AllowedHosts,
) -> Result<Answer, WebhookError> {
    let uri = allowed_host(url, allowed)?;
    let tls = tls_config(ca_bundle)?;
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .build();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build(https);
    let req = Request::post(uri)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::USER_AGENT, "connect-gr")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| WebhookError::BadUrl(e.to_string()))?;
    let exchange = async {
        let resp = client
            .request(req)
            .await
            .map_err(|e| WebhookError::Unreachable(chain(&e)))?;
        let status = resp.status().as_u16();
        let declared = resp
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_RESPONSE_BYTES as u64) {
            return Err(WebhookError::TooLarge);
        }
        let bytes = Limited::new(resp.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    WebhookError::TooLarge
                } else {
                    WebhookError::Unreachable(format!("reading the answer: {e}"))
                }
            })?
            .to_bytes();
        let text: String = String::from_utf8_lossy(&bytes).chars().take(200).collect();
        Ok(Answer {
            status,
            body: text.trim().to_string(),
        })
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| WebhookError::TimedOut(timeout.as_secs()))?
}

/// An error with its sources (hyper's outer error says little: "client error (Connect)").
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
#[path = "webhook_tests.rs"]
mod tests;
