//! The HTTP side of the lab: case-insensitive IIS-style routing (doubled slashes accepted),
//! SOAP envelope handling with the request log and injected switches, and `/Content` with
//! single-range support, withheld files and per-file counters. Every failure of a request
//! becomes an HTTP answer, never a panic.

use super::content::ContentBody;
use super::ops::{self, Service};
use super::{truncate_at_char, Lab, RecordedRequest};
use crate::model::{parse_content_path, Sha1Digest, UpdateFile};
use crate::xml::soap::{self, Body, Fault, CONTENT_TYPE};
use crate::xml::{Element, Limits, Writer};
use axum::body::{Body as HttpBody, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

/// Requests above this size are refused (a GetUpdateData of 100 ids is about 13 KB).
const MAX_REQUEST: usize = 4 << 20;
const REQUEST_LIMITS: Limits = Limits {
    max_bytes: MAX_REQUEST,
    max_depth: 32,
    max_elements: 100_000,
};

pub(super) fn router(lab: Lab) -> Router {
    Router::new().fallback(handle).with_state(lab)
}

async fn handle(State(lab): State<Lab>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let route = normalise(&path);
    let service = match route.as_str() {
        "/serversyncwebservice/serversyncwebservice.asmx" => Some(Service::ServerSync),
        "/dssauthwebservice/dssauthwebservice.asmx" => Some(Service::DssAuth),
        "/reportingwebservice/reportingwebservice.asmx" => Some(Service::Reporting),
        _ => None,
    };
    let method = req.method().clone();
    if let Some(service) = service {
        if method != Method::POST {
            return (
                StatusCode::METHOD_NOT_ALLOWED,
                [(header::ALLOW, "POST")],
                "SOAP endpoints take POST\n",
            )
                .into_response();
        }
        // Real faults name the endpoint in `faultactor` (exchange 000019).
        let actor = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|host| format!("http://{host}{path}"));
        let soap_action = req
            .headers()
            .get("soapaction")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().trim_matches('"').to_owned());
        let body = match axum::body::to_bytes(req.into_body(), MAX_REQUEST).await {
            Ok(b) => b,
            Err(_) => {
                let f = Fault::plain(false, "request body unreadable or over the size limit");
                return fault_response(&lab, &f, actor.as_deref());
            }
        };
        return soap_call(lab, service, path, actor, soap_action, body).await;
    }
    if route.starts_with("/content/") && (method == Method::GET || method == Method::HEAD) {
        return content(lab, &route, method == Method::HEAD, req.headers()).await;
    }
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

/// IIS matches paths case-insensitively, and real DSSs send `//DssAuthWebService/…` when they
/// join the base URL and ServiceUrl: lower-case and collapse repeated slashes.
fn normalise(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if c == '/' && out.ends_with('/') {
            continue;
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

async fn soap_call(
    lab: Lab,
    service: Service,
    path: String,
    actor: Option<String>,
    soap_action: Option<String>,
    body: Bytes,
) -> Response {
    let actor = actor.as_deref();
    let parsed = soap::parse(&body, REQUEST_LIMITS);
    let element = match &parsed {
        Ok(Body::Message(el)) => Some(el),
        _ => None,
    };
    lab.record(recorded(element, path, soap_action, &body));
    let el = match parsed {
        Ok(Body::Message(el)) => el,
        Ok(Body::Fault(_)) => {
            let f = Fault::plain(false, "a request cannot be a fault");
            return fault_response(&lab, &f, actor);
        }
        Err(e) => {
            let f = Fault::plain(false, &format!("bad request: {e}"));
            return fault_response(&lab, &f, actor);
        }
    };
    let op = el.name.clone();
    let plan = lab.take_plan(&op, service == Service::ServerSync, true);
    if let Some(delay) = plan.delay {
        tokio::time::sleep(delay).await;
    }
    if plan.http500 {
        return plain_500(&lab);
    }
    if let Some(code) = &plan.fault {
        return fault_response(&lab, &ops::fault(service, &op, code, ""), actor);
    }
    match ops::call(&lab, service, &el, plan.truncate) {
        Ok(body) => {
            let mut envelope = soap::envelope(&body);
            if plan.malformed {
                let half = envelope.len() / 2;
                truncate_at_char(&mut envelope, half);
            }
            xml_response(&lab, StatusCode::OK, envelope)
        }
        Err(f) => fault_response(&lab, &f, actor),
    }
}

fn recorded(
    el: Option<&Element>,
    path: String,
    soap_action: Option<String>,
    body: &[u8],
) -> RecordedRequest {
    let operation = el.map(|e| e.name.clone()).unwrap_or_default();
    let (update_ids, anchor, get_config) = match (el, operation.as_str()) {
        (Some(e), "GetUpdateData") => (ops::requested_ids(e), None, None),
        (Some(e), "GetRevisionIdList") => {
            let filter = e.child("filter");
            (
                Vec::new(),
                filter
                    .and_then(|f| f.child_text("Anchor"))
                    .map(str::to_owned),
                filter
                    .and_then(|f| f.child("GetConfig"))
                    .and_then(|g| crate::xml::parse_bool(g).ok()),
            )
        }
        (Some(e), "GetDeployments") => (
            Vec::new(),
            e.child_text("deploymentAnchor").map(str::to_owned),
            None,
        ),
        _ => (Vec::new(), None, None),
    };
    RecordedRequest {
        operation,
        path,
        soap_action,
        update_ids,
        anchor,
        get_config,
        body: String::from_utf8_lossy(body).into_owned(),
    }
}

fn xml_response(lab: &Lab, status: StatusCode, body: String) -> Response {
    lab.count_sent(body.len());
    // Real WSUS: "private, max-age=0" on answers, "private" on faults.
    let cache = if status == StatusCode::OK {
        "private, max-age=0"
    } else {
        "private"
    };
    (
        status,
        [
            (header::CONTENT_TYPE, CONTENT_TYPE),
            (header::CACHE_CONTROL, cache),
        ],
        body,
    )
        .into_response()
}

/// A fault envelope with HTTP 500; `faultactor` goes right after `faultstring` (SOAP 1.1
/// order), as in real WSUS faults.
fn fault_response(lab: &Lab, fault: &Fault, actor: Option<&str>) -> Response {
    let mut body = fault.to_envelope();
    const AFTER: &str = "</faultstring>";
    if let (Some(actor), Some(at)) = (actor, body.find(AFTER)) {
        let mut w = Writer::new();
        w.leaf("faultactor", actor);
        body.insert_str(at + AFTER.len(), &w.finish());
    }
    xml_response(lab, StatusCode::INTERNAL_SERVER_ERROR, body)
}

fn plain_500(lab: &Lab) -> Response {
    let body = "Internal Server Error (injected by the Outpost lab)\n";
    lab.count_sent(body.len());
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

/// `GET`/`HEAD /Content/XX/SHA1HEX.ext` (route already lower-cased). Bodies stream with
/// constant memory whatever the file size (`content::ContentBody`).
async fn content(lab: Lab, route: &str, head: bool, headers: &HeaderMap) -> Response {
    let digest = content_digest(route);
    if let Some(sha1) = &digest {
        lab.count_content_request(sha1, !head);
    }
    let plan = lab.take_plan("Content", false, false);
    if let Some(delay) = plan.delay {
        tokio::time::sleep(delay).await;
    }
    if plan.http500 {
        return plain_500(&lab);
    }
    let not_found = || (StatusCode::NOT_FOUND, "not found\n").into_response();
    let Some((key, meta)) = content_file(&lab, route) else {
        return not_found();
    };
    if lab.is_withheld(&meta.sha1) {
        return not_found();
    }
    let len = meta.size;
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (status, start, end) = match resolve_range(range, len) {
        RangeOutcome::Full => (StatusCode::OK, 0, len),
        RangeOutcome::Partial { start, end } => (StatusCode::PARTIAL_CONTENT, start, end + 1),
        RangeOutcome::Unsatisfiable => {
            return (
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{len}"))],
            )
                .into_response();
        }
    };
    let mut response = Response::new(HttpBody::empty());
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    if status == StatusCode::PARTIAL_CONTENT {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{len}", end - 1)) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    if !head && end > start {
        let plan = lab.take_content_plan(&meta.sha1);
        // The middle byte of the file, or the first of the range when it lies outside.
        let flip = plan.corrupt.then(|| {
            let mid = len / 2;
            if (start..end).contains(&mid) {
                mid
            } else {
                start
            }
        });
        let source = lab.file_source(key);
        let body = ContentBody::new(
            lab.clone(),
            source,
            meta.sha1,
            (start, end),
            flip,
            plan.truncate,
        );
        *response.body_mut() = HttpBody::new(body);
    }
    response
}

/// The SHA-1 a content route names (`/content/XX/SHA1HEX.ext`), whether or not it exists or
/// its folder and extension are right: it keys the request counters, which count every
/// request naming a digest.
fn content_digest(route: &str) -> Option<Sha1Digest> {
    let name = route.strip_prefix("/content/")?.split_once('/')?.1;
    let hex = name.find('.').map_or(name, |i| &name[..i]);
    Sha1Digest::from_hex(hex).ok()
}

/// The file a content route names: a well-formed content path (`XX` the last two hex digits
/// of the SHA-1) whose extension is the file's own, as on a real WSUS content share.
fn content_file(lab: &Lab, route: &str) -> Option<(u64, UpdateFile)> {
    let path = parse_content_path(route)?;
    let (key, meta) = lab.file_by_sha1(&path.sha1)?;
    meta.extension()
        .eq_ignore_ascii_case(&path.extension)
        .then_some((key, meta))
}

/// What a `Range` header asks of a body of `len` bytes (`end` inclusive).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum RangeOutcome {
    Full,
    Partial { start: u64, end: u64 },
    Unsatisfiable,
}

/// Resolve a single byte range (RFC 9110 §14). Headers we do not understand, and multiple
/// ranges, are ignored (answer the whole body), which the RFC allows.
pub(super) fn resolve_range(header: Option<&str>, len: u64) -> RangeOutcome {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeOutcome::Full;
    };
    if spec.contains(',') {
        return RangeOutcome::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeOutcome::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    let parse = |s: &str| s.parse::<u64>().ok();
    match (first.is_empty(), last.is_empty()) {
        // bytes=-n: the last n bytes.
        (true, false) => match parse(last) {
            None => RangeOutcome::Full,
            Some(0) => RangeOutcome::Unsatisfiable,
            Some(_) if len == 0 => RangeOutcome::Unsatisfiable,
            Some(n) => RangeOutcome::Partial {
                start: len.saturating_sub(n),
                end: len - 1,
            },
        },
        // bytes=a- : from a to the end.
        (false, true) => match parse(first) {
            None => RangeOutcome::Full,
            Some(a) if a >= len => RangeOutcome::Unsatisfiable,
            Some(a) => RangeOutcome::Partial {
                start: a,
                end: len - 1,
            },
        },
        // bytes=a-b
        (false, false) => match (parse(first), parse(last)) {
            (Some(a), Some(b)) if a <= b => {
                if a >= len {
                    RangeOutcome::Unsatisfiable
                } else {
                    RangeOutcome::Partial {
                        start: a,
                        end: b.min(len - 1),
                    }
                }
            }
            _ => RangeOutcome::Full,
        },
        (true, true) => RangeOutcome::Full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalise_case_and_doubled_slashes() {
        assert_eq!(
            normalise("//DssAuthWebService/DssAuthWebService.asmx"),
            "/dssauthwebservice/dssauthwebservice.asmx"
        );
        assert_eq!(normalise("/Content/AB//x.CAB"), "/content/ab/x.cab");
    }

    #[test]
    fn ranges_resolve_like_rfc_9110() {
        use RangeOutcome::*;
        let r = |h: &str| resolve_range(Some(h), 100);
        assert_eq!(resolve_range(None, 100), Full);
        assert_eq!(r("bytes=0-9"), Partial { start: 0, end: 9 });
        assert_eq!(r("bytes=90-200"), Partial { start: 90, end: 99 });
        assert_eq!(r("bytes=50-"), Partial { start: 50, end: 99 });
        assert_eq!(r("bytes=-10"), Partial { start: 90, end: 99 });
        assert_eq!(r("bytes=-500"), Partial { start: 0, end: 99 });
        assert_eq!(r("bytes=100-"), Unsatisfiable);
        assert_eq!(r("bytes=100-200"), Unsatisfiable);
        assert_eq!(r("bytes=-0"), Unsatisfiable);
        assert_eq!(r("bytes=5-1"), Full);
        assert_eq!(r("bytes=0-1,5-6"), Full);
        assert_eq!(r("items=0-1"), Full);
        assert_eq!(r("bytes=x-1"), Full);
        assert_eq!(r("bytes=-"), Full);
    }
}
