//! The MS-WSUSSS client against real WSUS 2025 answers (`samples/real-wsusss`): every recorded
//! response goes through the pure parsers, the blobs decode to `docs/` byte for byte, and the
//! same bodies are replayed over a real socket to the `Client` (handshake, calls, re-auth,
//! retries, malformed answers).

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use outpost::model::{RevisionId, UpdateKind};
use outpost::upstream::{messages, Client, Error, Options, RetryPolicy, RevisionFilter};
use outpost::xml::soap::{self, Body, Fault};
use outpost::xml::{self, Element, Limits};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

const SAMPLES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/protocol/samples/real-wsusss"
);
const SD: &str = "http://www.microsoft.com/SoftwareDistribution/";
const SERVER_SYNC_PATH: &str = "/ServerSyncWebService/ServerSyncWebService.asmx";
const DSS_AUTH_PATH: &str = "/DssAuthWebService/DssAuthWebService.asmx";
/// The Expiration of the recorded cookie (already in the past when these tests run).
const RECORDED_EXPIRATION: &str = "2026-10-04T20:33:26.65455Z";

struct Exchange {
    n: u32,
    action: String,
    status: u16,
    response: Vec<u8>,
}

impl Exchange {
    /// `GetRevisionIdList` from the SOAPAction.
    fn op(&self) -> &str {
        self.action.rsplit('/').next().unwrap_or_default()
    }
}

fn exchanges() -> Vec<Exchange> {
    let dir = Path::new(SAMPLES).join("exchanges");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_dir() {
            continue;
        }
        let meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path.join("meta.json")).unwrap()).unwrap();
        out.push(Exchange {
            n: meta["exchange"].as_u64().unwrap() as u32,
            action: meta["soap_action"].as_str().unwrap().to_owned(),
            status: meta["status"].as_u64().unwrap() as u16,
            response: std::fs::read(path.join("response.body")).unwrap(),
        });
    }
    out.sort_by_key(|e| e.n);
    assert_eq!(out.len(), 19, "all real exchanges present");
    out
}

fn exchange(n: u32) -> Exchange {
    exchanges().into_iter().find(|e| e.n == n).unwrap()
}

fn message(body: &[u8]) -> Element {
    match soap::parse(body, Limits::default()).unwrap() {
        Body::Message(el) => el,
        Body::Fault(f) => panic!("unexpected fault {f}"),
    }
}

fn doc_path(id: &RevisionId) -> PathBuf {
    Path::new(SAMPLES)
        .join("docs")
        .join(format!("{}-r{}.xml", id.update_id, id.revision))
}

fn guid(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap()
}

// ----------------------------------------------------------------------------------------
// Pure parsers over every recorded answer.

#[test]
fn every_recorded_answer_parses_with_its_parser() {
    let mut seen = BTreeMap::new();
    for ex in exchanges() {
        let parsed = soap::parse(&ex.response, Limits::default()).unwrap();
        if let Body::Fault(fault) = parsed {
            assert_eq!(ex.status, 500, "{}: faults come with HTTP 500", ex.n);
            check_fault(ex.n, static_op(ex.op()), fault);
            *seen.entry("fault").or_insert(0) += 1;
            continue;
        }
        assert_eq!(ex.status, 200, "{}", ex.n);
        let Body::Message(el) = parsed else {
            unreachable!()
        };
        assert_eq!(el.name, format!("{}Response", ex.op()), "{}", ex.n);
        match ex.op() {
            "GetAuthConfig" => {
                let url = messages::parse_auth_config(&el).unwrap();
                assert_eq!(url, "DssAuthWebService/DssAuthWebService.asmx");
            }
            "GetAuthorizationCookie" => {
                assert_eq!(ex.action, messages::GET_AUTHORIZATION_COOKIE.action);
                let ac = messages::parse_authorization_cookie(&el).unwrap();
                assert_eq!(ac.plugin_id.as_deref(), Some("DssTargeting"));
                assert_eq!(ac.cookie_data.unwrap().len(), 576);
            }
            "GetCookie" => {
                let c = messages::parse_cookie(&el).unwrap();
                assert_eq!(c.expiration, RECORDED_EXPIRATION);
                assert_eq!(c.encrypted_data.unwrap().len(), 280);
                assert_eq!(
                    (c.expires.year(), c.expires.hour(), c.expires.minute()),
                    (2026, 20, 33)
                );
            }
            "GetConfigData" => check_config(ex.n, &el),
            "GetRevisionIdList" => check_revision_list(ex.n, &el),
            "GetUpdateData" => check_update_data(ex.n, &el),
            other => panic!("{}: unexpected operation {other}", ex.n),
        }
        *seen.entry(static_op(ex.op())).or_insert(0) += 1;
    }
    let expected = BTreeMap::from([
        ("GetAuthConfig", 1),
        ("GetAuthorizationCookie", 1),
        ("GetCookie", 1),
        ("GetConfigData", 2),
        ("GetRevisionIdList", 7),
        ("GetUpdateData", 4),
        ("fault", 3),
    ]);
    assert_eq!(seen, expected);
}

/// Operation names as the `&'static str` that `Error` carries.
fn static_op(name: &str) -> &'static str {
    [
        messages::GET_AUTH_CONFIG,
        messages::GET_AUTHORIZATION_COOKIE,
        messages::GET_COOKIE,
        messages::GET_CONFIG_DATA,
        messages::GET_REVISION_ID_LIST,
        messages::GET_UPDATE_DATA,
    ]
    .iter()
    .map(|op| op.name)
    .find(|n| *n == name)
    .unwrap_or_else(|| panic!("unexpected operation {name}"))
}

fn check_config(n: u32, el: &Element) {
    let c = messages::parse_config_data(el).unwrap();
    assert!(!c.catalog_only_sync && c.lazy_sync && !c.server_hosts_psf_files);
    assert_eq!(c.max_updates_per_request, 100);
    assert_eq!(c.max_updates_per_decryption_request, 100);
    assert_eq!(c.protocol_version.as_deref(), Some("1.20"));
    match n {
        4 => {
            assert!(c.languages.is_empty(), "current configAnchor ⇒ no delta");
            assert_eq!(
                c.new_config_anchor.as_deref(),
                Some("9438,2026-10-04 16:33:26.668")
            );
        }
        5 => {
            assert_eq!(
                c.new_config_anchor.as_deref(),
                Some("9438,2026-10-04 16:33:26.670")
            );
            assert_eq!(c.languages.len(), 39);
            let all = &c.languages[0];
            assert_eq!((all.id, all.short.as_str(), all.enabled), (0, "all", false));
            let enabled: Vec<_> = c.languages.iter().filter(|l| l.enabled).collect();
            assert_eq!(enabled.len(), 1);
            assert_eq!(
                (
                    enabled[0].id,
                    enabled[0].short.as_str(),
                    enabled[0].long.as_str()
                ),
                (1033, "en", "English")
            );
            // LCIDs above 16 bits and region-qualified short names survive.
            assert!(c.languages.iter().any(|l| l.id == 66577));
            assert!(c.languages.iter().any(|l| l.short == "zh-tw"));
        }
        _ => panic!("{n}: unexpected GetConfigData"),
    }
}

fn check_revision_list(n: u32, el: &Element) {
    let list = messages::parse_revision_id_list(el).unwrap();
    let expected_anchor = match n {
        6 => "9438,2026-10-04 16:33:26.671",
        7 => "9438,2026-10-04 16:33:26.734",
        9 => "9438,2026-10-04 16:33:26.750",
        10 => "9438,2026-10-04 16:33:26.799",
        12 => "9438,2026-10-04 16:33:26.850",
        _ => "",
    };
    if !expected_anchor.is_empty() {
        assert_eq!(list.anchor, expected_anchor, "{n}");
    }
    assert!(list.anchor.starts_with("9438,2026-10-04 16:33:26."), "{n}");
    match n {
        6 => {
            assert_eq!(list.revisions.len(), 30);
            let critical = guid("e6cf1350-c01b-414d-a61f-263d14d133b4");
            // Several revisions of one UpdateID, unsorted, all kept as distinct pairs.
            assert_eq!(list.revisions[0], RevisionId::new(critical, 100));
            assert_eq!(list.revisions[1], RevisionId::new(critical, 1));
            let pairs: HashSet<_> = list.revisions.iter().collect();
            let ids: HashSet<_> = list.revisions.iter().map(|r| r.update_id).collect();
            assert_eq!(pairs.len(), 30);
            assert_eq!(
                list.revisions.len() - ids.len(),
                14,
                "14 repeated UpdateIDs"
            );
            assert!(list.revisions.contains(&RevisionId::new(
                guid("56309036-4c77-4dd9-951a-99ee9c246a94"),
                101
            )));
        }
        9 | 10 => {
            assert_eq!(list.revisions.len(), 30);
            assert_eq!(
                list.revisions[0],
                RevisionId::new(guid("8c55755c-2b9d-48cc-be8b-aedbf20911ec"), 201)
            );
        }
        7 | 8 | 11 | 12 => assert!(list.revisions.is_empty(), "{n}"),
        _ => panic!("{n}: unexpected GetRevisionIdList"),
    }
}

fn check_update_data(n: u32, el: &Element) {
    let batch = messages::parse_update_data(el).unwrap();
    assert_eq!(batch.updates.len(), 1, "{n}");
    let u = &batch.updates[0];
    let (id, compressed) = match n {
        13 => ("a2fef9b0-7951-4c2c-a42b-9e351dd1c1fe", true),
        14 => ("266f6222-c89d-43f2-9f8a-69340271e677", true),
        15 => ("ccb78947-6453-4ecc-9de8-bc0305c98f2d", false),
        16 => ("56309036-4c77-4dd9-951a-99ee9c246a94", true),
        _ => panic!("{n}: unexpected GetUpdateData"),
    };
    assert_eq!(u.id.update_id, guid(id));
    assert_eq!(u.compressed, compressed, "{n}");
    let expected = std::fs::read(doc_path(&u.id)).unwrap();
    assert!(
        u.xml.as_bytes() == expected.as_slice(),
        "{n}: decoded document differs from docs/{}-r{}.xml",
        u.id.update_id,
        u.id.revision
    );
    let doc = xml::update::parse(&u.xml).unwrap();
    assert_eq!(doc.id, u.id);
    if n == 14 {
        let digest =
            outpost::model::Sha1Digest::from_base64("h/W9BGlYUAaqXTp30cZi/SiV3c0=").unwrap();
        assert_eq!(u.file_digests, [digest]);
        assert_eq!(batch.file_urls.len(), 1);
        assert_eq!(batch.file_urls[0].digest, digest);
        assert_eq!(
            batch.file_urls[0].mu_url.as_deref(),
            Some("http://download.windowsupdate.com/c/msdownload/update/software/defu/2026/10/am_delta_87f5bd0469585006aa5d3a77d1c662fd2895ddcd.exe")
        );
        assert_eq!(doc.files.len(), 1);
        assert_eq!(doc.files[0].sha1, digest);
    } else {
        assert!(u.file_digests.is_empty(), "{n}");
        assert!(batch.file_urls.is_empty(), "{n}: <fileUrls />");
    }
}

fn check_fault(n: u32, op: &'static str, fault: Fault) {
    let (code, soap_code, msg) = match n {
        17 => ("InternalServerError", "Server", ""),
        18 => ("InvalidParameters", "Client", "filter"),
        19 => ("InvalidCookie", "Client", ""),
        _ => panic!("{n}: unexpected fault"),
    };
    assert_eq!(fault.error_code.as_deref(), Some(code), "{n}");
    assert_eq!(fault.code, soap_code, "{n}");
    assert_eq!(fault.message.as_deref(), Some(msg), "{n}");
    assert_eq!(fault.string, "Fault occurred");
    assert_eq!(
        fault.method.as_deref(),
        Some(format!("\"{SD}{op}\"").as_str())
    );
    let err = Error::Fault {
        op,
        fault: Box::new(fault),
    };
    assert!(!err.is_retryable(), "{n}: {err}");
    assert_eq!(err.fault_code(), Some(code));
    assert_eq!(err.operation(), op);
    if n == 18 {
        assert_eq!(
            err.to_string(),
            "GetRevisionIdList: upstream fault InvalidParameters (filter)"
        );
    }
}

#[test]
fn every_real_document_parses() {
    let dir = Path::new(SAMPLES).join("docs");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let doc = xml::update::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            name,
            format!("{}-r{}.xml", doc.id.update_id, doc.id.revision),
            "the document names itself"
        );
        count += 1;
    }
    assert_eq!(count, 9);

    let read = |name: &str| {
        let text = std::fs::read_to_string(Path::new(SAMPLES).join("docs").join(name)).unwrap();
        (xml::update::parse(&text).unwrap(), text)
    };
    let (leaf, _) = read("266f6222-c89d-43f2-9f8a-69340271e677-r200.xml");
    assert_eq!(leaf.kind, UpdateKind::Software);
    assert_eq!(leaf.files.len(), 1);
    assert_eq!(leaf.files[0].name, "AM_Delta.exe");
    assert!(leaf.files[0].sha256.is_some());
    assert_eq!(
        leaf.files[0].content_path(),
        "/Content/CD/87F5BD0469585006AA5D3A77D1C662FD2895DDCD.exe"
    );

    let (kb, _) = read("a2fef9b0-7951-4c2c-a42b-9e351dd1c1fe-r200.xml");
    assert_eq!(kb.kind, UpdateKind::Software);
    assert!(kb.files.is_empty());
    assert_eq!(kb.bundled.len(), 124, "KB2267602: 4 AtLeastOne groups");
    assert!(kb.bundled.iter().all(|b| b.revision == 200));
    assert!(kb.category_ids().next().is_some());

    let (hidden, _) = read("ccb78947-6453-4ecc-9de8-bc0305c98f2d-r200.xml");
    assert_eq!(hidden.bundled.len(), 4);
    assert!(hidden.files.is_empty());
    // Its product and classification are in plain AtLeastOne groups (no IsCategory).
    assert_eq!(hidden.category_ids().count(), 0);
    assert_eq!(hidden.prerequisites.len(), 2);

    let (company, text) = read("56309036-4c77-4dd9-951a-99ee9c246a94-r101.xml");
    assert_eq!(company.kind, UpdateKind::Category("Company".into()));
    assert!(text.contains(r#"UpdateID="56309036-4C77-4DD9-951A-99EE9C246A94""#));
    assert_eq!(
        company.id.update_id,
        guid("56309036-4c77-4dd9-951a-99ee9c246a94")
    );
    assert!(company.prerequisites.is_empty());

    let (family, _) = read("6964aab4-c5b5-43bd-a17d-ffb4346a8e1d-r100.xml");
    assert_eq!(family.kind, UpdateKind::Category("ProductFamily".into()));
    let (product, _) = read("dd78b8a1-0b20-45c1-add6-4da72e9364cf-r202.xml");
    assert_eq!(product.kind, UpdateKind::Category("Product".into()));
    assert_eq!(
        product.category_ids().collect::<Vec<_>>(),
        [family.id.update_id]
    );
}

#[test]
fn damaged_real_lzx_cabinets_fail_cleanly() {
    let body = exchange(16).response;
    let el = message(&body);
    let blob = el.find("XmlUpdateBlobCompressed").unwrap().text.clone();
    use base64::Engine;
    let cab = base64::engine::general_purpose::STANDARD
        .decode(blob.trim())
        .unwrap();
    assert!(cab.starts_with(b"MSCF"));
    let good = outpost::upstream::decode_compressed_blob(&blob).unwrap();
    assert!(good.starts_with("<upd:Update xmlns:pub="));
    let enc = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    for len in (0..cab.len()).step_by(7) {
        assert!(outpost::upstream::decode_compressed_blob(&enc(&cab[..len])).is_err());
    }
    for i in 0..cab.len() {
        let mut bad = cab.clone();
        bad[i] ^= 0x5A;
        // Must not panic; a flip in the LZX payload may still decode to something.
        let _ = outpost::upstream::decode_compressed_blob(&enc(&bad));
    }
}

// ----------------------------------------------------------------------------------------
// The same answers over a real socket.

#[derive(Debug, Clone)]
struct Seen {
    path: String,
    soap_action: String,
    content_type: String,
    accept_encoding: String,
    body: String,
}

impl Seen {
    fn op(&self) -> &str {
        self.soap_action
            .trim_matches('"')
            .rsplit('/')
            .next()
            .unwrap_or_default()
    }

    fn element(&self) -> Element {
        message(self.body.as_bytes())
    }
}

struct Reply {
    status: u16,
    body: Vec<u8>,
    delay: Duration,
}

impl Reply {
    fn ok(body: Vec<u8>) -> Self {
        Self {
            status: 200,
            body,
            delay: Duration::ZERO,
        }
    }

    fn status(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            body: body.into(),
            delay: Duration::ZERO,
        }
    }
}

type Responder = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

/// A replay server on 127.0.0.1:0. `respond` gets each request and how many requests of
/// the same operation came before it.
struct Replay {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Replay {
    async fn start(respond: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Self {
        let respond: Arc<Responder> = Arc::new(respond);
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let log = seen.clone();
        let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let respond = respond.clone();
            let log = log.clone();
            async move {
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned()
                };
                let req = Seen {
                    path: uri.path().to_owned(),
                    soap_action: header("soapaction"),
                    content_type: header("content-type"),
                    accept_encoding: header("accept-encoding"),
                    body: String::from_utf8_lossy(&body).into_owned(),
                };
                let before = {
                    let mut log = log.lock().unwrap();
                    let before = log.iter().filter(|s| s.op() == req.op()).count();
                    log.push(req.clone());
                    before
                };
                let reply = respond(&req, before);
                tokio::time::sleep(reply.delay).await;
                (
                    StatusCode::from_u16(reply.status).unwrap(),
                    [("content-type", "text/xml; charset=utf-8")],
                    reply.body,
                )
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn ops(&self) -> Vec<String> {
        self.seen().iter().map(|s| s.op().to_owned()).collect()
    }

    fn client(&self, retry: RetryPolicy) -> Client {
        Client::new(Options {
            url: format!("{}/", self.url),
            content_url: None,
            timeout: Duration::from_secs(10),
            max_requests_per_second: 1000,
            ca_file: None,
            server_id: guid("6f1c2f6e-3f0b-4d3a-9b1e-0d2f6a1c5e12"),
            account_name: "replica.outpost.test".into(),
            protocol_version: "1.20".into(),
            retry,
        })
        .unwrap()
    }
}

fn fast_retry(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        attempts,
        base: Duration::from_millis(1),
        max: Duration::from_millis(4),
    }
}

/// A cookie Expiration four hours ahead, with WSUS's odd fraction digits, so that the
/// client uses it as is and must echo it exactly.
fn future_expiration(ahead: time::Duration) -> String {
    let t = time::OffsetDateTime::now_utc() + ahead;
    let whole = outpost::model::format_wsus_time(t);
    format!("{}.65455Z", &whole[..19])
}

/// The recorded answer for a request, as the real server gave it: GetUpdateData by the id
/// asked for (an unknown id gets the recorded InternalServerError fault).
fn recorded(req: &Seen, expiration: &str) -> Reply {
    let pick = |n: u32| {
        let ex = exchange(n);
        Reply::status(ex.status, ex.response)
    };
    match req.op() {
        "GetAuthConfig" => pick(1),
        "GetAuthorizationCookie" => pick(2),
        "GetCookie" => {
            let body = String::from_utf8(exchange(3).response).unwrap();
            Reply::ok(body.replace(RECORDED_EXPIRATION, expiration).into_bytes())
        }
        "GetConfigData" if req.body.contains("<configAnchor>") => pick(4),
        "GetConfigData" => pick(5),
        "GetRevisionIdList" if req.body.contains("<GetConfig>true</GetConfig>") => pick(6),
        "GetRevisionIdList" => pick(9),
        "GetUpdateData" => {
            for n in 13..=16 {
                let id = match n {
                    13 => "a2fef9b0-7951-4c2c-a42b-9e351dd1c1fe",
                    14 => "266f6222-c89d-43f2-9f8a-69340271e677",
                    15 => "ccb78947-6453-4ecc-9de8-bc0305c98f2d",
                    _ => "56309036-4c77-4dd9-951a-99ee9c246a94",
                };
                if req.body.contains(id) {
                    return pick(n);
                }
            }
            pick(17)
        }
        other => Reply::status(500, format!("no recording for {other}")),
    }
}

fn child_names(el: &Element) -> Vec<&str> {
    el.children.iter().map(|c| c.name.as_str()).collect()
}

#[tokio::test]
async fn replayed_real_answers_drive_the_client_end_to_end() {
    let expiration = future_expiration(time::Duration::hours(4));
    let exp = expiration.clone();
    let server = Replay::start(move |req, _| recorded(req, &exp)).await;
    let client = server.client(RetryPolicy::default());

    let config = client.get_config_data(None).await.unwrap();
    assert_eq!(config.max_updates_per_request, 100);
    assert_eq!(config.languages.len(), 39);
    let anchor = config.new_config_anchor.clone().unwrap();
    assert_eq!(anchor, "9438,2026-10-04 16:33:26.670");
    let again = client.get_config_data(Some(&anchor)).await.unwrap();
    assert!(again.languages.is_empty());

    let categories = client
        .get_revision_id_list(&RevisionFilter {
            get_config: true,
            ..RevisionFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(categories.anchor, "9438,2026-10-04 16:33:26.671");
    assert_eq!(categories.revisions.len(), 30);
    let updates = client
        .get_revision_id_list(&RevisionFilter {
            anchor: Some(categories.anchor.clone()),
            get_config: false,
            languages: Some(vec![(1033, true)]),
            ..RevisionFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(updates.revisions.len(), 30);

    for (id, rev, compressed) in [
        ("a2fef9b0-7951-4c2c-a42b-9e351dd1c1fe", 200, true),
        ("266f6222-c89d-43f2-9f8a-69340271e677", 200, true),
        ("ccb78947-6453-4ecc-9de8-bc0305c98f2d", 200, false),
        ("56309036-4c77-4dd9-951a-99ee9c246a94", 101, true),
    ] {
        let id = RevisionId::new(guid(id), rev);
        let batch = client.get_update_data(&[id]).await.unwrap();
        assert_eq!(batch.updates.len(), 1);
        assert_eq!(batch.updates[0].id, id);
        assert_eq!(batch.updates[0].compressed, compressed);
        assert_eq!(
            batch.updates[0].xml.as_bytes(),
            std::fs::read(doc_path(&id)).unwrap().as_slice()
        );
    }
    // An unknown id: the recorded InternalServerError, reported once, not retried.
    let unknown = RevisionId::new(guid("00000000-0000-0000-0000-000000000001"), 1);
    let err = client.get_update_data(&[unknown]).await.unwrap_err();
    assert_eq!(err.fault_code(), Some("InternalServerError"));
    assert_eq!(err.operation(), "GetUpdateData");
    assert!(!err.is_retryable());
    assert!(client
        .get_update_data(&[])
        .await
        .unwrap()
        .updates
        .is_empty());

    let seen = server.seen();
    let ops: Vec<&str> = seen.iter().map(Seen::op).collect();
    assert_eq!(
        ops,
        [
            "GetAuthConfig",
            "GetAuthorizationCookie",
            "GetCookie",
            "GetConfigData",
            "GetConfigData",
            "GetRevisionIdList",
            "GetRevisionIdList",
            "GetUpdateData",
            "GetUpdateData",
            "GetUpdateData",
            "GetUpdateData",
            "GetUpdateData",
        ]
    );
    for req in &seen {
        let el = req.element();
        assert_eq!(el.name, req.op(), "body element matches the SOAPAction");
        let (ns, path) = if req.op() == "GetAuthorizationCookie" {
            (xml::NS_DSSAUTH, DSS_AUTH_PATH)
        } else {
            (xml::NS_SD, SERVER_SYNC_PATH)
        };
        assert_eq!(el.ns, ns);
        assert_eq!(req.path, path);
        assert_eq!(
            req.soap_action,
            format!("\"{}/{}\"", ns, req.op()),
            "SOAPAction is quoted"
        );
        assert_eq!(req.content_type, "text/xml; charset=utf-8");
        assert!(matches!(req.accept_encoding.as_str(), "" | "identity"));
        if let Some(cookie) = el.child("cookie") {
            assert_eq!(child_names(cookie), ["Expiration", "EncryptedData"]);
            assert_eq!(cookie.child_text("Expiration"), Some(expiration.as_str()));
        }
    }
    let el = |i: usize| seen[i].element();
    assert_eq!(child_names(&el(1)), ["accountName", "accountGuid"]);
    assert_eq!(
        el(1).child_text("accountName"),
        Some("replica.outpost.test")
    );
    assert_eq!(child_names(&el(2)), ["authCookies", "protocolVersion"]);
    assert_eq!(
        el(2)
            .path(&["authCookies", "AuthorizationCookie", "CookieData"])
            .unwrap()
            .text
            .len(),
        576,
        "CookieData echoed"
    );
    assert_eq!(child_names(&el(3)), ["cookie"]);
    assert_eq!(child_names(&el(4)), ["cookie", "configAnchor"]);
    assert_eq!(
        el(4).child_text("configAnchor"),
        Some("9438,2026-10-04 16:33:26.670")
    );
    assert_eq!(
        child_names(el(5).child("filter").unwrap()),
        ["GetConfig", "Get63LanguageOnly"]
    );
    assert_eq!(
        child_names(el(6).child("filter").unwrap()),
        ["Anchor", "GetConfig", "Get63LanguageOnly", "Languages"]
    );
    assert_eq!(child_names(&el(7)), ["cookie", "updateIds"]);

    let stats = client.stats();
    assert_eq!(stats.requests, seen.len() as u64);
    assert_eq!((stats.retries, stats.reauths), (0, 0));
    assert!(stats.bytes_received > 15_735, "{stats:?}");
}

#[tokio::test]
async fn concurrent_first_calls_share_one_handshake() {
    let exp = future_expiration(time::Duration::hours(4));
    let server = Replay::start(move |req, _| recorded(req, &exp)).await;
    let client = server.client(RetryPolicy::default());
    let calls = (0..8).map(|_| {
        let c = client.clone();
        tokio::spawn(async move { c.get_config_data(None).await })
    });
    for call in calls {
        call.await.unwrap().unwrap();
    }
    let ops = server.ops();
    assert_eq!(ops.iter().filter(|o| *o == "GetAuthConfig").count(), 1);
    assert_eq!(ops.iter().filter(|o| *o == "GetCookie").count(), 1);
    assert_eq!(ops.iter().filter(|o| *o == "GetConfigData").count(), 8);
}

#[tokio::test]
async fn an_invalid_cookie_fault_is_healed_by_one_reauth() {
    let exp = future_expiration(time::Duration::hours(4));
    let server = Replay::start(move |req, before| {
        if req.op() == "GetRevisionIdList" && before == 0 {
            // The recorded InvalidCookie fault (HTTP 500).
            let ex = exchange(19);
            return Reply::status(ex.status, ex.response);
        }
        recorded(req, &exp)
    })
    .await;
    let client = server.client(RetryPolicy::default());
    let list = client
        .get_revision_id_list(&RevisionFilter {
            get_config: true,
            ..RevisionFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(list.revisions.len(), 30);
    assert_eq!(
        server.ops(),
        [
            "GetAuthConfig",
            "GetAuthorizationCookie",
            "GetCookie",
            "GetRevisionIdList",
            "GetCookie",
            "GetRevisionIdList"
        ]
    );
    // The rejected cookie is not offered back as oldCookie.
    let second_get_cookie = server.seen()[4].element();
    assert_eq!(
        child_names(&second_get_cookie),
        ["authCookies", "protocolVersion"]
    );
    let stats = client.stats();
    assert_eq!((stats.reauths, stats.retries), (1, 0));
}

#[tokio::test]
async fn a_cookie_refused_for_good_is_reported_after_two_reauths() {
    let exp = future_expiration(time::Duration::hours(4));
    let server = Replay::start(move |req, _| {
        if req.op() == "GetConfigData" {
            let ex = exchange(19);
            return Reply::status(ex.status, ex.response);
        }
        recorded(req, &exp)
    })
    .await;
    let client = server.client(RetryPolicy::default());
    let err = client.get_config_data(None).await.unwrap_err();
    assert_eq!(err.fault_code(), Some("InvalidCookie"));
    assert!(matches!(
        err,
        Error::Fault {
            op: "GetConfigData",
            ..
        }
    ));
    let ops = server.ops();
    assert_eq!(ops.iter().filter(|o| *o == "GetConfigData").count(), 3);
    assert_eq!(ops.iter().filter(|o| *o == "GetCookie").count(), 3);
    assert_eq!(client.stats().reauths, 2);
}

#[tokio::test]
async fn a_refused_authorization_cookie_restarts_from_get_auth_config() {
    let exp = future_expiration(time::Duration::hours(4));
    let server = Replay::start(move |req, before| {
        let fault = |code: &str| {
            Reply::status(
                500,
                Fault::wsus(false, code, "", &format!("{SD}{}", req.op())).to_envelope(),
            )
        };
        match (req.op(), before) {
            ("GetConfigData", 0) => fault("InvalidCookie"),
            ("GetCookie", 1) => fault("InvalidAuthorizationCookie"),
            _ => recorded(req, &exp),
        }
    })
    .await;
    let client = server.client(RetryPolicy::default());
    client.get_config_data(None).await.unwrap();
    assert_eq!(
        server.ops(),
        [
            "GetAuthConfig",
            "GetAuthorizationCookie",
            "GetCookie",
            "GetConfigData",
            "GetCookie",
            "GetAuthConfig",
            "GetAuthorizationCookie",
            "GetCookie",
            "GetConfigData"
        ]
    );
    assert_eq!(client.stats().reauths, 1);
}

#[tokio::test]
async fn a_cookie_close_to_expiry_is_refreshed_with_old_cookie() {
    // The USS hands out cookies with one minute left: under the five-minute margin, so
    // every call refreshes first and sends the current cookie as oldCookie.
    let server =
        Replay::start(move |req, _| recorded(req, &future_expiration(time::Duration::minutes(1))))
            .await;
    let client = server.client(RetryPolicy::default());
    client.get_config_data(None).await.unwrap();
    client.get_config_data(None).await.unwrap();
    assert_eq!(
        server.ops(),
        [
            "GetAuthConfig",
            "GetAuthorizationCookie",
            "GetCookie",
            "GetConfigData",
            "GetCookie",
            "GetConfigData"
        ]
    );
    let seen = server.seen();
    let first_cookie = seen[3].element().child("cookie").unwrap().clone();
    let refresh = seen[4].element();
    assert_eq!(
        child_names(&refresh),
        ["authCookies", "oldCookie", "protocolVersion"]
    );
    assert_eq!(
        refresh.child("oldCookie").unwrap().children,
        first_cookie.children
    );
    assert_eq!(client.stats().reauths, 0, "a refresh is not a re-auth");
}

#[tokio::test]
async fn forget_session_starts_over_from_get_auth_config() {
    let exp = future_expiration(time::Duration::hours(4));
    let server = Replay::start(move |req, _| recorded(req, &exp)).await;
    let client = server.client(RetryPolicy::default());
    client.get_config_data(None).await.unwrap();
    client.forget_session();
    client.get_config_data(None).await.unwrap();
    let ops = server.ops();
    assert_eq!(ops.iter().filter(|o| *o == "GetAuthConfig").count(), 2);
    assert_eq!(client.stats().reauths, 1);
}

#[tokio::test]
async fn a_plain_http_500_is_retried_then_reported() {
    let server = Replay::start(|_, _| Reply::status(500, "<html>Runtime Error</html>")).await;
    let client = server.client(fast_retry(3));
    let err = client.get_config_data(None).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Http {
                op: "GetAuthConfig",
                status: 500
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_eq!(server.ops(), ["GetAuthConfig"; 3]);
    let stats = client.stats();
    assert_eq!((stats.requests, stats.retries), (3, 2));
}

#[tokio::test]
async fn server_busy_is_retried_and_other_faults_are_not() {
    let exp = future_expiration(time::Duration::hours(4));
    let server = Replay::start(move |req, before| match (req.op(), before) {
        ("GetConfigData", 0) => {
            Reply::status(500, Fault::wsus(true, "ServerBusy", "", "x").to_envelope())
        }
        ("GetRevisionIdList", _) => {
            let ex = exchange(18);
            Reply::status(ex.status, ex.response)
        }
        _ => recorded(req, &exp),
    })
    .await;
    let client = server.client(fast_retry(4));
    client.get_config_data(None).await.unwrap();
    assert_eq!(client.stats().retries, 1);
    let err = client
        .get_revision_id_list(&RevisionFilter {
            anchor: Some("garbage".into()),
            ..RevisionFilter::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.fault_code(), Some("InvalidParameters"));
    assert!(
        matches!(&err, Error::Fault { fault, .. } if fault.message.as_deref() == Some("filter"))
    );
    let ops = server.ops();
    assert_eq!(ops.iter().filter(|o| *o == "GetRevisionIdList").count(), 1);
    assert_eq!(client.stats().retries, 1);
}

#[tokio::test]
async fn malformed_answers_are_decode_errors_and_not_retried() {
    let exp = future_expiration(time::Duration::hours(4));
    let server = Replay::start(move |req, _| match req.op() {
        "GetConfigData" => Reply::ok(
            exchange(5).response[..700].to_vec(), // cut mid-element
        ),
        "GetRevisionIdList" => Reply::ok(exchange(5).response), // another operation's answer
        "GetUpdateData" => {
            // A document whose own identity disagrees with its Id.
            let body = String::from_utf8(exchange(15).response).unwrap();
            Reply::ok(
                body.replacen(
                    "<RevisionNumber>200</RevisionNumber>",
                    "<RevisionNumber>201</RevisionNumber>",
                    1,
                )
                .into_bytes(),
            )
        }
        _ => recorded(req, &exp),
    })
    .await;
    let client = server.client(fast_retry(4));
    let err = client.get_config_data(None).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Decode {
                op: "GetConfigData",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    let err = client
        .get_revision_id_list(&RevisionFilter::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Decode {
                op: "GetRevisionIdList",
                ..
            }
        ),
        "{err:?}"
    );
    let id = RevisionId::new(guid("ccb78947-6453-4ecc-9de8-bc0305c98f2d"), 201);
    let err = client.get_update_data(&[id]).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Decode {
                op: "GetUpdateData",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(client.stats().retries, 0);
}

#[tokio::test]
async fn a_silent_upstream_times_out_as_a_transport_error() {
    let server = Replay::start(|_, _| Reply {
        status: 200,
        body: Vec::new(),
        delay: Duration::from_secs(5),
    })
    .await;
    let client = Client::new(Options {
        url: server.url.clone(),
        timeout: Duration::from_millis(200),
        retry: fast_retry(2),
        ..Options::default()
    })
    .unwrap();
    let err = client.get_config_data(None).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport {
                op: "GetAuthConfig",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_eq!(client.stats().retries, 1);

    // Nobody listening at all.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let client = Client::new(Options {
        url,
        retry: fast_retry(1),
        ..Options::default()
    })
    .unwrap();
    let err = client.get_config_data(None).await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
}
