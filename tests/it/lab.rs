//! The lab upstream over real HTTP, driven by hand-written SOAP requests (deliberately not
//! `outpost::upstream`, so a misread of the protocol is not shared) and checked against the
//! WSDLs with `shared/tools/soap-validate` (needs Python 3 with lxml).

use outpost::lab::{Inject, Lab, LabOptions, LabServer};
use outpost::model::{
    DeploymentAction, RevisionId, Sha1Digest, ALL_COMPUTERS, UNASSIGNED_COMPUTERS,
};
use outpost::xml::soap::{self, Body, Fault};
use outpost::xml::{update, Element, Limits};
use sha1::Digest as _;
use std::collections::{HashMap, HashSet};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

const SS: &str = "/ServerSyncWebService/ServerSyncWebService.asmx";
const SD: &str = "http://www.microsoft.com/SoftwareDistribution";
const DSSAUTH: &str = "http://www.microsoft.com/SoftwareDistribution/Server/DssAuthWebService";

// ---------------------------------------------------------------- helpers

async fn start(updates: usize) -> LabServer {
    start_with(LabOptions {
        updates,
        ..LabOptions::default()
    })
    .await
}

async fn start_with(opts: LabOptions) -> LabServer {
    Lab::new(opts).start().await.expect("lab starts")
}

/// One HTTP answer of the lab.
struct Resp {
    status: u16,
    content_type: String,
    text: String,
}

impl Resp {
    /// The body element of a successful answer.
    fn message(&self) -> Element {
        assert_eq!(self.status, 200, "{}", self.text);
        assert_eq!(self.content_type, "text/xml; charset=utf-8");
        match soap::parse(self.text.as_bytes(), Limits::default()).expect("answer parses") {
            Body::Message(el) => el,
            Body::Fault(f) => panic!("unexpected fault {f}"),
        }
    }

    /// The fault of a failed answer (HTTP 500, SOAP fault body).
    fn fault(&self) -> Fault {
        assert_eq!(self.status, 500, "{}", self.text);
        assert_eq!(self.content_type, "text/xml; charset=utf-8");
        match soap::parse(self.text.as_bytes(), Limits::default()).expect("fault parses") {
            Body::Fault(f) => f,
            Body::Message(el) => panic!("expected a fault, got {}", el.name),
        }
    }
}

/// A request envelope as a real DSS writes it (no xsi/xsd declarations, one line).
fn envelope(inner: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>{inner}</soap:Body></soap:Envelope>"#
    )
}

async fn post_raw(url: &str, path: &str, action: &str, body: String) -> Resp {
    let resp = reqwest::Client::new()
        .post(format!("{url}{path}"))
        .header("Content-Type", "text/xml; charset=utf-8")
        .header("SOAPAction", format!("\"{action}\""))
        .body(body)
        .send()
        .await
        .expect("request sent");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = resp.text().await.expect("body");
    Resp {
        status,
        content_type,
        text,
    }
}

/// POST one ServerSync operation (`inner` is the operation element).
async fn ss(url: &str, op: &str, inner: &str) -> Resp {
    post_raw(url, SS, &format!("{SD}/{op}"), envelope(inner)).await
}

/// An authenticated session: the `<cookie>` element to paste into requests.
struct Session {
    url: String,
    cookie: String,
}

impl Session {
    async fn call(&self, op: &str, args: &str) -> Resp {
        ss(
            &self.url,
            op,
            &format!(r#"<{op} xmlns="{SD}">{}{args}</{op}>"#, self.cookie),
        )
        .await
    }

    async fn list(&self, get_config: bool, anchor: Option<&str>, extra: &str) -> Resp {
        let anchor = anchor
            .map(|a| format!("<Anchor>{a}</Anchor>"))
            .unwrap_or_default();
        self.call(
            "GetRevisionIdList",
            &format!("<filter>{anchor}<GetConfig>{get_config}</GetConfig><Get63LanguageOnly>false</Get63LanguageOnly>{extra}</filter>"),
        )
        .await
    }

    async fn update_data(&self, ids: &[RevisionId]) -> Resp {
        let items: String = ids
            .iter()
            .map(|id| {
                format!(
                    "<UpdateIdentity><UpdateID>{}</UpdateID><RevisionNumber>{}</RevisionNumber></UpdateIdentity>",
                    id.update_id, id.revision
                )
            })
            .collect();
        self.call("GetUpdateData", &format!("<updateIds>{items}</updateIds>"))
            .await
    }

    async fn deployments(&self, deployment_anchor: Option<&str>, sync_anchor: &str) -> Resp {
        let da = deployment_anchor
            .map(|a| format!("<deploymentAnchor>{a}</deploymentAnchor>"))
            .unwrap_or_default();
        self.call(
            "GetDeployments",
            &format!("{da}<syncAnchor>{sync_anchor}</syncAnchor>"),
        )
        .await
    }
}

/// GetAuthConfig → GetAuthorizationCookie → GetCookie; returns the responses too.
async fn login_logged(url: &str) -> (Session, Vec<(String, Resp)>) {
    let mut log = Vec::new();
    let auth_config = ss(
        url,
        "GetAuthConfig",
        &format!(r#"<GetAuthConfig xmlns="{SD}"/>"#),
    )
    .await;
    let el = auth_config.message();
    let service_url = el
        .path(&[
            "GetAuthConfigResult",
            "AuthInfo",
            "AuthPlugInInfo",
            "ServiceUrl",
        ])
        .expect("ServiceUrl")
        .text
        .clone();
    log.push(("GetAuthConfig".to_owned(), auth_config));
    // Joined the way real DSSs do it, which yields a doubled slash.
    let auth = post_raw(
        url,
        &format!("//{service_url}"),
        &format!("{DSSAUTH}/GetAuthorizationCookie"),
        envelope(&format!(
            r#"<GetAuthorizationCookie xmlns="{DSSAUTH}"><accountName>branch.lab.invalid</accountName><accountGuid>6f1c2f6e-3f0b-4d3a-9b1e-0d2f6a1c5e12</accountGuid></GetAuthorizationCookie>"#
        )),
    )
    .await;
    let el = auth.message();
    assert_eq!(el.ns, DSSAUTH);
    let result = el.child("GetAuthorizationCookieResult").expect("result");
    assert_eq!(result.child_text("PlugInId"), Some("DssTargeting"));
    let cookie_data = result
        .child_text("CookieData")
        .expect("CookieData")
        .to_owned();
    log.push(("GetAuthorizationCookie".to_owned(), auth));
    let cookie = ss(
        url,
        "GetCookie",
        &format!(
            r#"<GetCookie xmlns="{SD}"><authCookies><AuthorizationCookie><PlugInId>DssTargeting</PlugInId><CookieData>{cookie_data}</CookieData></AuthorizationCookie></authCookies><protocolVersion>1.20</protocolVersion></GetCookie>"#
        ),
    )
    .await;
    let el = cookie.message();
    let result = el.child("GetCookieResult").expect("GetCookieResult");
    let expiration = result
        .child_text("Expiration")
        .expect("Expiration")
        .to_owned();
    let data = result
        .child_text("EncryptedData")
        .expect("EncryptedData")
        .to_owned();
    log.push(("GetCookie".to_owned(), cookie));
    let session = Session {
        url: url.to_owned(),
        cookie: format!(
            "<cookie><Expiration>{expiration}</Expiration><EncryptedData>{data}</EncryptedData></cookie>"
        ),
    };
    (session, log)
}

async fn login(url: &str) -> Session {
    login_logged(url).await.0
}

fn anchor_of(list: &Element) -> String {
    list.path(&["GetRevisionIdListResult", "Anchor"])
        .expect("Anchor")
        .text
        .clone()
}

fn revisions(list: &Element) -> Vec<RevisionId> {
    list.path(&["GetRevisionIdListResult", "NewRevisions"])
        .map(|n| n.children_named("UpdateIdentity").map(identity).collect())
        .unwrap_or_default()
}

fn identity(el: &Element) -> RevisionId {
    RevisionId::new(
        el.child_text("UpdateID")
            .expect("UpdateID")
            .parse()
            .expect("guid"),
        el.child_text("RevisionNumber")
            .expect("RevisionNumber")
            .parse()
            .expect("int"),
    )
}

/// One decoded `ServerSyncUpdateData`.
struct Fetched {
    id: RevisionId,
    compressed: bool,
    xml: String,
    digests: Vec<String>,
}

fn fetched(answer: &Element) -> (Vec<Fetched>, Vec<(String, String)>) {
    let result = answer.child("GetUpdateDataResult").expect("result");
    let updates = result
        .child("updates")
        .map(|u| u.children_named("ServerSyncUpdateData").collect::<Vec<_>>())
        .unwrap_or_default();
    let mut out = Vec::new();
    for u in updates {
        let names: Vec<&str> = u.children.iter().map(|c| c.name.as_str()).collect();
        let id = identity(u.child("Id").expect("Id"));
        let (compressed, xml) = match (u.child("XmlUpdateBlob"), u.child("XmlUpdateBlobCompressed"))
        {
            (Some(text), None) => (false, text.text.clone()),
            (None, Some(b64)) => (true, decompress(&b64.text)),
            _ => panic!("exactly one blob expected: {names:?}"),
        };
        // WSDL order: Id, XmlUpdateBlob, FileDigestList, XmlUpdateBlobCompressed.
        let order = [
            "Id",
            "XmlUpdateBlob",
            "FileDigestList",
            "XmlUpdateBlobCompressed",
        ];
        let positions: Vec<usize> = names
            .iter()
            .map(|n| order.iter().position(|o| o == n).expect("known child"))
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{names:?}");
        let digests = u
            .child("FileDigestList")
            .map(|l| {
                l.children_named("base64Binary")
                    .map(|d| d.text.clone())
                    .collect()
            })
            .unwrap_or_default();
        out.push(Fetched {
            id,
            compressed,
            xml,
            digests,
        });
    }
    let urls = result
        .child("fileUrls")
        .map(|f| {
            f.children_named("ServerSyncUrlData")
                .map(|u| {
                    let names: Vec<&str> = u.children.iter().map(|c| c.name.as_str()).collect();
                    assert_eq!(names, ["FileDigest", "MUUrl", "UssUrl"]);
                    assert_eq!(u.child_text("UssUrl"), Some(""));
                    (
                        u.child_text("FileDigest").unwrap_or("").to_owned(),
                        u.child_text("MUUrl").unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    (out, urls)
}

/// base64 → CAB → member `blob` → UTF-16LE text (no BOM, no declaration expected).
fn decompress(b64: &str) -> String {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .expect("base64");
    assert_eq!(&bytes[..4], b"MSCF");
    let mut cabinet = cab::Cabinet::new(std::io::Cursor::new(bytes)).expect("cab");
    let mut raw = Vec::new();
    cabinet
        .read_file("blob")
        .expect("member blob")
        .read_to_end(&mut raw)
        .expect("decompress");
    assert_eq!(&raw[..2], &[b'<', 0], "UTF-16LE without BOM");
    update::decode_blob(&raw).expect("utf-16")
}

/// Write each answer to `dir` and validate them all against `wsdl`.
fn validate(dir: &Path, wsdl: &str, answers: &[(String, &Resp)]) {
    let mut files: Vec<PathBuf> = Vec::new();
    for (i, (name, resp)) in answers.iter().enumerate() {
        let path = dir.join(format!("{i:03}-{name}.xml"));
        std::fs::write(&path, &resp.text).expect("write answer");
        files.push(path);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("shared");
    let out = std::process::Command::new("python3")
        .arg(root.join("tools/soap-validate"))
        .arg(root.join("protocol/wsdl").join(wsdl))
        .args(&files)
        .output()
        .expect("python3 runs soap-validate");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "soap-validate {wsdl}:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count(),
        files.len()
    );
}

fn sha1_b64(bytes: &[u8]) -> String {
    Sha1Digest(sha1::Sha1::digest(bytes).into()).to_base64()
}

fn content_path(digest_b64: &str, name: &str) -> String {
    let hex = Sha1Digest::from_base64(digest_b64)
        .expect("digest")
        .to_hex_upper();
    let ext = name.rfind('.').map(|i| &name[i..]).unwrap_or("");
    format!("/Content/{}/{hex}{ext}", &hex[38..])
}

// ---------------------------------------------------------------- the whole flow

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_replica_flow_is_served_and_every_answer_matches_the_wsdl() {
    let server = start(25).await;
    let lab = &server.lab;
    let counts = lab.counts();
    let dir = tempfile::tempdir().expect("temp dir");
    let (s, auth_log) = login_logged(&server.url).await;
    let mut dss_answers = Vec::new();
    let mut answers: Vec<(String, Resp)> = Vec::new();
    for (name, resp) in auth_log {
        if name == "GetAuthorizationCookie" {
            dss_answers.push((name, resp));
        } else {
            answers.push((name, resp));
        }
    }
    // The exact real-WSUS envelope and auth config.
    let auth_config = &answers[0].1.text;
    assert!(auth_config.starts_with(r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body><GetAuthConfigResponse"#));
    assert!(auth_config.contains("<PlugInID>DssTargeting</PlugInID><ServiceUrl>DssAuthWebService/DssAuthWebService.asmx</ServiceUrl><Parameter /></AuthPlugInInfo>"));
    assert!(!auth_config.contains('\n'));

    // Configuration: all fields in WSDL 6.1 order, English enabled, a delta when current.
    let config = s.call("GetConfigData", "").await;
    let el = config.message();
    let result = el.child("GetConfigDataResult").expect("result");
    let names: Vec<&str> = result.children.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "CatalogOnlySync",
            "LazySync",
            "ServerHostsPsfFiles",
            "MaxNumberOfComputerIdsInRequest",
            "MaxNumberOfDriverSetsPerRequest",
            "MaxNumberOfPnpHardwareIdsInRequest",
            "MaxNumberOfUpdatesPerRequest",
            "NewConfigAnchor",
            "ProtocolVersion",
            "LanguageUpdateList",
            "MaxUpdatesPerRequestInGetUpdateDecryptionData"
        ]
    );
    assert_eq!(result.child_text("ProtocolVersion"), Some("1.20"));
    assert_eq!(
        result.child_text("MaxNumberOfUpdatesPerRequest"),
        Some("100")
    );
    let languages: Vec<(String, String, String)> = result
        .child("LanguageUpdateList")
        .expect("languages")
        .children_named("ServerSyncLanguageData")
        .map(|l| {
            (
                l.child_text("LanguageID").unwrap_or("").to_owned(),
                l.child_text("ShortLanguage").unwrap_or("").to_owned(),
                l.child_text("Enabled").unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(languages[0], ("0".into(), "all".into(), "false".into()));
    assert!(languages.contains(&("1033".into(), "en".into(), "true".into())));
    assert!(languages.len() > 2);
    let config_anchor = result
        .child_text("NewConfigAnchor")
        .expect("anchor")
        .to_owned();
    answers.push(("GetConfigData".into(), config));
    let again = s
        .call(
            "GetConfigData",
            &format!("<configAnchor>{config_anchor}</configAnchor>"),
        )
        .await;
    assert!(again.text.contains("<LanguageUpdateList />"));
    answers.push(("GetConfigData-delta".into(), again));

    // Categories list: every config revision, one UpdateID twice with the newer one first.
    let cfg_list = s.list(true, None, "").await;
    let el = cfg_list.message();
    let cfg_ids = revisions(&el);
    assert_eq!(cfg_ids.len(), counts.category_revisions);
    let distinct: HashSet<_> = cfg_ids.iter().map(|r| r.update_id).collect();
    assert_eq!(distinct.len(), counts.categories);
    let twice = cfg_ids
        .windows(2)
        .find(|w| w[0].update_id == w[1].update_id)
        .expect("an UpdateID listed with two revisions");
    assert!(twice[0].revision > twice[1].revision);
    let anchor = anchor_of(&el);
    let (counter, time) = anchor.split_once(',').expect("N,time");
    assert!(
        counter.parse::<u64>().is_ok() && time.len() == 23,
        "{anchor}"
    );
    answers.push(("GetRevisionIdList-config".into(), cfg_list));

    // Updates list (with a Languages filter, as a protocol 1.20 DSS sends it).
    let upd_list = s
        .list(
            false,
            None,
            "<Languages><LanguageAndDelta><Id>1033</Id><Delta>true</Delta></LanguageAndDelta></Languages>",
        )
        .await;
    let el = upd_list.message();
    let upd_ids = revisions(&el);
    let sync_anchor = anchor_of(&el);
    assert_eq!(upd_ids.len(), counts.updates);
    answers.push(("GetRevisionIdList-updates".into(), upd_list));

    // Categories' documents: kinds, both transfer paths, upper-case id inside one document.
    let cfg_data = s.update_data(&cfg_ids).await;
    let (docs, urls) = fetched(&cfg_data.message());
    assert!(urls.is_empty());
    assert!(cfg_data.text.contains("<fileUrls />"));
    assert_eq!(docs.iter().map(|d| d.id).collect::<Vec<_>>(), cfg_ids);
    assert!(docs.iter().any(|d| d.compressed) && docs.iter().any(|d| !d.compressed));
    let mut upper_case_inside = false;
    for d in &docs {
        let parsed = update::parse(&d.xml).expect("document parses");
        assert_eq!(parsed.id, d.id);
        assert!(parsed.kind.is_config(), "{:?}", parsed.kind);
        upper_case_inside |= d.xml.contains(&d.id.update_id.to_string().to_uppercase());
        assert_eq!(d.compressed, d.xml.encode_utf16().count() * 2 > 5120);
    }
    assert!(upper_case_inside);
    answers.push(("GetUpdateData-config".into(), cfg_data));

    // Updates' documents: one batch of everything (<= 100), files and their URLs.
    let data = s.update_data(&upd_ids).await;
    let (docs, urls) = fetched(&data.message());
    assert_eq!(docs.len(), upd_ids.len());
    let mut files: HashMap<String, String> = HashMap::new(); // digest → FileName
    let mut bundles = 0;
    let mut kinds = HashSet::new();
    let mut expired = 0;
    for d in &docs {
        let parsed = update::parse(&d.xml).expect("document parses");
        assert_eq!(parsed.id, d.id);
        kinds.insert(parsed.kind.as_str().to_owned());
        let digests: Vec<String> = parsed.files.iter().map(|f| f.sha1.to_base64()).collect();
        assert_eq!(d.digests, digests, "FileDigestList = the document's files");
        for f in &parsed.files {
            files.insert(f.sha1.to_base64(), f.name.clone());
            assert!(f.sha256.is_some());
        }
        bundles += usize::from(!parsed.bundled.is_empty());
        expired += usize::from(parsed.expired);
        for member in &parsed.bundled {
            assert!(upd_ids.contains(member), "bundle members are listed too");
        }
    }
    assert_eq!(files.len(), counts.files);
    assert_eq!(urls.len(), counts.files);
    for (digest, mu) in &urls {
        let hex = Sha1Digest::from_base64(digest).expect("digest").to_hex();
        assert!(
            mu.starts_with("http://download.windowsupdate.com/lab/") && mu.contains(&hex),
            "{mu}"
        );
    }
    assert_eq!(bundles, 2, "a bundle and its nested bundle");
    assert_eq!(expired, 1);
    assert!(
        kinds.contains("software") && kinds.contains("driver"),
        "{kinds:?}"
    );
    assert!(docs.iter().any(|d| d.compressed && !d.digests.is_empty()));
    assert!(docs.iter().any(|d| !d.compressed && !d.digests.is_empty()));
    answers.push(("GetUpdateData-updates".into(), data));

    // Deployments: full groups, the initial approvals, hidden update, accepted EULA.
    let deps = s.deployments(None, &sync_anchor).await;
    let el = deps.message();
    let result = el.child("GetDeploymentsResult").expect("result");
    let names: Vec<&str> = result.children.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Anchor",
            "Groups",
            "Deployments",
            "DeadDeployments",
            "HiddenUpdates",
            "AcceptedEulas"
        ]
    );
    let groups: Vec<&Element> = result
        .child("Groups")
        .expect("Groups")
        .children_named("ServerSyncTargetGroup")
        .collect();
    assert_eq!(groups.len(), counts.target_groups);
    assert_eq!(
        groups[0].child_text("TargetGroupID"),
        Some(ALL_COMPUTERS.to_string().as_str())
    );
    assert_eq!(
        groups[0].child_text("ParentGroupId"),
        Some("00000000-0000-0000-0000-000000000000")
    );
    assert_eq!(
        groups[1].child_text("TargetGroupID"),
        Some(UNASSIGNED_COMPUTERS.to_string().as_str())
    );
    let deployments: Vec<&Element> = result
        .child("Deployments")
        .expect("Deployments")
        .children_named("ServerSyncDeployment")
        .collect();
    assert_eq!(deployments.len(), counts.approvals);
    let actions: Vec<&str> = deployments
        .iter()
        .map(|d| d.child_text("Action").unwrap_or(""))
        .collect();
    assert_eq!(actions, ["0", "0", "1", "3"]);
    assert!(deployments
        .iter()
        .any(|d| d.child_text("Deadline") == Some("9999-12-31T23:59:59.9999999")));
    assert!(deps.text.contains("<DeadDeployments />"));
    assert_eq!(
        result
            .child("HiddenUpdates")
            .expect("hidden")
            .children
            .len(),
        1
    );
    assert_eq!(
        result.child("AcceptedEulas").expect("eulas").children.len(),
        1
    );
    for d in &deployments {
        let id = RevisionId::new(
            d.child_text("UpdateId")
                .expect("UpdateId")
                .parse()
                .expect("guid"),
            d.child_text("RevisionNumber")
                .expect("rev")
                .parse()
                .expect("int"),
        );
        assert!(
            upd_ids.contains(&id),
            "approved revisions are in the catalog"
        );
    }
    answers.push(("GetDeployments".into(), deps));

    // DownloadFiles for known digests, decryption data, then the files themselves.
    let known: String = files
        .keys()
        .take(3)
        .map(|d| format!("<base64Binary>{d}</base64Binary>"))
        .collect();
    let dl = s
        .call(
            "DownloadFiles",
            &format!("<fileDigestList>{known}</fileDigestList>"),
        )
        .await;
    let el = dl.message();
    assert_eq!(
        (el.name.as_str(), el.children.len()),
        ("DownloadFilesResponse", 0)
    );
    answers.push(("DownloadFiles".into(), dl));
    let dec = s
        .call(
            "GetUpdateDecryptionData",
            &format!(
                "<updateIds><UpdateIdentity><UpdateID>{}</UpdateID><RevisionNumber>{}</RevisionNumber></UpdateIdentity></updateIds>",
                upd_ids[0].update_id, upd_ids[0].revision
            ),
        )
        .await;
    dec.message();
    answers.push(("GetUpdateDecryptionData".into(), dec));

    let http = reqwest::Client::new();
    for (digest, name) in files.iter().take(5) {
        let resp = http
            .get(format!("{}{}", server.url, content_path(digest, name)))
            .send()
            .await
            .expect("GET");
        assert_eq!(resp.status(), 200);
        let bytes = resp.bytes().await.expect("bytes");
        assert_eq!(&sha1_b64(&bytes), digest);
        let sha1 = Sha1Digest::from_base64(digest).expect("digest");
        assert_eq!(lab.file_content(&sha1).as_deref(), Some(&bytes[..]));
    }

    validate(
        dir.path(),
        "MS-WSUSSS-ServerSyncWebService.wsdl",
        &answers
            .iter()
            .map(|(n, r)| (n.clone(), r))
            .collect::<Vec<_>>(),
    );
    validate(
        dir.path(),
        "MS-WSUSSS-DssAuthWebService.wsdl",
        &dss_answers
            .iter()
            .map(|(n, r)| (n.clone(), r))
            .collect::<Vec<_>>(),
    );
    assert!(lab.bytes_sent() > 0);
    server.stop().await;
}

// ---------------------------------------------------------------- faults

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_have_the_real_wsus_shape() {
    let server = start(5).await;
    let url = &server.url;
    let s = login(url).await;

    // No cookie → InvalidCookie, soap:Client, Method = quoted SOAPAction (real 000019).
    let r = ss(
        url,
        "GetRevisionIdList",
        &format!(r#"<GetRevisionIdList xmlns="{SD}"><filter><GetConfig>true</GetConfig></filter></GetRevisionIdList>"#),
    )
    .await;
    assert!(r.text.contains(
        "<soap:Fault><faultcode>soap:Client</faultcode><faultstring>Fault occurred</faultstring>"
    ));
    assert!(r.text.contains(&format!(
        "</faultstring><faultactor>{url}{SS}</faultactor><detail><ErrorCode>InvalidCookie</ErrorCode>"
    )));
    let f = r.fault();
    assert_eq!(f.error_code.as_deref(), Some("InvalidCookie"));
    assert_eq!(f.code, "Client");
    assert_eq!(f.message.as_deref(), Some(""));
    assert_eq!(
        f.method.as_deref(),
        Some(format!("\"{SD}/GetRevisionIdList\"").as_str())
    );
    assert!(r.text.contains("<Message></Message>"));

    // Garbage anchor → InvalidParameters "filter" (real 000018).
    let f = s.list(true, Some("garbage"), "").await.fault();
    assert_eq!(
        (
            f.error_code.as_deref(),
            f.message.as_deref(),
            f.code.as_str()
        ),
        (Some("InvalidParameters"), Some("filter"), "Client")
    );

    // Unknown revision → InternalServerError for the whole call, soap:Server (real 000017).
    let known = revisions(&s.list(false, None, "").await.message())[0];
    let unknown = RevisionId::new(known.update_id, known.revision + 1);
    let f = s.update_data(&[known, unknown]).await.fault();
    assert_eq!(
        (f.error_code.as_deref(), f.code.as_str()),
        (Some("InternalServerError"), "Server")
    );

    // Batch limits.
    let f = s.update_data(&[]).await.fault();
    assert_eq!(f.error_code.as_deref(), Some("InvalidParameters"));
    server.lab.set_max_updates_per_request(2);
    let f = s.update_data(&[known, known, known]).await.fault();
    assert_eq!(f.error_code.as_deref(), Some("InvalidParameters"));
    let config = s.call("GetConfigData", "").await.message();
    assert_eq!(
        config
            .path(&["GetConfigDataResult", "MaxNumberOfUpdatesPerRequest"])
            .map(|e| e.text.as_str()),
        Some("2")
    );

    // GetCookie: wrong count, unknown auth cookie, wrong protocol major.
    let get_cookie = |auth: &str, version: &str| {
        format!(
            r#"<GetCookie xmlns="{SD}"><authCookies>{auth}</authCookies><protocolVersion>{version}</protocolVersion></GetCookie>"#
        )
    };
    let f = ss(url, "GetCookie", &get_cookie("", "1.20")).await.fault();
    assert_eq!(f.error_code.as_deref(), Some("InvalidParameters"));
    let bogus = "<AuthorizationCookie><PlugInId>DssTargeting</PlugInId><CookieData>AAAA</CookieData></AuthorizationCookie>";
    let f = ss(url, "GetCookie", &get_cookie(bogus, "1.20"))
        .await
        .fault();
    assert_eq!(f.error_code.as_deref(), Some("InvalidAuthorizationCookie"));

    // GetAuthorizationCookie validates its arguments.
    let auth = |name: &str, guid: &str| {
        envelope(&format!(
            r#"<GetAuthorizationCookie xmlns="{DSSAUTH}"><accountName>{name}</accountName><accountGuid>{guid}</accountGuid></GetAuthorizationCookie>"#
        ))
    };
    let dss = "/DssAuthWebService/DssAuthWebService.asmx";
    let action = format!("{DSSAUTH}/GetAuthorizationCookie");
    let f = post_raw(
        url,
        dss,
        &action,
        auth("", "6f1c2f6e-3f0b-4d3a-9b1e-0d2f6a1c5e12"),
    )
    .await
    .fault();
    assert_eq!(f.error_code.as_deref(), Some("InvalidParameters"));
    let f = post_raw(url, dss, &action, auth("a.b", "not-a-guid"))
        .await
        .fault();
    assert_eq!(f.error_code.as_deref(), Some("InvalidParameters"));
    let ok = post_raw(
        url,
        dss,
        &action,
        auth("a.b", "6f1c2f6e-3f0b-4d3a-9b1e-0d2f6a1c5e12"),
    )
    .await;
    let data = ok
        .message()
        .path(&["GetAuthorizationCookieResult", "CookieData"])
        .expect("CookieData")
        .text
        .clone();
    let good = format!("<AuthorizationCookie><PlugInId>DssTargeting</PlugInId><CookieData>{data}</CookieData></AuthorizationCookie>");
    let f = ss(url, "GetCookie", &get_cookie(&good, "2.0"))
        .await
        .fault();
    assert_eq!(f.error_code.as_deref(), Some("IncompatibleProtocolVersion"));
    ss(url, "GetCookie", &get_cookie(&good, "1.7"))
        .await
        .message();

    // DownloadFiles: unknown digests are named, joined by '|'.
    let a = Sha1Digest([1; 20]).to_base64();
    let b = Sha1Digest([2; 20]).to_base64();
    let f = s
        .call(
            "DownloadFiles",
            &format!("<fileDigestList><base64Binary>{a}</base64Binary><base64Binary>{b}</base64Binary></fileDigestList>"),
        )
        .await
        .fault();
    assert_eq!(f.error_code.as_deref(), Some("FileDigestsMissing"));
    assert_eq!(f.message, Some(format!("{a}|{b}")));
    let f = s.call("DownloadFiles", "<fileDigestList />").await.fault();
    assert_eq!(f.error_code.as_deref(), Some("InvalidParameters"));

    // GetDeployments needs a syncAnchor.
    let f = s.call("GetDeployments", "").await.fault();
    assert_eq!(
        (f.error_code.as_deref(), f.message.as_deref()),
        (Some("InvalidParameters"), Some("syncAnchor"))
    );

    // Unknown operation: a fault without ErrorCode.
    let r = ss(url, "Ping", &format!(r#"<GetDriverIdList xmlns="{SD}"/>"#)).await;
    let f = r.fault();
    assert_eq!(f.error_code, None);
    assert!(!r.text.contains("<detail>"));
    // An operation of another service on this endpoint is unknown as well.
    let f = ss(
        url,
        "GetAuthorizationCookie",
        &format!(r#"<GetAuthorizationCookie xmlns="{DSSAUTH}"><accountName>a</accountName></GetAuthorizationCookie>"#),
    )
    .await
    .fault();
    assert_eq!(f.error_code, None);

    // Reporting is not implemented yet: a plain fault, not a crash.
    let r = post_raw(
        url,
        "/ReportingWebService/ReportingWebService.asmx",
        &format!("{SD}/GetRollupConfiguration"),
        envelope(&format!(r#"<GetRollupConfiguration xmlns="{SD}"/>"#)),
    )
    .await;
    assert_eq!(r.fault().error_code, None);

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_and_invalidated_cookies_get_invalid_cookie() {
    let server = start_with(LabOptions {
        updates: 1,
        cookie_lifetime: Duration::ZERO,
        ..LabOptions::default()
    })
    .await;
    let s = login(&server.url).await;
    let f = s.call("GetConfigData", "").await.fault();
    assert_eq!(f.error_code.as_deref(), Some("InvalidCookie"));
    server.stop().await;

    let server = start(1).await;
    let s = login(&server.url).await;
    s.call("GetConfigData", "").await.message();
    server.lab.inject(Inject::InvalidateCookies);
    let f = s.call("GetConfigData", "").await.fault();
    assert_eq!(f.error_code.as_deref(), Some("InvalidCookie"));
    // A new cookie works again.
    login(&server.url)
        .await
        .call("GetConfigData", "")
        .await
        .message();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_faults_never_panics() {
    let server = start(1).await;
    let url = &server.url;
    let doctype = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "boom">]><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetAuthConfig xmlns="http://www.microsoft.com/SoftwareDistribution"/></soap:Body></soap:Envelope>"#;
    for body in [
        doctype.to_owned(),
        "not xml at all".to_owned(),
        "<a><b></a>".to_owned(),
        envelope(""),
        "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><x:Op/></soap:Body></soap:Envelope>".to_owned(),
        envelope(&"<a>".repeat(500)),
        String::new(),
    ] {
        let r = post_raw(url, SS, &format!("{SD}/GetAuthConfig"), body).await;
        let f = r.fault();
        assert_eq!(f.error_code, None);
    }
    // Too large a body.
    // The lab may answer before it has read everything, so the client may also see the
    // connection closed under it; either way nothing is served and nothing panics.
    let big = envelope(&format!(
        "<GetAuthConfig xmlns=\"{SD}\">{}</GetAuthConfig>",
        "x".repeat(5 << 20)
    ));
    if let Ok(r) = reqwest::Client::new()
        .post(format!("{url}{SS}"))
        .body(big)
        .send()
        .await
    {
        assert_eq!(r.status(), 500);
    }
    // The server is still fine.
    let r = ss(
        url,
        "GetAuthConfig",
        &format!(r#"<GetAuthConfig xmlns="{SD}"/>"#),
    )
    .await;
    r.message();
    // Wrong methods and unknown paths.
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(format!("{url}{SS}"))
            .send()
            .await
            .expect("GET")
            .status(),
        405
    );
    assert_eq!(
        http.get(format!("{url}/nothing"))
            .send()
            .await
            .expect("GET")
            .status(),
        404
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_are_matched_case_insensitively() {
    let server = start(1).await;
    for path in [
        "/serversyncwebservice/serversyncwebservice.asmx",
        "/SERVERSYNCWEBSERVICE/ServerSyncWebService.ASMX",
        "//ServerSyncWebService/ServerSyncWebService.asmx",
    ] {
        let r = post_raw(
            &server.url,
            path,
            &format!("{SD}/GetAuthConfig"),
            envelope(&format!(r#"<GetAuthConfig xmlns="{SD}"/>"#)),
        )
        .await;
        assert_eq!(r.message().name, "GetAuthConfigResponse", "{path}");
    }
    let r = post_raw(
        &server.url,
        "/dssauthwebservice/DSSAUTHWEBSERVICE.asmx",
        &format!("{DSSAUTH}/GetAuthorizationCookie"),
        envelope(&format!(
            r#"<GetAuthorizationCookie xmlns="{DSSAUTH}"><accountName>x.y</accountName><accountGuid>6f1c2f6e-3f0b-4d3a-9b1e-0d2f6a1c5e12</accountGuid></GetAuthorizationCookie>"#
        )),
    )
    .await;
    r.message();
    server.stop().await;
}

// ---------------------------------------------------------------- deltas

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anchors_give_deltas_after_catalog_and_approval_changes() {
    let server = start(30).await;
    let lab = &server.lab;
    let s = login(&server.url).await;
    let cfg = s.list(true, None, "").await.message();
    let cfg_anchor = anchor_of(&cfg);
    let all = s.list(false, None, "").await.message();
    let sync_anchor = anchor_of(&all);
    let deps = s.deployments(None, &sync_anchor).await.message();
    let dep_anchor = deps
        .path(&["GetDeploymentsResult", "Anchor"])
        .expect("Anchor")
        .text
        .clone();

    // Nothing changed: empty lists (written as <NewRevisions />).
    let r = s.list(false, Some(&sync_anchor), "").await;
    assert!(r.text.contains("<NewRevisions />"));
    assert!(revisions(&r.message()).is_empty());

    // Publish, approve, revoke.
    let added = lab.add_updates(2);
    let group = lab.add_group("Kiosks <&>", ALL_COMPUTERS);
    let new_dep = lab.approve(added[0], group, DeploymentAction::Install);
    let old_dep = lab.deployments()[0].deployment_id;
    assert!(lab.revoke(old_dep));

    let delta = s.list(false, Some(&sync_anchor), "").await.message();
    assert_eq!(revisions(&delta), added);
    let new_anchor = anchor_of(&delta);
    assert_ne!(new_anchor, sync_anchor);
    assert!(revisions(&s.list(true, Some(&cfg_anchor), "").await.message()).is_empty());

    // Delta=false for the subscribed language lists everything again (real 000010).
    let full = s
        .list(
            false,
            Some(&sync_anchor),
            "<Languages><LanguageAndDelta><Id>1033</Id><Delta>false</Delta></LanguageAndDelta></Languages>",
        )
        .await
        .message();
    assert_eq!(revisions(&full).len(), lab.counts().updates);

    let d = s.deployments(Some(&dep_anchor), &new_anchor).await;
    let el = d.message();
    let result = el.child("GetDeploymentsResult").expect("result");
    let guids: Vec<String> = result
        .child("Deployments")
        .expect("Deployments")
        .children_named("ServerSyncDeployment")
        .map(|d| d.child_text("DeploymentGuid").unwrap_or("").to_owned())
        .collect();
    assert_eq!(guids, [new_dep.to_string()]);
    let dead: Vec<String> = result
        .child("DeadDeployments")
        .expect("DeadDeployments")
        .children_named("guid")
        .map(|g| g.text.clone())
        .collect();
    assert_eq!(dead, [old_dep.to_string()]);
    let groups = result.child("Groups").expect("Groups");
    assert_eq!(groups.children.len(), lab.counts().target_groups);
    assert!(d.text.contains("<Name>Kiosks &lt;&amp;&gt;</Name>"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn product_and_classification_filters_select_like_wsus() {
    let server = start(12).await;
    let s = login(&server.url).await;
    let cfg = s.list(true, None, "").await.message();
    let data = s.update_data(&revisions(&cfg)).await.message();
    let (docs, _) = fetched(&data);
    let mut products = Vec::new();
    for d in &docs {
        let parsed = update::parse(&d.xml).expect("parses");
        if d.xml.contains("CategoryType=\"Product\"") {
            products.push(parsed.id.update_id);
        }
    }
    assert_eq!(products.len(), 2);
    let security = "0fa1201d-4330-4fa8-8ae9-b877473b6441";
    let item = |id: &str| format!("<IdAndDelta><Id>{id}</Id><Delta>false</Delta></IdAndDelta>");
    let filter = |cats: &str, classes: &str| {
        format!("<Categories>{cats}</Categories><Classifications>{classes}</Classifications>")
    };
    // Product only (no classifications) → nothing, and no fault (real 000007).
    let only_product = format!(
        "<Categories>{}</Categories>",
        item(&products[0].to_string())
    );
    assert!(revisions(&s.list(false, None, &only_product).await.message()).is_empty());
    // Product ∧ Security Updates → a non-empty strict subset, every one in both.
    let both = s
        .list(
            false,
            None,
            &filter(&item(&products[0].to_string()), &item(security)),
        )
        .await
        .message();
    let picked = revisions(&both);
    assert!(!picked.is_empty() && picked.len() < server.lab.counts().updates);
    let all = s.list(false, None, "").await.message();
    let data = s.update_data(&revisions(&all)).await.message();
    let (docs, _) = fetched(&data);
    for d in docs {
        let parsed = update::parse(&d.xml).expect("parses");
        let cats: Vec<String> = parsed.category_ids().map(|c| c.to_string()).collect();
        let selected =
            cats.contains(&products[0].to_string()) && cats.contains(&security.to_owned());
        if !cats.is_empty() {
            assert_eq!(picked.contains(&d.id), selected, "{}", d.id);
        }
    }
    server.stop().await;
}

// ---------------------------------------------------------------- request log and switches

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_is_recorded() {
    let server = start(3).await;
    let lab = &server.lab;
    let s = login(&server.url).await;
    let list = s
        .list(false, Some("0,2024-01-01 00:00:00.000"), "")
        .await
        .message();
    let ids = revisions(&list);
    s.update_data(&ids[..2]).await.message();
    s.deployments(Some("0,2024-01-01 00:00:00.000"), &anchor_of(&list))
        .await
        .message();
    let log = lab.requests();
    let ops: Vec<&str> = log.iter().map(|r| r.operation.as_str()).collect();
    assert_eq!(
        ops,
        [
            "GetAuthConfig",
            "GetAuthorizationCookie",
            "GetCookie",
            "GetRevisionIdList",
            "GetUpdateData",
            "GetDeployments"
        ]
    );
    assert_eq!(log[1].path, "//DssAuthWebService/DssAuthWebService.asmx");
    assert_eq!(
        log[0].soap_action.as_deref(),
        Some(format!("{SD}/GetAuthConfig").as_str())
    );
    assert_eq!(log[3].anchor.as_deref(), Some("0,2024-01-01 00:00:00.000"));
    assert_eq!(log[3].get_config, Some(false));
    assert_eq!(log[4].update_ids, ids[..2]);
    assert_eq!(log[5].anchor.as_deref(), Some("0,2024-01-01 00:00:00.000"));
    assert!(log[4].body.contains("<GetUpdateData"));
    lab.clear_requests();
    assert!(lab.requests().is_empty());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_switches_fire_for_their_calls_only() {
    let server = start(20).await;
    let lab = &server.lab;
    let s = login(&server.url).await;
    let ids = revisions(&s.list(false, None, "").await.message());

    // WSUS fault for one op, twice; other ops unaffected.
    lab.inject(Inject::Fault {
        op: Some("GetUpdateData".into()),
        code: "ServerBusy".into(),
        count: 2,
    });
    s.call("GetConfigData", "").await.message();
    for _ in 0..2 {
        let f = s.update_data(&ids[..1]).await.fault();
        assert_eq!(
            (f.error_code.as_deref(), f.code.as_str()),
            (Some("ServerBusy"), "Server")
        );
    }
    s.update_data(&ids[..1]).await.message();

    // Op-less fault: the next ServerSync call, whatever it is.
    lab.inject(Inject::Fault {
        op: None,
        code: "ServerChanged".into(),
        count: 1,
    });
    let f = s.call("GetConfigData", "").await.fault();
    assert_eq!(f.error_code.as_deref(), Some("ServerChanged"));

    // Plain HTTP 500.
    lab.inject(Inject::Http500 { op: None, count: 1 });
    let r = s.call("GetConfigData", "").await;
    assert_eq!(r.status, 500);
    assert!(r.content_type.starts_with("text/plain"));
    assert!(soap::parse(r.text.as_bytes(), Limits::default()).is_err());
    s.call("GetConfigData", "").await.message();

    // Truncated GetUpdateData: fewer updates than asked, still valid.
    lab.inject(Inject::TruncateUpdateData { k: 2, count: 1 });
    let (docs, urls) = fetched(&s.update_data(&ids[..5]).await.message());
    assert_eq!(docs.iter().map(|d| d.id).collect::<Vec<_>>(), ids[..2]);
    assert!(urls.len() <= 2);
    assert_eq!(
        fetched(&s.update_data(&ids[..5]).await.message()).0.len(),
        5
    );

    // Malformed XML with HTTP 200.
    lab.inject(Inject::MalformedXml {
        op: Some("GetUpdateData".into()),
        count: 1,
    });
    s.call("GetConfigData", "").await.message();
    let r = s.update_data(&ids[..3]).await;
    assert_eq!(r.status, 200);
    assert!(soap::parse(r.text.as_bytes(), Limits::default()).is_err());

    // Slow: a client with a short timeout gives up; the next call is fast again.
    lab.inject(Inject::Slow {
        op: Some("GetConfigData".into()),
        delay: Duration::from_secs(2),
        count: 1,
    });
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let err = quick
        .post(format!("{}{SS}", server.url))
        .header("SOAPAction", format!("\"{SD}/GetConfigData\""))
        .body(envelope(&format!(
            r#"<GetConfigData xmlns="{SD}">{}</GetConfigData>"#,
            s.cookie
        )))
        .send()
        .await
        .expect_err("times out");
    assert!(err.is_timeout());
    s.call("GetConfigData", "").await.message();

    // Queued switches can be dropped.
    lab.inject(Inject::Http500 {
        op: None,
        count: 10,
    });
    lab.clear_injections();
    s.call("GetConfigData", "").await.message();

    // Content can be failed too.
    lab.inject(Inject::Http500 {
        op: Some("Content".into()),
        count: 1,
    });
    let (docs, _) = fetched(&s.update_data(&ids[..1]).await.message());
    let file = update::parse(&docs[0].xml).expect("parses").files[0].clone();
    let url = format!("{}{}", server.url, file.content_path());
    assert_eq!(reqwest::get(&url).await.expect("GET").status(), 500);
    assert_eq!(reqwest::get(&url).await.expect("GET").status(), 200);
    server.stop().await;
}

// ---------------------------------------------------------------- content

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_is_served_with_ranges_head_and_404() {
    let server = start(3).await;
    let s = login(&server.url).await;
    let ids = revisions(&s.list(false, None, "").await.message());
    let (docs, _) = fetched(&s.update_data(&ids[..1]).await.message());
    let file = update::parse(&docs[0].xml).expect("parses").files[0].clone();
    let url = format!("{}{}", server.url, file.content_path());
    let full = server.lab.file_content(&file.sha1).expect("known file");
    assert_eq!(full.len() as u64, file.size);
    let http = reqwest::Client::new();

    let r = http.get(&url).send().await.expect("GET");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-length"],
        full.len().to_string().as_str()
    );
    assert_eq!(r.headers()["accept-ranges"], "bytes");
    assert_eq!(r.bytes().await.expect("body"), full);

    let r = http
        .get(&url)
        .header("Range", "bytes=10-19")
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 10-19/{}", full.len()).as_str()
    );
    assert_eq!(r.bytes().await.expect("body"), full[10..20]);

    let r = http
        .get(&url)
        .header("Range", "bytes=-5")
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.expect("body"), full[full.len() - 5..]);

    let r = http
        .get(&url)
        .header("Range", format!("bytes={}-", full.len()))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 416);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes */{}", full.len()).as_str()
    );

    let r = http.head(&url).send().await.expect("HEAD");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-length"],
        full.len().to_string().as_str()
    );

    // Lower-case paths work (IIS); a wrong folder, extension or digest is 404.
    let hex = file.sha1.to_hex_upper();
    let lower = format!(
        "{}/content/{}/{}.exe",
        server.url,
        hex[38..].to_lowercase(),
        hex.to_lowercase()
    );
    assert_eq!(http.get(&lower).send().await.expect("GET").status(), 200);
    for bad in [
        format!("/Content/00/{hex}.exe"),
        format!("/Content/{}/{hex}.cab", &hex[38..]),
        format!("/Content/{}/{hex}", &hex[38..]),
        "/Content/00/0000000000000000000000000000000000000000.exe".to_owned(),
        "/Content/zz/not-hex.exe".to_owned(),
        "/Content/".to_owned(),
    ] {
        let r = http
            .get(format!("{}{bad}", server.url))
            .send()
            .await
            .expect("GET");
        assert_eq!(r.status(), 404, "{bad}");
    }
    server.stop().await;
}
