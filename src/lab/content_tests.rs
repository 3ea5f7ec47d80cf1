//! The lab's `/Content` over a real socket: files of a chosen size, per-file counters, the
//! content switches (corrupt, truncate, withhold) and the rate limit.

use super::catalog::Entity;
use super::*;
use crate::xml::soap::{self, Body};
use crate::xml::{Element, Limits};
use sha1::Digest as _;

const SD: &str = "http://www.microsoft.com/SoftwareDistribution";
const DSSAUTH: &str = "http://www.microsoft.com/SoftwareDistribution/Server/DssAuthWebService";
const SS: &str = "/ServerSyncWebService/ServerSyncWebService.asmx";
const MIB: u64 = 1 << 20;

async fn start(updates: usize) -> LabServer {
    Lab::new(LabOptions {
        updates,
        ..LabOptions::default()
    })
    .start()
    .await
    .expect("lab starts")
}

/// One `/Content` answer, read to the end.
struct Got {
    status: u16,
    length: Option<u64>,
    range: Option<String>,
    body: Vec<u8>,
}

async fn send(server: &LabServer, meta: &UpdateFile, head: bool, range: Option<&str>) -> Got {
    let url = format!("{}{}", server.url, meta.content_path());
    let client = reqwest::Client::new();
    let mut req = if head {
        client.head(url)
    } else {
        client.get(url)
    };
    if let Some(r) = range {
        req = req.header("Range", r);
    }
    let resp = req.send().await.expect("request sent");
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let length = header("content-length").and_then(|v| v.parse().ok());
    let range = header("content-range");
    let status = resp.status().as_u16();
    let body = resp.bytes().await.expect("whole body").to_vec();
    Got {
        status,
        length,
        range,
        body,
    }
}

async fn get(server: &LabServer, meta: &UpdateFile, range: Option<&str>) -> Got {
    send(server, meta, false, range).await
}

/// The catalog file of plain update `i`.
fn plain_file(lab: &Lab, i: usize) -> UpdateFile {
    lab.file_meta(Entity::Plain(i).file().expect("plain updates have a file"))
}

fn sha1_of(bytes: &[u8]) -> Sha1Digest {
    Sha1Digest(sha1::Sha1::digest(bytes).into())
}

/// POST one SOAP call; the answer's body element, or its fault's ErrorCode as the error.
async fn soap_call(url: &str, path: &str, action: &str, inner: &str) -> Result<Element, String> {
    let envelope = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>{inner}</soap:Body></soap:Envelope>"#
    );
    let text = reqwest::Client::new()
        .post(format!("{url}{path}"))
        .header("Content-Type", "text/xml; charset=utf-8")
        .header("SOAPAction", format!("\"{action}\""))
        .body(envelope)
        .send()
        .await
        .expect("request sent")
        .text()
        .await
        .expect("answer");
    match soap::parse(text.as_bytes(), Limits::default()).expect("answer parses") {
        Body::Message(el) => Ok(el),
        Body::Fault(f) => Err(f.error_code.unwrap_or_default()),
    }
}

/// GetAuthorizationCookie → GetCookie: the `<cookie>` element for later calls.
async fn login(url: &str) -> String {
    let auth = soap_call(
        url,
        "/DssAuthWebService/DssAuthWebService.asmx",
        &format!("{DSSAUTH}/GetAuthorizationCookie"),
        &format!(
            r#"<GetAuthorizationCookie xmlns="{DSSAUTH}"><accountName>branch.lab.invalid</accountName><accountGuid>6f1c2f6e-3f0b-4d3a-9b1e-0d2f6a1c5e12</accountGuid></GetAuthorizationCookie>"#
        ),
    )
    .await
    .expect("authorization cookie");
    let data = auth
        .path(&["GetAuthorizationCookieResult", "CookieData"])
        .expect("CookieData")
        .text
        .clone();
    let cookie = soap_call(
        url,
        SS,
        &format!("{SD}/GetCookie"),
        &format!(
            r#"<GetCookie xmlns="{SD}"><authCookies><AuthorizationCookie><PlugInId>DssTargeting</PlugInId><CookieData>{data}</CookieData></AuthorizationCookie></authCookies><protocolVersion>1.20</protocolVersion></GetCookie>"#
        ),
    )
    .await
    .expect("cookie");
    let result = cookie.child("GetCookieResult").expect("GetCookieResult");
    format!(
        "<cookie><Expiration>{}</Expiration><EncryptedData>{}</EncryptedData></cookie>",
        result.child_text("Expiration").expect("Expiration"),
        result.child_text("EncryptedData").expect("EncryptedData")
    )
}

/// One ServerSync call with the session cookie.
async fn call(url: &str, cookie: &str, op: &str, args: &str) -> Result<Element, String> {
    soap_call(
        url,
        SS,
        &format!("{SD}/{op}"),
        &format!(r#"<{op} xmlns="{SD}">{cookie}{args}</{op}>"#),
    )
    .await
}

async fn download_files(url: &str, cookie: &str, digests: &[Sha1Digest]) -> Result<(), String> {
    let items: String = digests
        .iter()
        .map(|d| format!("<base64Binary>{}</base64Binary>", d.to_base64()))
        .collect();
    let el = call(
        url,
        cookie,
        "DownloadFiles",
        &format!("<fileDigestList>{items}</fileDigestList>"),
    )
    .await?;
    assert_eq!(el.name, "DownloadFilesResponse");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_files_are_listed_documented_and_served_whole_and_by_range() {
    let server = start(2).await;
    let lab = &server.lab;
    let size = 20 * MIB + 12_345;
    let (rev, meta) = lab.add_update_with_file(size);
    assert_eq!(meta.size, size);
    assert_eq!(lab.counts().updates, 2 + 1 + 10);

    // Listed and documented like any plain update, its file in fileUrls.
    let cookie = login(&server.url).await;
    let list = call(
        &server.url,
        &cookie,
        "GetRevisionIdList",
        "<filter><GetConfig>false</GetConfig></filter>",
    )
    .await
    .expect("list");
    let listed = list
        .path(&["GetRevisionIdListResult", "NewRevisions"])
        .expect("NewRevisions")
        .children
        .iter()
        .any(|r| r.child_text("UpdateID") == Some(&rev.update_id.to_string()));
    assert!(listed, "{rev:?} is listed");
    let data = call(
        &server.url,
        &cookie,
        "GetUpdateData",
        &format!(
            "<updateIds><UpdateIdentity><UpdateID>{}</UpdateID><RevisionNumber>{}</RevisionNumber></UpdateIdentity></updateIds>",
            rev.update_id, rev.revision
        ),
    )
    .await
    .expect("update data");
    let url_digests: Vec<&str> = data
        .path(&["GetUpdateDataResult", "fileUrls"])
        .expect("fileUrls")
        .children
        .iter()
        .filter_map(|u| u.child_text("FileDigest"))
        .collect();
    assert_eq!(url_digests, vec![meta.sha1.to_base64()]);
    let Some(Entity::Plain(index)) = lab.state().entity(lab.base(), rev) else {
        panic!("the new revision is a plain update");
    };
    let doc = documents::document(lab.base(), Entity::Plain(index), 200, Some(&meta));
    let parsed = crate::xml::update::parse(&doc).expect("document parses");
    assert_eq!(parsed.files, vec![meta.clone()]);
    assert_eq!(lab.file_meta(index as u64), meta);

    // HEAD: the size, no body.
    let head = send(&server, &meta, true, None).await;
    assert_eq!((head.status, head.length), (200, Some(size)));
    assert!(head.body.is_empty());

    // The whole body has the promised digests.
    let whole = get(&server, &meta, None).await;
    assert_eq!((whole.status, whole.body.len() as u64), (200, size));
    assert_eq!(sha1_of(&whole.body), meta.sha1);
    let sha256 = crate::model::Sha256Digest(sha2::Sha256::digest(&whole.body).into());
    assert_eq!(meta.sha256, Some(sha256));

    // Ranges from the middle (not block-aligned, straddling blocks) and the suffix are the
    // same slices of the whole body, and of `file_slice`.
    let (a, b) = (10 * MIB - 777, 11 * MIB + 4321);
    let mid = get(&server, &meta, Some(&format!("bytes={a}-{b}"))).await;
    assert_eq!(mid.status, 206);
    assert_eq!(mid.range, Some(format!("bytes {a}-{b}/{size}")));
    assert_eq!(mid.body, whole.body[a as usize..=b as usize]);
    assert_eq!(
        lab.file_slice(&meta.sha1, a, (b - a + 1) as usize),
        Some(mid.body)
    );
    let tail = get(&server, &meta, Some("bytes=-100000")).await;
    assert_eq!(tail.body, whole.body[(size - 100_000) as usize..]);
    let from = get(&server, &meta, Some(&format!("bytes={}-", size - 1))).await;
    assert_eq!(from.body, whole.body[size as usize - 1..]);
    assert_eq!(
        lab.file_slice(&meta.sha1, size - 2, 10).map(|s| s.len()),
        Some(2)
    );
    assert_eq!(lab.file_slice(&meta.sha1, size + 5, 10), Some(Vec::new()));

    // Found by digest, and the small catalog files are unchanged by it.
    let small = plain_file(lab, 1);
    assert_eq!(small, lab.base().file_meta(1));
    assert_eq!(
        get(&server, &small, None).await.body,
        lab.base().file_bytes(1)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_of_zero_and_one_byte_work() {
    let server = start(0).await;
    let lab = &server.lab;
    let (_, empty) = lab.add_update_with_file(0);
    let (_, one) = lab.add_update_with_file(1);
    let (_, two) = lab.add_update_with_file(1);
    assert_eq!((empty.size, one.size), (0, 1));
    let got = get(&server, &empty, None).await;
    assert_eq!((got.status, got.length, got.body.len()), (200, Some(0), 0));
    assert_eq!(empty.sha1, sha1_of(&[]));
    assert_eq!(get(&server, &empty, Some("bytes=0-")).await.status, 416);
    let got = get(&server, &one, None).await;
    assert_eq!((got.status, got.body.len()), (200, 1));
    assert_eq!(sha1_of(&got.body), one.sha1);
    let got = get(&server, &two, Some("bytes=0-0")).await;
    assert_eq!((got.status, sha1_of(&got.body)), (206, two.sha1));
    assert_eq!(lab.file_content(&two.sha1), Some(got.body));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_counters_follow_requests_and_streamed_bytes() {
    let server = start(3).await;
    let lab = &server.lab;
    let small = plain_file(lab, 0);
    let other = plain_file(lab, 1);
    assert_eq!(lab.content_served(&small.sha1), ContentServed::default());

    send(&server, &small, true, None).await;
    get(&server, &small, None).await;
    get(&server, &small, Some("bytes=10-19")).await;
    assert_eq!(
        get(&server, &small, Some("bytes=999999-")).await.status,
        416
    );
    lab.inject(Inject::Http500 {
        op: Some("Content".into()),
        count: 1,
    });
    assert_eq!(get(&server, &small, None).await.status, 500);
    assert_eq!(
        lab.content_served(&small.sha1),
        ContentServed {
            requests: 5,
            gets: 4,
            body_bytes: small.size + 10,
        }
    );
    // A digest nobody has is counted too (404), with no body bytes.
    let mut unknown = small.clone();
    unknown.sha1 = Sha1Digest([9; 20]);
    assert_eq!(get(&server, &unknown, None).await.status, 404);
    assert_eq!(
        lab.content_served(&unknown.sha1),
        ContentServed {
            requests: 1,
            gets: 1,
            body_bytes: 0,
        }
    );
    get(&server, &other, None).await;
    assert_eq!(lab.content_bytes_sent(), small.size + 10 + other.size);
    assert!(lab.bytes_sent() >= lab.content_bytes_sent());

    // A client that goes away mid-body is not counted for the rest.
    let (_, big) = lab.add_update_with_file(8 * MIB);
    lab.set_content_rate(Some(2 * MIB));
    let url = format!("{}{}", server.url, big.content_path());
    let mut resp = reqwest::get(url).await.expect("GET");
    let first = resp
        .chunk()
        .await
        .expect("a first piece")
        .expect("not empty");
    assert!(!first.is_empty());
    drop(resp);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after_drop = lab.content_served(&big.sha1).body_bytes;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let later = lab.content_served(&big.sha1).body_bytes;
    assert_eq!(
        later, after_drop,
        "nothing more is sent once the client left"
    );
    assert!(later < 2 * MIB, "{later} bytes counted of {}", big.size);
    server.stop().await;
}

/// Offsets where two byte strings of the same length differ.
fn differences(a: &[u8], b: &[u8]) -> Vec<usize> {
    assert_eq!(a.len(), b.len());
    (0..a.len()).filter(|i| a[*i] != b[*i]).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_content_flips_exactly_one_byte() {
    let server = start(2).await;
    let lab = &server.lab;
    let small = plain_file(lab, 0);
    let good = lab.file_content(&small.sha1).expect("file");
    lab.inject(Inject::CorruptContent {
        sha1: Some(small.sha1),
        count: 1,
    });
    // A HEAD and another file leave the switch queued.
    send(&server, &small, true, None).await;
    let other = plain_file(lab, 1);
    assert_eq!(sha1_of(&get(&server, &other, None).await.body), other.sha1);
    let bad = get(&server, &small, None).await;
    assert_eq!(bad.length, Some(small.size));
    assert_eq!(differences(&bad.body, &good), vec![good.len() / 2]);
    assert_eq!(get(&server, &small, None).await.body, good, "used up");

    // Ranges: the middle byte when inside, else the first byte of the range; any file.
    let (_, big) = lab.add_update_with_file(3 * MIB + 1);
    let mid = big.size / 2;
    lab.inject(Inject::CorruptContent {
        sha1: None,
        count: 2,
    });
    let (a, b) = (mid - 1000, mid + 1000);
    let got = get(&server, &big, Some(&format!("bytes={a}-{b}"))).await;
    let want = lab.file_slice(&big.sha1, a, 2001).expect("slice");
    assert_eq!(differences(&got.body, &want), vec![1000]);
    let got = get(&server, &big, Some("bytes=100-199")).await;
    let want = lab.file_slice(&big.sha1, 100, 100).expect("slice");
    assert_eq!(differences(&got.body, &want), vec![0]);
    let whole = get(&server, &big, None).await;
    assert_eq!(sha1_of(&whole.body), big.sha1);
    server.stop().await;
}

/// GET a file and read until the body ends or fails: (bytes received, whether it failed,
/// Content-Length, Content-Range).
async fn read_until_failure(
    server: &LabServer,
    meta: &UpdateFile,
    range: Option<&str>,
) -> (Vec<u8>, bool, Option<u64>, Option<String>) {
    let client = reqwest::Client::new();
    let mut req = client.get(format!("{}{}", server.url, meta.content_path()));
    if let Some(r) = range {
        req = req.header("Range", r);
    }
    let mut resp = req.send().await.expect("headers arrive");
    let length = resp.content_length();
    let content_range = resp
        .headers()
        .get("content-range")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(piece)) => body.extend_from_slice(&piece),
            Ok(None) => return (body, false, length, content_range),
            Err(_) => return (body, true, length, content_range),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_content_aborts_the_connection_after_n_bytes() {
    let server = start(1).await;
    let lab = &server.lab;
    let (_, big) = lab.add_update_with_file(2 * MIB);
    let whole = lab
        .file_slice(&big.sha1, 0, big.size as usize)
        .expect("file");
    lab.inject(Inject::TruncateContent {
        sha1: Some(big.sha1),
        after: 100_000,
        count: 2,
    });
    let (body, failed, length, _) = read_until_failure(&server, &big, None).await;
    assert!(
        failed,
        "the client sees a broken body, not a clean short one"
    );
    assert_eq!(length, Some(big.size), "the full length is announced");
    assert_eq!(body.len(), 100_000);
    assert_eq!(body, whole[..100_000]);
    assert_eq!(lab.content_served(&big.sha1).body_bytes, 100_000);

    // A 206 announces its whole range, and `after` counts from the range's start.
    let (body, failed, length, range) =
        read_until_failure(&server, &big, Some("bytes=1000000-")).await;
    assert!(failed);
    assert_eq!(length, Some(big.size - 1_000_000));
    assert_eq!(
        range,
        Some(format!("bytes 1000000-{}/{}", big.size - 1, big.size))
    );
    assert_eq!(body, whole[1_000_000..1_100_000]);

    // Used up: the next body is whole. A cut beyond the body sends it whole, too.
    let (body, failed, _, _) = read_until_failure(&server, &big, None).await;
    assert!(!failed);
    assert_eq!(body, whole);
    lab.inject(Inject::TruncateContent {
        sha1: None,
        after: big.size,
        count: 1,
    });
    let (body, failed, _, _) = read_until_failure(&server, &big, None).await;
    assert!(!failed);
    assert_eq!(sha1_of(&body), big.sha1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withheld_content_is_served_once_download_files_names_it() {
    let server = start(3).await;
    let lab = &server.lab;
    let file = plain_file(lab, 2);
    let other = plain_file(lab, 0);
    lab.withhold_content(file.sha1);
    lab.inject(Inject::WithholdContent { sha1: other.sha1 });
    assert_eq!(get(&server, &file, None).await.status, 404);
    assert_eq!(send(&server, &file, true, None).await.status, 404);
    assert_eq!(get(&server, &other, None).await.status, 404);

    let cookie = login(&server.url).await;
    // A DownloadFiles refused for an unknown digest releases nothing.
    let unknown = Sha1Digest([3; 20]);
    let refused = download_files(&server.url, &cookie, &[file.sha1, unknown]).await;
    assert_eq!(refused, Err("FileDigestsMissing".to_owned()));
    assert_eq!(get(&server, &file, None).await.status, 404);

    download_files(&server.url, &cookie, &[other.sha1])
        .await
        .expect("DownloadFiles");
    assert_eq!(get(&server, &file, None).await.status, 404, "not named");
    download_files(&server.url, &cookie, &[file.sha1])
        .await
        .expect("DownloadFiles");
    let got = get(&server, &file, None).await;
    assert_eq!((got.status, sha1_of(&got.body)), (200, file.sha1));
    assert_eq!(get(&server, &other, None).await.status, 200);
    assert_eq!(
        lab.download_files_requests(),
        vec![file.sha1, unknown, other.sha1, file.sha1]
    );
    assert_eq!(lab.content_served(&file.sha1).requests, 5);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_rate_slows_bodies_down() {
    let server = start(0).await;
    let lab = &server.lab;
    let (_, file) = lab.add_update_with_file(MIB);
    lab.set_content_rate(Some(4 * MIB));
    let started = std::time::Instant::now();
    let got = get(&server, &file, None).await;
    let took = started.elapsed();
    assert_eq!(sha1_of(&got.body), file.sha1);
    // 1 MiB at 4 MiB/s: 250 ms, never less than the rate allows.
    assert!(took >= Duration::from_millis(240), "{took:?}");
    // Ranges are throttled too.
    let started = std::time::Instant::now();
    let got = get(&server, &file, Some("bytes=524288-")).await;
    assert_eq!(got.body.len() as u64, MIB / 2);
    assert!(started.elapsed() >= Duration::from_millis(120));
    lab.set_content_rate(None);
    assert_eq!(sha1_of(&get(&server, &file, None).await.body), file.sha1);
    server.stop().await;
}
