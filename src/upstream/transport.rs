//! HTTP for SOAP 1.1 as WSUS expects it (wsusss.md §1.2): POST with the quoted SOAPAction,
//! no compression, one rate limiter for every request of the client, a timeout per exchange,
//! a capped body, and exponential backoff with full jitter for failures that may pass.

use super::messages::Op;
use super::{Counters, Error, Options, RetryPolicy};
use crate::xml::soap::{self, Body};
use crate::xml::{self, Element, Limits};
use futures_util::StreamExt;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rand::Rng;
use reqwest::header::{ACCEPT_ENCODING, CONTENT_TYPE};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// Largest response body read (a full GetRevisionIdList of a big USS is tens of MiB).
pub(crate) const MAX_BODY_BYTES: usize = 256 << 20;

pub(crate) struct Transport {
    http: reqwest::Client,
    limiter: DefaultDirectRateLimiter,
    retry: RetryPolicy,
    stats: Arc<Counters>,
}

impl Transport {
    pub(crate) fn new(opts: &Options, stats: Arc<Counters>) -> Result<Self, Error> {
        let rate = NonZeroU32::new(opts.max_requests_per_second).ok_or_else(|| {
            Error::Config("upstream.max_requests_per_second must be at least 1".into())
        })?;
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_native_certs(true)
            // What WSUS DSSs speak and what was verified against a real USS.
            .http1_only()
            // A redirect would turn the POST into a GET; report the status instead.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(opts.timeout)
            // Content downloads have no overall timeout (files reach gigabytes); a stalled
            // connection is caught by this gap between reads instead.
            .read_timeout(opts.timeout)
            .user_agent(concat!("Outpost/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &opts.ca_file {
            for cert in load_ca_file(path)? {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| Error::Config(format!("HTTP client: {}", describe(&e))))?;
        Ok(Self {
            http,
            // Burst = the per-second quota: short bursts allowed, the average is bounded.
            limiter: RateLimiter::direct(Quota::per_second(rate)),
            retry: opts.retry.clone(),
            stats,
        })
    }

    /// Send one SOAP request (retrying what may pass) and parse the answer with `parse` off
    /// the async threads (documents are decompressed and parsed there).
    pub(crate) async fn call<T: Send + 'static>(
        &self,
        op: &'static Op,
        url: &str,
        body: String,
        timeout: Duration,
        parse: fn(&Element) -> Result<T, xml::Error>,
    ) -> Result<T, Error> {
        let envelope = bytes::Bytes::from(soap::envelope(&body));
        let attempts = self.retry.attempts.max(1);
        let mut attempt = 1;
        loop {
            match self.once(op, url, envelope.clone(), timeout, parse).await {
                Err(e) if e.is_retryable() && attempt < attempts => {
                    let delay = backoff(&self.retry, attempt - 1, &mut rand::thread_rng());
                    Counters::bump(&self.stats.retries, 1);
                    tracing::warn!(
                        op = op.name,
                        attempt,
                        attempts,
                        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        cause = %e,
                        "upstream call failed; retrying"
                    );
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn once<T: Send + 'static>(
        &self,
        op: &'static Op,
        url: &str,
        envelope: bytes::Bytes,
        timeout: Duration,
        parse: fn(&Element) -> Result<T, xml::Error>,
    ) -> Result<T, Error> {
        self.limiter.until_ready().await;
        Counters::bump(&self.stats.requests, 1);
        let transport = |e: reqwest::Error| Error::Transport {
            op: op.name,
            message: if e.is_timeout() {
                format!("no complete answer within {timeout:?}")
            } else {
                describe(&e)
            },
        };
        let mut resp = self
            .http
            .post(url)
            .header(CONTENT_TYPE, soap::CONTENT_TYPE)
            .header("SOAPAction", format!("\"{}\"", op.action))
            .header(ACCEPT_ENCODING, "identity")
            .timeout(timeout)
            .body(envelope)
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status().as_u16();
        let too_big = || Error::Decode {
            op: op.name,
            message: format!("response body over {MAX_BODY_BYTES} bytes"),
        };
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_BODY_BYTES as u64)
        {
            return Err(too_big());
        }
        let mut body = Vec::with_capacity(
            resp.content_length()
                .map_or(64 << 10, |n| n as usize)
                .min(16 << 20),
        );
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            Counters::bump(&self.stats.bytes_received, chunk.len() as u64);
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(too_big());
            }
            body.extend_from_slice(&chunk);
        }
        tokio::task::spawn_blocking(move || {
            interpret(op, status, &body)
                .and_then(|el| parse(&el).map_err(|e| Error::decode(op.name, e)))
        })
        .await
        .unwrap_or_else(|e| Err(Error::decode(op.name, format!("parser failed: {e}"))))
    }
}

impl Transport {
    /// `GET url` from byte `offset` on (a `Range` request when above 0), one attempt: the
    /// content fetcher retries and resumes itself. Content is rate limited like every call;
    /// its bytes are not capped (files reach gigabytes) and have no overall timeout, only
    /// the connect and per-read ones.
    pub(crate) async fn get_content(&self, url: &str, offset: u64) -> Result<ContentAnswer, Error> {
        const OP: &str = "Content";
        self.limiter.until_ready().await;
        Counters::bump(&self.stats.requests, 1);
        let transport = |e: reqwest::Error| Error::Transport {
            op: OP,
            message: describe(&e),
        };
        let mut req = self.http.get(url).header(ACCEPT_ENCODING, "identity");
        if offset > 0 {
            req = req.header(reqwest::header::RANGE, format!("bytes={offset}-"));
        }
        let resp = req.send().await.map_err(transport)?;
        let start = match resp.status().as_u16() {
            200 => 0,
            206 => content_range_start(resp.headers()).ok_or_else(|| Error::Decode {
                op: OP,
                message: "206 without a usable Content-Range".into(),
            })?,
            404 => return Ok(ContentAnswer::NotFound),
            status => return Err(Error::Http { op: OP, status }),
        };
        let stats = self.stats.clone();
        let stream = resp.bytes_stream().map(move |chunk| {
            let chunk = chunk.map_err(transport)?;
            Counters::bump(&stats.bytes_received, chunk.len() as u64);
            Ok(chunk)
        });
        Ok(ContentAnswer::Body {
            start,
            stream: Box::pin(stream),
        })
    }
}

/// An upstream's answer to a content GET.
pub enum ContentAnswer {
    NotFound,
    /// The body, starting at byte `start` of the file.
    Body {
        start: u64,
        stream: futures_util::stream::BoxStream<'static, Result<bytes::Bytes, Error>>,
    },
}

/// First byte position of `Content-Range: bytes a-b/len`.
fn content_range_start(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    let value = headers.get(reqwest::header::CONTENT_RANGE)?.to_str().ok()?;
    let range = value.trim().strip_prefix("bytes ")?;
    range.split('-').next()?.trim().parse().ok()
}

/// Map status + body to the operation's answer element or an error. Faults come with 500,
/// but whatever the status, a SOAP fault in the body is reported as the fault.
pub(crate) fn interpret(op: &Op, status: u16, body: &[u8]) -> Result<Element, Error> {
    let limits = Limits {
        max_bytes: MAX_BODY_BYTES,
        ..Limits::default()
    };
    match soap::parse(body, limits) {
        Ok(Body::Fault(fault)) => Err(Error::Fault {
            op: op.name,
            fault: Box::new(fault),
        }),
        _ if !(200..300).contains(&status) => Err(Error::Http {
            op: op.name,
            status,
        }),
        Ok(Body::Message(el)) if el.name == op.response_name() && el.ns == op.ns => Ok(el),
        Ok(Body::Message(el)) => Err(Error::decode(
            op.name,
            format!("expected {}Response, got {{{}}}{}", op.name, el.ns, el.name),
        )),
        Err(e) => Err(Error::decode(op.name, e)),
    }
}

/// Delay before retry number `retry` (0-based): uniform in `[0, min(max, base·2^retry)]`.
pub(crate) fn backoff(policy: &RetryPolicy, retry: u32, rng: &mut impl Rng) -> Duration {
    let cap = backoff_cap(policy, retry);
    let millis = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rng.gen_range(0..=millis))
}

fn backoff_cap(policy: &RetryPolicy, retry: u32) -> Duration {
    let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
    policy
        .base
        .checked_mul(factor)
        .unwrap_or(policy.max)
        .min(policy.max)
}

/// `http(s)://host[:port]` without trailing slashes, or a settings error that says why.
pub(crate) fn validate_base_url(url: &str) -> Result<String, Error> {
    let bad = |why: &str| Error::Config(format!("upstream.url {url:?}: {why}"));
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| bad(&e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad("must start with http:// or https://"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("must not have a query or fragment"));
    }
    Ok(url.trim().trim_end_matches('/').to_owned())
}

/// The DssAuth service URL from GetAuthConfig's `ServiceUrl`: absolute as given, else
/// joined to the base with exactly one slash (WSUS sends it relative).
pub(crate) fn join_service_url(base: &str, service_url: &str) -> Result<String, Error> {
    let s = service_url.trim();
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        reqwest::Url::parse(s).map_err(|e| Error::Decode {
            op: "GetAuthConfig",
            message: format!("ServiceUrl {s:?}: {e}"),
        })?;
        return Ok(s.to_owned());
    }
    Ok(format!(
        "{}/{}",
        base.trim_end_matches('/'),
        s.trim_start_matches('/')
    ))
}

fn load_ca_file(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, Error> {
    let bad = |why: String| Error::Config(format!("upstream.ca_file {}: {why}", path.display()));
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| bad(describe(&e)))?;
    if certs.is_empty() {
        return Err(bad("no PEM certificate in it".into()));
    }
    Ok(certs)
}

/// reqwest's message plus its causes (the interesting part: "connection refused", TLS…).
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::messages;
    use rand::SeedableRng;

    #[test]
    fn backoff_grows_exponentially_and_stays_bounded() {
        let p = RetryPolicy {
            attempts: 10,
            base: Duration::from_millis(500),
            max: Duration::from_secs(10),
        };
        let caps: Vec<u64> = (0..8)
            .map(|n| backoff_cap(&p, n).as_millis() as u64)
            .collect();
        assert_eq!(caps, [500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
        assert_eq!(backoff_cap(&p, u32::MAX), p.max);
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for n in 0..64 {
            for _ in 0..50 {
                let d = backoff(&p, n, &mut rng);
                assert!(d <= backoff_cap(&p, n), "{n}: {d:?}");
            }
        }
        let zero = RetryPolicy {
            base: Duration::ZERO,
            ..p
        };
        assert_eq!(backoff(&zero, 3, &mut rng), Duration::ZERO);
    }

    #[test]
    fn statuses_and_bodies_map_to_errors() {
        let op = &messages::GET_CONFIG_DATA;
        let fault = soap::envelope(
            "<soap:Fault><faultcode>soap:Client</faultcode><faultstring>Fault occurred</faultstring><detail><ErrorCode>InvalidCookie</ErrorCode><Message></Message></detail></soap:Fault>",
        );
        let e = interpret(op, 500, fault.as_bytes()).unwrap_err();
        assert_eq!(e.fault_code(), Some("InvalidCookie"));
        assert!(!e.is_retryable());
        // A fault with 200 is still a fault.
        assert!(matches!(
            interpret(op, 200, fault.as_bytes()),
            Err(Error::Fault { .. })
        ));
        assert!(matches!(
            interpret(op, 500, b"<html>Runtime Error</html>"),
            Err(Error::Http { status: 500, .. })
        ));
        assert!(matches!(
            interpret(op, 404, b""),
            Err(Error::Http { status: 404, .. })
        ));
        assert!(matches!(
            interpret(op, 200, b"<soap:Envelope"),
            Err(Error::Decode { .. })
        ));
        let other = soap::envelope(&format!(
            r#"<GetCookieResponse xmlns="{}"/>"#,
            crate::xml::NS_SD
        ));
        assert!(matches!(
            interpret(op, 200, other.as_bytes()),
            Err(Error::Decode { .. })
        ));
        let wrong_ns = soap::envelope(r#"<GetConfigDataResponse xmlns="urn:other"/>"#);
        assert!(matches!(
            interpret(op, 200, wrong_ns.as_bytes()),
            Err(Error::Decode { .. })
        ));
        let right = soap::envelope(&format!(
            r#"<GetConfigDataResponse xmlns="{}"/>"#,
            crate::xml::NS_SD
        ));
        assert_eq!(
            interpret(op, 200, right.as_bytes()).unwrap().name,
            "GetConfigDataResponse"
        );
    }

    #[test]
    fn service_urls_join_with_one_slash() {
        let base = "http://wsus:8530";
        for s in [
            "DssAuthWebService/DssAuthWebService.asmx",
            "/DssAuthWebService/DssAuthWebService.asmx",
        ] {
            assert_eq!(
                join_service_url(&format!("{base}/"), s).unwrap(),
                "http://wsus:8530/DssAuthWebService/DssAuthWebService.asmx"
            );
        }
        assert_eq!(
            join_service_url(base, "https://auth.example/Dss.asmx").unwrap(),
            "https://auth.example/Dss.asmx"
        );
        assert!(join_service_url(base, "http://").is_err());
    }

    #[test]
    fn ca_file_must_hold_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "hello").unwrap();
        let good = dir.path().join("ca.pem");
        std::fs::write(&good, TEST_CA).unwrap();
        for path in [&empty, &junk] {
            assert!(
                matches!(load_ca_file(path), Err(Error::Config(_))),
                "{path:?}"
            );
        }
        assert_eq!(load_ca_file(&good).unwrap().len(), 1);
        let opts = Options {
            url: "https://wsus.example:8531".into(),
            ca_file: Some(good),
            ..Options::default()
        };
        assert!(crate::upstream::Client::new(opts).is_ok());
    }

    /// A throw-away self-signed CA (openssl req -x509 -newkey ec, CN=outpost-test-ca).
    const TEST_CA: &str = "-----BEGIN CERTIFICATE-----
MIIBjDCCATGgAwIBAgIUDClbaKeS4/5JkM7pKngzDBE0nqYwCgYIKoZIzj0EAwIw
GjEYMBYGA1UEAwwPb3V0cG9zdC10ZXN0LWNhMCAXDTI2MTEyNTIxNTgyOVoYDzIx
MjYxMTAxMjE1ODI5WjAaMRgwFgYDVQQDDA9vdXRwb3N0LXRlc3QtY2EwWTATBgcq
hkjOPQIBBggqhkjOPQMBBwNCAAQfVq/LkvUT1Ln/FKvRIu1eF1tW1FLuodAM5kWD
v4/VRJ/GRgmhJHAmBnK+oWYPJBwJgezetTvtRUn0s7G2o0+lo1MwUTAdBgNVHQ4E
FgQUd54CJAZ2e+9jtx6GBKiZoNvWPH4wHwYDVR0jBBgwFoAUd54CJAZ2e+9jtx6G
BKiZoNvWPH4wDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNJADBGAiEAzgXk
0UciF/fpmymObyPdpk+JHJxVPqQYC4QLITudgMkCIQCVcXrpa0IzyTn/U5Ie8tj1
UTHCOn8tphHPtb2PSQwJgA==
-----END CERTIFICATE-----
";
}
