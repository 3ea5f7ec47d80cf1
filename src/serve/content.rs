//! `GET`/`HEAD /Content/<XX>/<SHA1HEX>.<ext>` for Windows clients (wusp.md §1.5): only files
//! the synced metadata names, only verified bytes (or a download that aborts unless it
//! verifies), one `Range` at most, `Content-Length` always (IIS never chunks and clients
//! count on it), headers shaped like the real WSUS answers in
//! samples/native-wua/content-headers.

use super::range::{self, Resolved};
use crate::content::{self, Content, Source};
use crate::model::{parse_content_path, UpdateFile};
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use httpdate::fmt_http_date;
use std::time::SystemTime;

/// Content never changes under its digest.
const CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// Answer a request whose path starts with `/Content/` (any case).
pub async fn handle(
    content: &Content,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
            "only GET and HEAD\n",
        )
            .into_response();
    }
    let Some(wanted) = parse_content_path(path) else {
        // Never a file-system path: a malformed name is refused before any lookup.
        return if looks_like_escape(path) {
            (StatusCode::BAD_REQUEST, "bad content path\n").into_response()
        } else {
            not_found()
        };
    };
    let head = method == Method::HEAD;
    if head {
        // HEAD on a file that is not cached answers from the metadata and starts fetching it
        // (INTERFACE.md), without waiting for the upstream.
        match content.lookup(&wanted.sha1) {
            Ok(None) => return not_found(),
            Ok(Some(entry)) if entry.state != crate::store::ContentState::Verified => {
                content.start(&entry.file);
                return respond(&entry.file, SystemTime::now(), None, headers);
            }
            Ok(Some(_)) => {}
            Err(e) => return failure(&e),
        }
    }
    match content.open(&wanted.sha1).await {
        Ok(Some(source)) => {
            let file = source.file.clone();
            // A copy still downloading is being made now.
            let modified = source.modified.unwrap_or_else(SystemTime::now);
            respond(&file, modified, (!head).then_some(source), headers)
        }
        Ok(None) => not_found(),
        Err(e) => failure(&e),
    }
}

/// The answer for `file`: validators, range, headers, and the body from `source` (`None`
/// for HEAD). GET and HEAD share this one path.
fn respond(
    file: &UpdateFile,
    modified: SystemTime,
    source: Option<Source>,
    headers: &HeaderMap,
) -> Response {
    let len = file.size;
    let etag = etag(file);
    if let Some(tags) = header_str(headers, header::IF_NONE_MATCH) {
        if matches_etag(tags, &etag) {
            let mut resp = StatusCode::NOT_MODIFIED.into_response();
            common_headers(resp.headers_mut(), &etag, modified);
            return resp;
        }
    }
    // If-Range with another validator: the client's piece is stale, send the whole file.
    let range_header = match header_str(headers, header::IF_RANGE) {
        Some(v) if v.trim() != etag => None,
        _ => header_str(headers, header::RANGE),
    };
    let resolved = range::resolve(range_header, len);
    let (status, start, end) = match resolved {
        Resolved::Full => (StatusCode::OK, 0, len.saturating_sub(1)),
        Resolved::Partial { start, end } => (StatusCode::PARTIAL_CONTENT, start, end),
        Resolved::Unsatisfiable => {
            let mut resp = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            let h = resp.headers_mut();
            insert(h, header::CONTENT_RANGE, &format!("bytes */{len}"));
            h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            return resp;
        }
    };
    let body_len = resolved.body_len(len);
    let body = match source {
        Some(source) if body_len > 0 => Body::from_stream(source.stream(start, end)),
        _ => Body::empty(),
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    common_headers(h, &etag, modified);
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(body_len));
    if status == StatusCode::PARTIAL_CONTENT {
        insert(
            h,
            header::CONTENT_RANGE,
            &format!("bytes {start}-{end}/{len}"),
        );
    }
    resp
}

fn common_headers(h: &mut HeaderMap, etag: &str, modified: SystemTime) {
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    insert(h, header::ETAG, etag);
    insert(h, header::LAST_MODIFIED, &fmt_http_date(modified));
}

/// The strong validator of a file: its SHA-1, which names its bytes exactly.
fn etag(file: &UpdateFile) -> String {
    format!("\"{}\"", file.sha1.to_hex_upper())
}

/// `If-None-Match: "a", W/"b"` or `*` (weak comparison, RFC 9110 §13.1.2).
fn matches_etag(header: &str, etag: &str) -> bool {
    header.trim() == "*"
        || header
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t.eq_ignore_ascii_case(etag))
}

/// `..`, encoded or back slashes: someone trying to step out of `/Content`.
fn looks_like_escape(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.contains("..") || lower.contains('%') || lower.contains('\\') || lower.contains("//")
}

/// The error's detail goes to the log; the client gets the status and a generic line (the
/// detail can name local paths).
fn failure(e: &content::Error) -> Response {
    use content::Error as E;
    let (status, text, retry) = match e {
        // Like a real WSUS that has not downloaded the file yet.
        E::NotOnUpstream(_) | E::Gone { .. } => (StatusCode::NOT_FOUND, "not found\n", false),
        E::Busy(_) | E::Download { .. } | E::DigestMismatch { .. } | E::Cancelled => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the file is not available yet; try again later\n",
            true,
        ),
        E::Io(_) | E::Store(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error (see the server log)\n",
            false,
        ),
    };
    tracing::warn!(cause = %e, status = status.as_u16(), "content request failed");
    let mut resp = (status, text).into_response();
    if retry {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
    }
    resp
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn insert(h: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_match_weakly_and_in_lists() {
        let tag = "\"ABC\"";
        assert!(matches_etag("\"ABC\"", tag));
        assert!(matches_etag("\"abc\"", tag), "hex digests are case-blind");
        assert!(matches_etag("W/\"ABC\"", tag));
        assert!(matches_etag("\"X\", \"ABC\"", tag));
        assert!(matches_etag("*", tag));
        assert!(!matches_etag("\"ABD\"", tag));
        assert!(!matches_etag("", tag));
    }

    #[test]
    fn escapes_are_recognised() {
        for p in [
            "/Content/../etc/passwd",
            "/Content/AB/..%2F..%2Fx",
            "/Content/AB\\x",
            "/Content//etc/passwd",
        ] {
            assert!(looks_like_escape(p), "{p}");
        }
        assert!(!looks_like_escape("/Content/AB/00.cab"));
    }
}
