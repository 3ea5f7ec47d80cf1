//! `outpost serve` at `GET`/`HEAD /Content/<XX>/<SHA1HEX>.<ext>` over real sockets
//! (wusp.md §1.5): whole files and single ranges, shaped like the answers of the real WSUS
//! to a Windows 11 client (samples/native-wua/content-headers), HEAD, validators, the path
//! rules, paths that try to step out of the cache, other methods and paths, and files that
//! are fetched on demand.

use crate::support::{replica, Served, Setup};
use outpost::model::{Sha1Digest, UpdateFile};
use outpost::store::ContentState;
use sha1::{Digest as _, Sha1};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const MIB: u64 = 1 << 20;
/// The captured 204,745,168-byte file scaled down: three full 1 MiB pieces and a last piece
/// as long as the captured final one (272,848 bytes).
const LARGE: u64 = 3 * MIB + 272_848;
/// The captured small file, which the client fetched as one exact range.
const SMALL: u64 = 918_944;
/// Real request/response headers of a Windows 11 client against WSUS 2025.
const CAPTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/protocol/samples/native-wua/content-headers"
);
/// Upper bound of any one wait (never reached when things work).
const WAIT: Duration = Duration::from_secs(30);
const CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

// ---------------------------------------------------------------- fixtures

/// A replica that has synced and cached every file, serving.
struct Cached {
    setup: Setup,
    served: Served,
    /// LARGE bytes.
    large: UpdateFile,
    /// SMALL bytes.
    small: UpdateFile,
    /// A file of the lab's catalog (a few KiB).
    catalog: UpdateFile,
}

impl Cached {
    fn bytes(&self, file: &UpdateFile) -> Vec<u8> {
        self.setup
            .lab
            .lab
            .file_content(&file.sha1)
            .expect("the lab knows the file")
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.served.url)
    }
}

async fn cached() -> Cached {
    let setup = replica(10, "all", "").await;
    let (_, large) = setup.lab.lab.add_update_with_file(LARGE);
    let (_, small) = setup.lab.lab.add_update_with_file(SMALL);
    setup.sync_all().await.expect("full sync");
    let verified = setup
        .store()
        .content_in_state(ContentState::Verified)
        .expect("cached files");
    for (what, f) in [("large", &large), ("small", &small)] {
        assert!(
            verified.iter().any(|e| e.file.sha1 == f.sha1),
            "policy \"all\" cached the {what} file"
        );
    }
    let catalog = verified
        .iter()
        .map(|e| e.file.clone())
        .find(|f| f.sha1 != large.sha1 && f.sha1 != small.sha1)
        .expect("a catalog file is cached");
    let served = setup.serve().await;
    Cached {
        setup,
        served,
        large,
        small,
        catalog,
    }
}

/// A replica with policy "on-demand" that has synced the metadata (with one file of each of
/// `sizes`) and cached nothing, serving.
async fn on_demand(sizes: &[u64]) -> (Setup, Served, Vec<UpdateFile>) {
    let setup = replica(3, "on-demand", "").await;
    let files: Vec<UpdateFile> = sizes
        .iter()
        .map(|&n| setup.lab.lab.add_update_with_file(n).1)
        .collect();
    setup.sync_all().await.expect("sync");
    let verified = setup
        .store()
        .content_in_state(ContentState::Verified)
        .expect("cached files");
    assert!(
        verified.is_empty(),
        "on-demand caches nothing while syncing"
    );
    let served = setup.serve().await;
    (setup, served, files)
}

/// Wait (bounded) until the replica holds `file` verified.
async fn wait_verified(setup: &Setup, file: &UpdateFile) {
    let store = setup.store();
    tokio::time::timeout(WAIT, async {
        loop {
            let verified = store
                .content_in_state(ContentState::Verified)
                .expect("cached files");
            if verified.iter().any(|e| e.file.sha1 == file.sha1) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{} never got cached", file.sha1.to_hex_upper()));
}

// ---------------------------------------------------------------- HTTP on the wire

/// One response: status, headers in wire order (names as sent), body.
#[derive(Debug)]
struct Raw {
    status: u16,
    /// `HTTP/1.1 206 Partial Content` (empty when read through reqwest).
    status_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Headers to compare between two answers: lower-case names, without `Date`.
    fn comparable(&self) -> Vec<(String, String)> {
        let mut h: Vec<_> = self
            .headers
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("date"))
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
            .collect();
        h.sort();
        h
    }
}

/// A keep-alive HTTP/1.1 connection writing requests byte for byte (nothing normalises
/// the target) and reading answers as framed on the wire.
struct Conn {
    io: BufReader<TcpStream>,
    /// `127.0.0.1:PORT`
    host: String,
}

impl Conn {
    async fn open(served: &Served) -> Conn {
        let host = served.url.trim_start_matches("http://").to_owned();
        let stream = tokio::time::timeout(WAIT, TcpStream::connect(&host))
            .await
            .expect("connect in time")
            .expect("connect");
        Conn {
            io: BufReader::new(stream),
            host,
        }
    }

    /// Write `request` verbatim and read one answer (without a body after a HEAD).
    async fn exchange(&mut self, request: &str, head: bool) -> Raw {
        let answer = tokio::time::timeout(WAIT, async {
            self.io.get_mut().write_all(request.as_bytes()).await?;
            read_response(&mut self.io, head).await
        })
        .await
        .unwrap_or_else(|_| panic!("no answer in time to {request:?}"));
        answer.unwrap_or_else(|e| panic!("bad answer to {request:?}: {e}"))
    }

    /// `method target` with a Host and `headers`.
    async fn send(&mut self, method: &str, target: &str, headers: &[(&str, &str)]) -> Raw {
        let mut request = format!("{method} {target} HTTP/1.1\r\nHost: {}\r\n", self.host);
        for (n, v) in headers {
            request.push_str(&format!("{n}: {v}\r\n"));
        }
        request.push_str("\r\n");
        self.exchange(&request, method == "HEAD").await
    }
}

impl Conn {
    /// Send `method target` and read the status line and headers only, leaving the body
    /// unread on the connection.
    async fn head_only(&mut self, method: &str, target: &str) -> Raw {
        let request = format!("{method} {target} HTTP/1.1\r\nHost: {}\r\n\r\n", self.host);
        tokio::time::timeout(WAIT, async {
            self.io.get_mut().write_all(request.as_bytes()).await?;
            read_response(&mut self.io, true).await
        })
        .await
        .expect("answer in time")
        .expect("well-formed response")
    }
}

/// One fresh connection, one request.
async fn once(served: &Served, method: &str, target: &str, headers: &[(&str, &str)]) -> Raw {
    Conn::open(served).await.send(method, target, headers).await
}

fn bad_data(what: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what)
}

async fn read_line(io: &mut BufReader<TcpStream>) -> std::io::Result<String> {
    let mut line = Vec::new();
    if io.read_until(b'\n', &mut line).await? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let line = String::from_utf8(line).map_err(|e| bad_data(e.to_string()))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Read one HTTP/1.1 response, its body framed by Content-Length, chunked encoding or the
/// end of the connection, as the server chose.
async fn read_response(io: &mut BufReader<TcpStream>, head: bool) -> std::io::Result<Raw> {
    let status_line = read_line(io).await?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad_data(format!("status line {status_line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let line = read_line(io).await?;
        if line.is_empty() {
            break;
        }
        let (n, v) = line
            .split_once(':')
            .ok_or_else(|| bad_data(format!("header line {line:?}")))?;
        headers.push((n.trim().to_owned(), v.trim().to_owned()));
    }
    let mut raw = Raw {
        status,
        status_line,
        headers,
        body: Vec::new(),
    };
    if head || status == 304 || status == 204 || status < 200 {
        return Ok(raw);
    }
    if raw
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        loop {
            let size = read_line(io).await?;
            let size = size.split(';').next().unwrap_or_default().trim();
            let n = usize::from_str_radix(size, 16)
                .map_err(|_| bad_data(format!("chunk size {size:?}")))?;
            if n == 0 {
                while !read_line(io).await?.is_empty() {}
                break;
            }
            let at = raw.body.len();
            raw.body.resize(at + n, 0);
            io.read_exact(&mut raw.body[at..]).await?;
            read_line(io).await?;
        }
    } else if let Some(len) = raw.header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| bad_data(format!("Content-Length {len:?}")))?;
        raw.body.resize(len, 0);
        io.read_exact(&mut raw.body).await?;
    } else {
        io.read_to_end(&mut raw.body).await?;
    }
    Ok(raw)
}

/// Send a reqwest request and take its answer apart like a raw one.
async fn fetch(req: reqwest::RequestBuilder) -> Raw {
    tokio::time::timeout(WAIT, async {
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(n, v)| {
                let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
                (n.as_str().to_owned(), v)
            })
            .collect();
        let body = resp.bytes().await.expect("body").to_vec();
        Raw {
            status,
            status_line: String::new(),
            headers,
            body,
        }
    })
    .await
    .expect("answer in time")
}

// ---------------------------------------------------------------- assertions

fn etag(file: &UpdateFile) -> String {
    format!("\"{}\"", file.sha1.to_hex_upper())
}

fn sha1_of(bytes: &[u8]) -> Sha1Digest {
    Sha1Digest::from_slice(&Sha1::digest(bytes)).expect("20 bytes")
}

/// The headers of every 200/206 with file bytes (wusp.md §1.5): exact `Content-Length`
/// (`body_len`), octet-stream, `Accept-Ranges`, the digest as a strong ETag, a
/// `Last-Modified`, immutable caching; never chunked, never compressed.
fn assert_file_headers(case: &str, r: &Raw, file: &UpdateFile, body_len: u64) {
    let want_len = body_len.to_string();
    assert_eq!(
        r.header("content-length"),
        Some(want_len.as_str()),
        "{case}: Content-Length"
    );
    assert_eq!(
        r.header("content-type"),
        Some("application/octet-stream"),
        "{case}: Content-Type"
    );
    assert_eq!(
        r.header("accept-ranges"),
        Some("bytes"),
        "{case}: Accept-Ranges"
    );
    assert_eq!(
        r.header("etag"),
        Some(etag(file).as_str()),
        "{case}: ETag is the quoted upper-case SHA-1"
    );
    let modified = r
        .header("last-modified")
        .unwrap_or_else(|| panic!("{case}: no Last-Modified"));
    httpdate::parse_http_date(modified)
        .unwrap_or_else(|e| panic!("{case}: Last-Modified {modified:?}: {e}"));
    assert_eq!(
        r.header("cache-control"),
        Some(CACHE_CONTROL),
        "{case}: Cache-Control"
    );
    assert_eq!(r.header("transfer-encoding"), None, "{case}: never chunked");
    assert_eq!(
        r.header("content-encoding"),
        None,
        "{case}: never compressed"
    );
}

/// A 206 carrying bytes `start..=end` of `full`, the bytes of `file`.
fn assert_partial(case: &str, r: &Raw, file: &UpdateFile, full: &[u8], start: u64, end: u64) {
    assert_eq!(r.status, 206, "{case}: status");
    let len = full.len() as u64;
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes {start}-{end}/{len}").as_str()),
        "{case}: Content-Range"
    );
    assert_file_headers(case, r, file, end - start + 1);
    assert!(
        r.body == full[start as usize..=end as usize],
        "{case}: body is not bytes {start}-{end} of the file ({} bytes received)",
        r.body.len()
    );
}

/// A 200 carrying the whole of `file`, whose bytes are `full`.
fn assert_whole(case: &str, r: &Raw, file: &UpdateFile, full: &[u8]) {
    assert_eq!(r.status, 200, "{case}: status");
    assert_file_headers(case, r, file, file.size);
    assert_eq!(r.body.len() as u64, file.size, "{case}: body length");
    assert_eq!(sha1_of(&r.body), file.sha1, "{case}: body SHA-1");
    assert!(r.body == full, "{case}: body is not the file");
}

// ---------------------------------------------------------------- whole files

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_get_sends_the_whole_file_with_exact_length_and_the_wsus_headers() {
    let c = cached().await;
    // Three files on one keep-alive connection, read as framed on the wire.
    let mut conn = Conn::open(&c.served).await;
    for (case, file) in [
        ("catalog file", &c.catalog),
        ("small file", &c.small),
        ("large file", &c.large),
    ] {
        let r = conn.send("GET", &file.content_path(), &[]).await;
        assert_eq!(r.status_line, "HTTP/1.1 200 OK", "{case}");
        assert_whole(case, &r, file, &c.bytes(file));
        assert_ne!(
            r.header("connection").map(str::to_ascii_lowercase),
            Some("close".into()),
            "{case}: the connection stays open"
        );
    }
    // And through an ordinary HTTP client.
    let r = fetch(reqwest::Client::new().get(c.url(&c.large.content_path()))).await;
    assert_whole("reqwest GET", &r, &c.large, &c.bytes(&c.large));

    // Clients drop connections mid-body (wusp.md §1.5); the server carries on.
    for _ in 0..3 {
        let mut conn = Conn::open(&c.served).await;
        let head = conn.head_only("GET", &c.large.content_path()).await;
        assert_eq!(head.status, 200, "GET abandoned mid-body");
        let mut some = vec![0; 1000];
        conn.io.read_exact(&mut some).await.expect("first bytes");
        assert!(some[..] == c.bytes(&c.large)[..1000], "first bytes");
    }
    let r = once(&c.served, "GET", &c.large.content_path(), &[]).await;
    assert_whole(
        "GET after clients went away",
        &r,
        &c.large,
        &c.bytes(&c.large),
    );
}

// ---------------------------------------------------------------- ranges

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_ranges_answer_206_with_exactly_the_asked_bytes() {
    let c = cached().await;
    let http = reqwest::Client::new();
    let full = c.bytes(&c.large);
    let n = LARGE;
    let url = c.url(&c.large.content_path());
    let cases: Vec<(&str, String, u64, u64)> = vec![
        ("first 1 MiB piece", "bytes=0-1048575".into(), 0, MIB - 1),
        (
            "middle piece",
            format!("bytes={}-{}", MIB, 2 * MIB - 1),
            MIB,
            2 * MIB - 1,
        ),
        (
            "final piece ending at size-1",
            format!("bytes={}-{}", 3 * MIB, n - 1),
            3 * MIB,
            n - 1,
        ),
        (
            "whole file as one range",
            format!("bytes=0-{}", n - 1),
            0,
            n - 1,
        ),
        (
            "open range",
            format!("bytes={}-", n - 1000),
            n - 1000,
            n - 1,
        ),
        ("open range from 0", "bytes=0-".into(), 0, n - 1),
        ("suffix range", "bytes=-500".into(), n - 500, n - 1),
        (
            "suffix longer than the file",
            format!("bytes=-{}", n + 10),
            0,
            n - 1,
        ),
        (
            "end past the file is clamped",
            format!("bytes={}-{}", 3 * MIB, n + MIB),
            3 * MIB,
            n - 1,
        ),
        ("first byte", "bytes=0-0".into(), 0, 0),
        ("last byte", format!("bytes={0}-{0}", n - 1), n - 1, n - 1),
        (
            "range across a 1 MiB boundary",
            format!("bytes={}-{}", MIB - 7, MIB + 6),
            MIB - 7,
            MIB + 6,
        ),
    ];
    for (case, range, start, end) in &cases {
        let r = fetch(http.get(&url).header("Range", range)).await;
        assert_partial(case, &r, &c.large, &full, *start, *end);
    }

    // The same shapes on a small catalog file.
    let small = c.bytes(&c.catalog);
    let len = small.len() as u64;
    let catalog_url = c.url(&c.catalog.content_path());
    for (case, range, start, end) in [
        ("catalog: middle", "bytes=10-19".to_owned(), 10, 19),
        (
            "catalog: whole as one range",
            format!("bytes=0-{}", len - 1),
            0,
            len - 1,
        ),
        ("catalog: open", "bytes=7-".to_owned(), 7, len - 1),
        ("catalog: suffix", "bytes=-5".to_owned(), len - 5, len - 1),
    ] {
        let r = fetch(http.get(&catalog_url).header("Range", &range)).await;
        assert_partial(case, &r, &c.catalog, &small, start, end);
    }

    // A range starting at or past the end cannot be satisfied.
    for (case, range) in [
        ("start at the end", format!("bytes={n}-")),
        ("closed range at the end", format!("bytes={n}-{}", n + 10)),
        ("start far past the end", format!("bytes={}-", n + MIB)),
    ] {
        let r = fetch(http.get(&url).header("Range", &range)).await;
        assert_eq!(r.status, 416, "{case}: status");
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes */{n}").as_str()),
            "{case}: Content-Range"
        );
        assert!(
            r.body.len() < 1024,
            "{case}: a 416 carries no file bytes ({} bytes)",
            r.body.len()
        );
    }

    // The same, read off the wire: exact framing, no chunks, and the connection carries on.
    let mut conn = Conn::open(&c.served).await;
    for (case, range, start, end) in cases.iter().take(4) {
        let r = conn
            .send("GET", &c.large.content_path(), &[("Range", range)])
            .await;
        assert_eq!(r.status_line, "HTTP/1.1 206 Partial Content", "raw {case}");
        assert_partial(&format!("raw {case}"), &r, &c.large, &full, *start, *end);
    }
    let r = conn
        .send(
            "GET",
            &c.large.content_path(),
            &[("Range", &format!("bytes={n}-"))],
        )
        .await;
    assert_eq!(r.status, 416, "raw 416");
    assert_eq!(r.header("transfer-encoding"), None, "raw 416: not chunked");
}

/// The four captured Delivery Optimization requests, sent byte for byte as captured (only
/// the path, the range scaled to a lab file and the Host changed) on one keep-alive
/// connection, answered like the captured WSUS answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_client_range_requests_get_answers_shaped_like_the_captured_ones() {
    let c = cached().await;
    let large = c.bytes(&c.large);
    let small = c.bytes(&c.small);
    let cases = [
        ("first-range-by-offset", &c.large, &large, 0, MIB - 1),
        ("middle-range", &c.large, &large, MIB, 2 * MIB - 1),
        ("final-range", &c.large, &large, 3 * MIB, LARGE - 1),
        ("whole-file-single-range", &c.small, &small, 0, SMALL - 1),
    ];
    let mut conn = Conn::open(&c.served).await;
    for (case, file, full, start, end) in cases {
        let dir = format!("{CAPTURES}/{case}");
        let captured_request = std::fs::read_to_string(format!("{dir}/request.headers"))
            .unwrap_or_else(|e| panic!("{case}: read captured request: {e}"));
        let captured = parse_captured(
            &std::fs::read_to_string(format!("{dir}/response.headers"))
                .unwrap_or_else(|e| panic!("{case}: read captured response: {e}")),
        );

        // The captured request with our path, range and host; every other line verbatim.
        let mut request = String::new();
        let mut lines = captured_request.split("\r\n");
        let first = lines.next().expect("request line");
        assert!(first.starts_with("GET /Content/"), "{case}: {first}");
        request.push_str(&format!("GET {} HTTP/1.1\r\n", file.content_path()));
        let mut seen = Vec::new();
        for line in lines.filter(|l| !l.is_empty()) {
            let (name, _) = line.split_once(": ").expect("header line");
            seen.push(name.to_owned());
            match name {
                "Range" => request.push_str(&format!("Range: bytes={start}-{end}\r\n")),
                "Host" => request.push_str(&format!("Host: {}\r\n", conn.host)),
                _ => request.push_str(&format!("{line}\r\n")),
            }
        }
        request.push_str("\r\n");
        assert_eq!(
            seen,
            [
                "Connection",
                "Accept",
                "Range",
                "User-Agent",
                "MS-CV",
                "Content-Length",
                "Host"
            ],
            "{case}: the captured request's headers"
        );
        assert!(
            request.contains("User-Agent: Microsoft-Delivery-Optimization/10.1\r\n"),
            "{case}"
        );

        let r = conn.exchange(&request, false).await;
        assert_eq!(
            r.status_line, captured.status_line,
            "{case}: status line as captured"
        );
        assert_partial(case, &r, file, full, start, end);
        for (name, value) in &captured.headers {
            if ["Server", "X-Powered-By"].contains(&name.as_str()) {
                continue;
            }
            assert!(
                r.header(name).is_some(),
                "{case}: the captured answer has {name}: {value}; ours has not ({:?})",
                r.headers
            );
        }
        for name in ["Content-Type", "Accept-Ranges", "Content-Length"] {
            assert_eq!(
                r.header(name),
                captured.header(name),
                "{case}: {name} as captured"
            );
        }
        // Same Content-Range shape: `bytes a-b/total`, the captured piece scaled.
        let (a, b, total) = content_range(captured.header("Content-Range").expect("captured"));
        assert_eq!(
            b - a + 1,
            end - start + 1,
            "{case}: the scaled piece is as long as the captured one"
        );
        let ours = content_range(r.header("Content-Range").expect("Content-Range"));
        assert_eq!(ours, (start, end, file.size), "{case}: Content-Range");
        if case == "whole-file-single-range" {
            assert_eq!(
                r.header("Content-Range"),
                captured.header("Content-Range"),
                "{case}: the very same Content-Range as the real WSUS"
            );
            assert_eq!(total, SMALL, "{case}: captured size");
        }
        let quoted = |v: &str| v.len() > 2 && v.starts_with('"') && v.ends_with('"');
        assert!(quoted(captured.header("ETag").expect("captured ETag")));
        assert!(
            quoted(r.header("ETag").expect("ETag")),
            "{case}: ETag quoted"
        );
    }
}

/// A captured response: status line and headers.
fn parse_captured(text: &str) -> Raw {
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let status_line = lines.next().expect("status line").to_owned();
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(": ").expect("header line");
            (n.to_owned(), v.to_owned())
        })
        .collect();
    Raw {
        status: status_line[9..12].parse().expect("status"),
        status_line,
        headers,
        body: Vec::new(),
    }
}

/// `bytes a-b/total`
fn content_range(v: &str) -> (u64, u64, u64) {
    let parse = || -> Option<(u64, u64, u64)> {
        let (range, total) = v.strip_prefix("bytes ")?.split_once('/')?;
        let (a, b) = range.split_once('-')?;
        Some((a.parse().ok()?, b.parse().ok()?, total.parse().ok()?))
    };
    parse().unwrap_or_else(|| panic!("Content-Range {v:?} is not `bytes a-b/total`"))
}

// ---------------------------------------------------------------- HEAD and validators

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_answers_the_get_headers_without_a_body() {
    let c = cached().await;
    let path = c.large.content_path();
    let mut conn = Conn::open(&c.served).await;
    let get = conn.send("GET", &path, &[]).await;
    let head = conn.send("HEAD", &path, &[]).await;
    assert_eq!(head.status, 200, "HEAD: status");
    assert_file_headers("HEAD", &head, &c.large, LARGE);
    assert_eq!(
        head.comparable(),
        get.comparable(),
        "HEAD: the same headers as GET"
    );
    // Had the HEAD carried a body, the next answer on this connection would be garbage.
    let range = "bytes=0-1048575";
    let head = conn.send("HEAD", &path, &[("Range", range)]).await;
    assert_eq!(head.status, 206, "HEAD with Range: status");
    assert_eq!(
        head.header("content-range"),
        Some(format!("bytes 0-1048575/{LARGE}").as_str()),
        "HEAD with Range: Content-Range"
    );
    assert_file_headers("HEAD with Range", &head, &c.large, MIB);
    let get = conn.send("GET", &path, &[("Range", range)]).await;
    assert_partial(
        "GET after HEAD with Range",
        &get,
        &c.large,
        &c.bytes(&c.large),
        0,
        MIB - 1,
    );
    assert_eq!(
        head.comparable(),
        get.comparable(),
        "HEAD with Range: the same headers as GET"
    );

    let r = fetch(reqwest::Client::new().head(c.url(&path))).await;
    assert_eq!(r.status, 200, "reqwest HEAD: status");
    assert_file_headers("reqwest HEAD", &r, &c.large, LARGE);
    assert!(r.body.is_empty(), "reqwest HEAD: no body");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_none_match_and_if_range_follow_the_etag() {
    let c = cached().await;
    let http = reqwest::Client::new();
    let file = &c.large;
    let full = c.bytes(file);
    let url = c.url(&file.content_path());
    let tag = etag(file);
    let weak = format!("W/{tag}");
    let other = "\"0123456789ABCDEF0123456789ABCDEF01234567\"";
    let list = format!("{other}, {tag}");

    for (case, value) in [
        ("If-None-Match with the ETag", tag.as_str()),
        ("If-None-Match with the weak ETag", weak.as_str()),
        ("If-None-Match with a list holding the ETag", list.as_str()),
        ("If-None-Match: *", "*"),
    ] {
        let r = fetch(http.get(&url).header("If-None-Match", value)).await;
        assert_eq!(r.status, 304, "{case}: status");
        assert!(r.body.is_empty(), "{case}: no body");
        assert_eq!(r.header("etag"), Some(tag.as_str()), "{case}: ETag");
    }
    let r = fetch(
        http.get(&url)
            .header("If-None-Match", &tag)
            .header("Range", "bytes=0-9"),
    )
    .await;
    assert_eq!(r.status, 304, "If-None-Match wins over Range");

    let r = fetch(http.get(&url).header("If-None-Match", other)).await;
    assert_whole("If-None-Match with another tag", &r, file, &full);

    // A 304 read off the wire has no body: the next answer on the connection is intact.
    let mut conn = Conn::open(&c.served).await;
    let r = conn
        .send("GET", &file.content_path(), &[("If-None-Match", &tag)])
        .await;
    assert_eq!(r.status, 304, "raw If-None-Match");
    assert_eq!(r.header("transfer-encoding"), None, "raw 304: not chunked");
    let r = conn
        .send("GET", &file.content_path(), &[("Range", "bytes=0-99")])
        .await;
    assert_partial("GET after a 304", &r, file, &full, 0, 99);

    // If-Range: the range only while the client's validator is current.
    let r = fetch(
        http.get(&url)
            .header("If-Range", &tag)
            .header("Range", "bytes=100-199"),
    )
    .await;
    assert_partial("If-Range with the ETag", &r, file, &full, 100, 199);
    for (case, value) in [
        ("If-Range with another ETag", other.to_owned()),
        ("If-Range with the weak ETag", weak.clone()),
        (
            "If-Range with a date",
            "Wed, 02 Sep 2026 08:30:53 GMT".into(),
        ),
    ] {
        let r = fetch(
            http.get(&url)
                .header("If-Range", &value)
                .header("Range", "bytes=100-199"),
        )
        .await;
        assert_whole(case, &r, file, &full);
    }
}

// ---------------------------------------------------------------- paths and methods

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_are_case_blind_and_everything_else_is_404_or_405() {
    let c = cached().await;
    let http = reqwest::Client::new();
    let file = &c.catalog;
    let full = c.bytes(file);
    let hex = file.sha1.to_hex_upper();
    let lower = hex.to_ascii_lowercase();
    let folder = &hex[38..];
    let ext = file.extension();
    assert!(!ext.is_empty(), "catalog files have an extension");

    for (case, path) in [
        ("as advertised", file.content_path()),
        (
            "lower case",
            format!("/content/{}/{lower}{}", &lower[38..], ext.to_lowercase()),
        ),
        (
            "upper case",
            format!("/CONTENT/{folder}/{hex}{}", ext.to_uppercase()),
        ),
        (
            "another extension",
            format!("/content/{}/{lower}.cab", &lower[38..]),
        ),
    ] {
        let r = fetch(http.get(c.url(&path))).await;
        assert_whole(&format!("{case} ({path})"), &r, file, &full);
    }

    let other_folder = if folder == "00" { "01" } else { "00" };
    // The first two digits, unless they happen to be the last two as well.
    let first_folder = if hex[..2] == *folder {
        other_folder
    } else {
        &hex[..2]
    };
    let unknown = format!("{}{folder}", "0".repeat(38));
    assert_ne!(unknown, hex);
    for (case, path) in [
        (
            "folder not the last two digits",
            format!("/Content/{other_folder}/{hex}{ext}"),
        ),
        (
            "folder of the first two digits",
            format!("/Content/{first_folder}/{hex}{ext}"),
        ),
        ("unknown digest", format!("/Content/{folder}/{unknown}.exe")),
        (
            "digest too short",
            format!("/Content/{folder}/{}.exe", &hex[2..]),
        ),
        ("no file name", format!("/Content/{folder}/")),
        ("content root", "/Content/".to_owned()),
        ("content without slash", "/Content".to_owned()),
        ("site root", "/".to_owned()),
        (
            "client web service",
            "/ClientWebService/client.asmx".to_owned(),
        ),
        ("self-update", "/selfupdate/wuident.cab".to_owned()),
    ] {
        for method in [reqwest::Method::GET, reqwest::Method::HEAD] {
            let r = fetch(http.request(method.clone(), c.url(&path))).await;
            assert_eq!(r.status, 404, "{method} {case} ({path})");
            assert!(
                r.header("content-range").is_none() && r.header("etag").is_none(),
                "{method} {case}: no file headers"
            );
        }
    }

    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        for path in [
            file.content_path(),
            format!("/Content/{folder}/{unknown}.exe"),
        ] {
            let r = fetch(http.request(method.clone(), c.url(&path)).body("x")).await;
            assert_eq!(r.status, 405, "{method} {path}");
            assert_eq!(
                r.header("allow"),
                Some("GET, HEAD"),
                "{method} {path}: Allow"
            );
            let probe = &full[..full.len().min(16)];
            assert!(
                !r.body.windows(probe.len()).any(|w| w == probe),
                "{method} {path}: no file bytes"
            );
        }
    }
    // A refused upload left the file as it was.
    let r = fetch(http.get(c.url(&file.content_path()))).await;
    assert_whole("GET after refused methods", &r, file, &full);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_stepping_out_of_the_cache_are_refused_without_leaking_bytes() {
    let c = cached().await;
    let db = c.setup.data_dir().join(outpost::store::DB_FILE);
    let head = std::fs::read(&db).expect("the replica's database");
    assert!(
        head.starts_with(b"SQLite format 3"),
        "{} is the database to protect",
        db.display()
    );
    let hex = c.catalog.sha1.to_hex_upper();
    let folder = &hex[38..];
    let ext = c.catalog.extension();
    let data_dir = c.setup.data_dir().display().to_string();
    let long_name = format!("/Content/{folder}/{}.cab", "A".repeat(8_000));
    let deep = format!("/Content/{}outpost.db", "../".repeat(2_000));
    let absolute_form = format!(
        "http://{}/Content/../outpost.db",
        Conn::open(&c.served).await.host
    );
    let targets = [
        "/Content/../outpost.db".to_owned(),
        "/Content/../../outpost.toml".to_owned(),
        format!("/Content/{folder}/../../outpost.db"),
        format!("/Content/{folder}/..%2F..%2Foutpost.db"),
        format!("/Content/{folder}/..%2f..%2foutpost.db"),
        format!("/Content/{folder}/%2e%2e%2f%2e%2e%2foutpost.db"),
        "/Content/%2e%2e/%2e%2e/etc/passwd".to_owned(),
        "/Content/%2e%2e/outpost.db".to_owned(),
        "/Content/%2E%2E/%2E%2E/%2E%2E/%2E%2E/%2E%2E/etc/passwd".to_owned(),
        format!("/Content/{folder}/..\\..\\outpost.db"),
        "/Content\\..\\outpost.db".to_owned(),
        "/Content/..\\outpost.db".to_owned(),
        format!("/Content/{folder}/%5c..%5c..%5coutpost.db"),
        "/Content//etc/passwd".to_owned(),
        format!("/Content/{folder}//etc/passwd"),
        "//Content/../outpost.db".to_owned(),
        format!("/Content/{folder}/{data_dir}/outpost.db"),
        format!("/Content/{folder}{data_dir}/outpost.db"),
        format!("/Content/{folder}/{hex}{ext}/../../../outpost.db"),
        format!("/Content/{folder}/{hex}{ext}%2f..%2f..%2f..%2foutpost.db"),
        format!("/Content/{folder}/{hex}%00{ext}"),
        format!("/Content/{folder}/{hex}.db/../../../outpost.db"),
        "/Content/C:/Windows/win.ini".to_owned(),
        "/Content/AB/C:%5cWindows%5cwin.ini".to_owned(),
        absolute_form,
        long_name,
        deep,
    ];
    for target in &targets {
        let case: String = target.chars().take(120).collect();
        for method in ["GET", "HEAD"] {
            let r = once(&c.served, method, target, &[]).await;
            assert!(
                r.status == 400 || r.status == 404,
                "{method} {case}: status {} (want 400 or 404)",
                r.status
            );
            for secret in [&b"SQLite format"[..], b"root:", b"[storage]", b"data_dir"] {
                assert!(
                    !r.body.windows(secret.len()).any(|w| w == secret),
                    "{method} {case}: the answer leaks {:?}",
                    String::from_utf8_lossy(secret)
                );
            }
            assert!(
                r.body.len() < 1024,
                "{method} {case}: {} bytes of body for a refusal",
                r.body.len()
            );
            assert!(
                r.header("etag").is_none() && r.header("content-range").is_none(),
                "{method} {case}: no file headers"
            );
        }
    }
    // The database was not touched.
    assert_eq!(&std::fs::read(&db).expect("database")[..16], &head[..16]);
}

// ---------------------------------------------------------------- on demand

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_not_cached_is_fetched_on_demand_once_and_then_served_from_the_cache() {
    let (setup, served, files) = on_demand(&[2 * MIB + 12_345, 2 * MIB, MIB + 1]).await;
    let lab = &setup.lab.lab;
    let file = &files[0];
    let full = lab.file_content(&file.sha1).expect("lab file");
    assert_eq!(
        lab.content_served(&file.sha1).gets,
        0,
        "nothing fetched yet"
    );

    // The first GET tails the download: still the exact length, still not chunked.
    let mut conn = Conn::open(&served).await;
    let r = conn.send("GET", &file.content_path(), &[]).await;
    assert_eq!(r.status, 200, "on-demand GET: status");
    assert_eq!(
        r.header("content-length"),
        Some(file.size.to_string().as_str()),
        "on-demand GET: Content-Length"
    );
    assert_eq!(
        r.header("transfer-encoding"),
        None,
        "on-demand GET: never chunked"
    );
    assert_eq!(
        r.header("content-type"),
        Some("application/octet-stream"),
        "on-demand GET: Content-Type"
    );
    assert_eq!(
        r.header("etag"),
        Some(etag(file).as_str()),
        "on-demand GET: ETag"
    );
    assert_eq!(sha1_of(&r.body), file.sha1, "on-demand GET: body SHA-1");
    assert!(r.body == full, "on-demand GET: body is the file");
    assert_eq!(
        lab.content_served(&file.sha1).gets,
        1,
        "one upstream GET for the miss"
    );

    wait_verified(&setup, file).await;
    let r = conn.send("GET", &file.content_path(), &[]).await;
    assert_whole("GET of the now cached file", &r, file, &full);
    let r = fetch(
        reqwest::Client::new()
            .get(format!("{}{}", served.url, file.content_path()))
            .header("Range", "bytes=1048576-2097151"),
    )
    .await;
    assert_partial(
        "range GET of the now cached file",
        &r,
        file,
        &full,
        MIB,
        2 * MIB - 1,
    );
    assert_eq!(
        lab.content_served(&file.sha1).gets,
        1,
        "later GETs are served from the cache, without another upstream GET"
    );

    // A client that goes away mid-download does not stop it: the file still gets cached,
    // from the one upstream GET.
    let abandoned = &files[1];
    lab.set_content_rate(Some(512 << 10));
    {
        let mut conn = Conn::open(&served).await;
        let head = conn.head_only("GET", &abandoned.content_path()).await;
        assert_eq!(head.status, 200, "abandoned on-demand GET: status");
        let mut some = vec![0; 1000];
        conn.io.read_exact(&mut some).await.expect("first bytes");
    }
    lab.set_content_rate(None);
    wait_verified(&setup, abandoned).await;
    assert_eq!(
        lab.content_served(&abandoned.sha1).gets,
        1,
        "the abandoned download went on (one upstream GET)"
    );
    let r = once(&served, "GET", &abandoned.content_path(), &[]).await;
    let want = lab.file_content(&abandoned.sha1).expect("lab file");
    assert_whole("GET of the file a client abandoned", &r, abandoned, &want);

    // Clients missing the same file at once share one upstream download.
    let shared = &files[2];
    let want = lab.file_content(&shared.sha1).expect("lab file");
    lab.set_content_rate(Some(4 << 20));
    let http = reqwest::Client::new();
    let url = format!("{}{}", served.url, shared.content_path());
    let answers = futures_util::future::join_all((0..4).map(|_| fetch(http.get(&url)))).await;
    lab.set_content_rate(None);
    for (i, r) in answers.iter().enumerate() {
        assert_eq!(r.status, 200, "concurrent miss {i}: status");
        assert!(r.body == want, "concurrent miss {i}: body is the file");
    }
    assert_eq!(
        lab.content_served(&shared.sha1).gets,
        1,
        "concurrent misses: one upstream GET"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_on_a_file_not_cached_answers_from_the_metadata_and_starts_the_fetch() {
    let (setup, served, files) = on_demand(&[MIB + 4_321, 2 * MIB]).await;
    let lab = &setup.lab.lab;
    let mut conn = Conn::open(&served).await;

    for (case, file, range) in [
        ("HEAD", &files[0], None),
        ("HEAD with Range", &files[1], Some("bytes=0-1048575")),
    ] {
        let headers: Vec<(&str, &str)> = range.iter().map(|r| ("Range", *r)).collect();
        let r = conn.send("HEAD", &file.content_path(), &headers).await;
        let want_len = if range.is_some() { MIB } else { file.size };
        assert_eq!(
            r.status,
            if range.is_some() { 206 } else { 200 },
            "{case}: status"
        );
        assert_eq!(
            r.header("content-length"),
            Some(want_len.to_string().as_str()),
            "{case}: Content-Length from the metadata"
        );
        if range.is_some() {
            assert_eq!(
                r.header("content-range"),
                Some(format!("bytes 0-1048575/{}", file.size).as_str()),
                "{case}: Content-Range"
            );
        }
        assert_eq!(r.header("etag"), Some(etag(file).as_str()), "{case}: ETag");
        assert_eq!(
            r.header("accept-ranges"),
            Some("bytes"),
            "{case}: Accept-Ranges"
        );
        assert_eq!(
            r.header("content-type"),
            Some("application/octet-stream"),
            "{case}: Content-Type"
        );

        // The HEAD started the download.
        tokio::time::timeout(WAIT, async {
            while lab.content_served(&file.sha1).gets < 1 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{case}: no upstream GET after the HEAD"));
        wait_verified(&setup, file).await;
    }

    // No body came after the HEADs (the connection still frames answers), and the files are
    // served from the cache without fetching them again.
    for file in &files {
        let full = lab.file_content(&file.sha1).expect("lab file");
        let r = conn.send("GET", &file.content_path(), &[]).await;
        assert_whole("GET after HEAD", &r, file, &full);
        assert_eq!(
            lab.content_served(&file.sha1).gets,
            1,
            "one upstream GET per file"
        );
    }
}

/// An empty update file (size 0, SHA-1 DA39A3EE…) is served like any other: 200 with
/// `Content-Length: 0` every time, and cached once fetched (cacache cannot preallocate 0
/// bytes, which once left such files uncached).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_file_is_served_and_cached() {
    let (setup, served, files) = on_demand(&[0]).await;
    let file = &files[0];
    assert_eq!(file.sha1, sha1_of(b""), "the lab's empty file");
    let mut conn = Conn::open(&served).await;
    for case in ["first GET", "second GET"] {
        let r = conn.send("GET", &file.content_path(), &[]).await;
        assert_eq!(
            r.status,
            200,
            "{case}: status ({:?})",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(
            r.header("content-length"),
            Some("0"),
            "{case}: Content-Length"
        );
        assert!(r.body.is_empty(), "{case}: body");
    }
    wait_verified(&setup, file).await;
    let r = conn.send("GET", &file.content_path(), &[]).await;
    assert_whole("GET of the cached empty file", &r, file, &[]);
    let r = conn
        .send("GET", &file.content_path(), &[("Range", "bytes=0-")])
        .await;
    assert_eq!(r.status, 416, "any range of an empty file");
    assert_eq!(r.header("content-range"), Some("bytes */0"));
}

/// A HEAD on a file not cached yet evaluates the validators like one on a cached file
/// (RFC 9110 §13.2): a matching If-None-Match is 304, an If-Range with another validator
/// drops the Range.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_on_a_file_not_cached_honours_the_validators() {
    let (_setup, served, files) = on_demand(&[MIB, MIB]).await;
    let mut conn = Conn::open(&served).await;
    let tag = etag(&files[0]);
    let r = conn
        .send("HEAD", &files[0].content_path(), &[("If-None-Match", &tag)])
        .await;
    assert_eq!(r.status, 304, "HEAD with a matching If-None-Match");
    let r = conn
        .send(
            "HEAD",
            &files[1].content_path(),
            &[("If-Range", "\"OTHER\""), ("Range", "bytes=0-9")],
        )
        .await;
    assert_eq!(r.status, 200, "HEAD with If-Range of another validator");
}
