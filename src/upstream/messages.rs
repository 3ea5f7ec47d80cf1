//! The MS-WSUSSS messages a replica DSS exchanges: request bodies written in WSDL sequence
//! order (absent optional elements omitted, never written empty), and pure parsers of the
//! `<OpResponse>` elements that read order-insensitively, skip `xsi:nil` items and treat any
//! malformed value as an `xml::Error` (wsusss.md §1.3, §2). No I/O here, so the real captures
//! can be fed straight in.

use super::{
    blob, ConfigData, DeploymentsDelta, FileUrl, Language, RevisionFilter, RevisionList,
    UpdateData, UpdateDataBatch,
};
use crate::model::{
    parse_wsus_time, Deployment, DeploymentAction, RevisionId, Sha1Digest, TargetGroup,
};
use crate::xml::{self, parse_bool, parse_guid, parse_int, required, Element, Writer};
use crate::xml::{NS_DSSAUTH, NS_SD};
use time::OffsetDateTime;
use uuid::Uuid;

/// One SOAP operation: its body element, namespace and SOAPAction (sent in quotes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Op {
    pub name: &'static str,
    pub ns: &'static str,
    pub action: &'static str,
}

impl Op {
    /// Local name of the answer's body element.
    pub fn response_name(&self) -> String {
        format!("{}Response", self.name)
    }
}

macro_rules! sd_op {
    ($konst:ident, $name:literal) => {
        pub const $konst: Op = Op {
            name: $name,
            ns: NS_SD,
            action: concat!("http://www.microsoft.com/SoftwareDistribution/", $name),
        };
    };
}

sd_op!(GET_AUTH_CONFIG, "GetAuthConfig");
sd_op!(GET_COOKIE, "GetCookie");
sd_op!(GET_CONFIG_DATA, "GetConfigData");
sd_op!(GET_REVISION_ID_LIST, "GetRevisionIdList");
sd_op!(GET_UPDATE_DATA, "GetUpdateData");
sd_op!(GET_DEPLOYMENTS, "GetDeployments");
sd_op!(DOWNLOAD_FILES, "DownloadFiles");

pub const GET_AUTHORIZATION_COOKIE: Op = Op {
    name: "GetAuthorizationCookie",
    ns: NS_DSSAUTH,
    action: "http://www.microsoft.com/SoftwareDistribution/Server/DssAuthWebService/GetAuthorizationCookie",
};

/// The ServerSync session cookie. Both strings are echoed exactly as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie {
    pub expiration: String,
    pub encrypted_data: Option<String>,
    /// `expiration` parsed (UTC when the USS gave no zone), to decide when to refresh.
    pub expires: OffsetDateTime,
}

/// The DssAuth cookie, re-sent inside GetCookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCookie {
    pub plugin_id: Option<String>,
    pub cookie_data: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Request bodies (the element inside soap:Body; `xml::soap::envelope` wraps them).

pub fn get_auth_config() -> String {
    let mut w = Writer::new();
    w.empty_ns("GetAuthConfig", NS_SD);
    w.finish()
}

/// `programKeys` is reserved and "MUST be empty": omitted, as the spec sample does.
pub fn get_authorization_cookie(account_name: &str, account_guid: Uuid) -> String {
    let mut w = Writer::new();
    w.open_ns("GetAuthorizationCookie", NS_DSSAUTH)
        .leaf("accountName", account_name)
        .leaf("accountGuid", account_guid.hyphenated().to_string())
        .close("GetAuthorizationCookie");
    w.finish()
}

/// The AuthorizationCookie is re-serialised in the SoftwareDistribution namespace here.
pub fn get_cookie(
    auth: &AuthorizationCookie,
    old_cookie: Option<&Cookie>,
    protocol_version: &str,
) -> String {
    let mut w = Writer::new();
    w.open_ns("GetCookie", NS_SD)
        .open("authCookies")
        .open("AuthorizationCookie")
        .opt_leaf("PlugInId", auth.plugin_id.as_deref())
        .opt_leaf("CookieData", auth.cookie_data.as_deref())
        .close("AuthorizationCookie")
        .close("authCookies");
    if let Some(old) = old_cookie {
        cookie(&mut w, "oldCookie", old);
    }
    w.leaf("protocolVersion", protocol_version)
        .close("GetCookie");
    w.finish()
}

pub fn get_config_data(c: &Cookie, config_anchor: Option<&str>) -> String {
    let mut w = Writer::new();
    w.open_ns("GetConfigData", NS_SD);
    cookie(&mut w, "cookie", c);
    w.opt_leaf("configAnchor", anchor(config_anchor))
        .close("GetConfigData");
    w.finish()
}

/// `DssProtocolVersion` is never sent; `Get63LanguageOnly` always is (false). The id lists
/// are written exactly as given (the sync engine leaves them out when `get_config`).
pub fn get_revision_id_list(c: &Cookie, filter: &RevisionFilter) -> String {
    let mut w = Writer::new();
    w.open_ns("GetRevisionIdList", NS_SD);
    cookie(&mut w, "cookie", c);
    w.open("filter")
        .opt_leaf("Anchor", anchor(filter.anchor.as_deref()))
        .bool_leaf("GetConfig", filter.get_config)
        .bool_leaf("Get63LanguageOnly", false);
    for (name, list) in [
        ("Categories", &filter.categories),
        ("Classifications", &filter.classifications),
    ] {
        if let Some(items) = list {
            w.open(name);
            for (id, delta) in items {
                w.open("IdAndDelta")
                    .leaf("Id", id.hyphenated().to_string())
                    .bool_leaf("Delta", *delta)
                    .close("IdAndDelta");
            }
            w.close(name);
        }
    }
    if let Some(items) = &filter.languages {
        w.open("Languages");
        for (lcid, delta) in items {
            w.open("LanguageAndDelta")
                .leaf("Id", lcid.to_string())
                .bool_leaf("Delta", *delta)
                .close("LanguageAndDelta");
        }
        w.close("Languages");
    }
    w.close("filter").close("GetRevisionIdList");
    w.finish()
}

pub fn get_update_data(c: &Cookie, ids: &[RevisionId]) -> String {
    let mut w = Writer::new();
    w.open_ns("GetUpdateData", NS_SD);
    cookie(&mut w, "cookie", c);
    w.open("updateIds");
    for id in ids {
        w.open("UpdateIdentity")
            .leaf("UpdateID", id.update_id.hyphenated().to_string())
            .leaf("RevisionNumber", id.revision.to_string())
            .close("UpdateIdentity");
    }
    w.close("updateIds").close("GetUpdateData");
    w.finish()
}

pub fn get_deployments(c: &Cookie, deployment_anchor: Option<&str>, sync_anchor: &str) -> String {
    let mut w = Writer::new();
    w.open_ns("GetDeployments", NS_SD);
    cookie(&mut w, "cookie", c);
    w.opt_leaf("deploymentAnchor", anchor(deployment_anchor))
        .leaf("syncAnchor", sync_anchor)
        .close("GetDeployments");
    w.finish()
}

pub fn download_files(c: &Cookie, digests: &[Sha1Digest]) -> String {
    let mut w = Writer::new();
    w.open_ns("DownloadFiles", NS_SD);
    cookie(&mut w, "cookie", c);
    w.open("fileDigestList");
    for d in digests {
        w.leaf("base64Binary", d.to_base64());
    }
    w.close("fileDigestList").close("DownloadFiles");
    w.finish()
}

/// An anchor to send: an empty one is no anchor (the element is omitted, never empty).
fn anchor(a: Option<&str>) -> Option<&str> {
    a.filter(|a| !a.trim().is_empty())
}

fn cookie(w: &mut Writer, name: &str, c: &Cookie) {
    w.open(name)
        .leaf("Expiration", &c.expiration)
        .opt_leaf("EncryptedData", c.encrypted_data.as_deref())
        .close(name);
}

// ---------------------------------------------------------------------------------------
// Response parsers: each takes the `<OpResponse>` element.

/// The DssAuth `ServiceUrl` (relative like `DssAuthWebService/DssAuthWebService.asmx`, or
/// absolute). Prefers the `DssTargeting` plug-in, else the first one with a URL.
pub fn parse_auth_config(resp: &Element) -> Result<String, xml::Error> {
    let result = required(resp, "GetAuthConfigResult")?;
    let plugins: Vec<&Element> = items(result.child("AuthInfo"), "AuthPlugInInfo")
        .filter(|p| {
            p.child_text("ServiceUrl")
                .is_some_and(|u| !u.trim().is_empty())
        })
        .collect();
    let chosen = plugins
        .iter()
        .find(|p| p.child_text("PlugInID").map(str::trim) == Some("DssTargeting"))
        .or_else(|| plugins.first())
        .ok_or_else(|| {
            xml::Error::Missing("GetAuthConfigResult/AuthInfo/AuthPlugInInfo/ServiceUrl".into())
        })?;
    Ok(chosen
        .child_text("ServiceUrl")
        .unwrap_or_default()
        .trim()
        .to_owned())
}

pub fn parse_authorization_cookie(resp: &Element) -> Result<AuthorizationCookie, xml::Error> {
    let result = required(resp, "GetAuthorizationCookieResult")?;
    Ok(AuthorizationCookie {
        plugin_id: present(result, "PlugInId").map(|e| e.text.clone()),
        cookie_data: present(result, "CookieData").map(|e| e.text.clone()),
    })
}

pub fn parse_cookie(resp: &Element) -> Result<Cookie, xml::Error> {
    let result = required(resp, "GetCookieResult")?;
    let exp = required(result, "Expiration")?;
    let expires = parse_wsus_time(&exp.text).map_err(|_| xml::bad("Expiration", &exp.text))?;
    Ok(Cookie {
        expiration: exp.text.clone(),
        encrypted_data: present(result, "EncryptedData").map(|e| e.text.clone()),
        expires,
    })
}

/// Read in any order (the spec and the WSDL disagree on it). Missing booleans read as
/// false; the per-request limits are clamped to 100 when absent or not positive.
pub fn parse_config_data(resp: &Element) -> Result<ConfigData, xml::Error> {
    let r = required(resp, "GetConfigDataResult")?;
    let flag = |name| opt(r, name, parse_bool).map(Option::unwrap_or_default);
    let limit = |name| {
        opt(r, name, parse_int::<i64>).map(|v| match v {
            Some(n) if n > 0 => u32::try_from(n).unwrap_or(u32::MAX),
            _ => 100,
        })
    };
    let mut languages = Vec::new();
    for item in items(r.child("LanguageUpdateList"), "ServerSyncLanguageData") {
        languages.push(Language {
            id: parse_int(required(item, "LanguageID")?)?,
            short: item
                .child_text("ShortLanguage")
                .unwrap_or_default()
                .trim()
                .to_owned(),
            long: item
                .child_text("LongLanguage")
                .unwrap_or_default()
                .trim()
                .to_owned(),
            enabled: parse_bool(required(item, "Enabled")?)?,
        });
    }
    Ok(ConfigData {
        catalog_only_sync: flag("CatalogOnlySync")?,
        lazy_sync: flag("LazySync")?,
        server_hosts_psf_files: flag("ServerHostsPsfFiles")?,
        max_updates_per_request: limit("MaxNumberOfUpdatesPerRequest")?,
        max_updates_per_decryption_request: limit("MaxUpdatesPerRequestInGetUpdateDecryptionData")?,
        new_config_anchor: non_empty_raw(r, "NewConfigAnchor"),
        protocol_version: present(r, "ProtocolVersion")
            .map(|e| e.text.trim().to_owned())
            .filter(|v| !v.is_empty()),
        languages,
    })
}

/// Every listed pair is kept, in order, repeats included (the GetConfig=true list names
/// several revisions of one UpdateID).
pub fn parse_revision_id_list(resp: &Element) -> Result<RevisionList, xml::Error> {
    let r = required(resp, "GetRevisionIdListResult")?;
    let anchor = non_empty_raw(r, "Anchor")
        .ok_or_else(|| xml::Error::Missing("GetRevisionIdListResult/Anchor".into()))?;
    let revisions = items(r.child("NewRevisions"), "UpdateIdentity")
        .map(soap_identity)
        .collect::<Result<_, _>>()?;
    Ok(RevisionList { anchor, revisions })
}

/// Decodes each blob (escaped text or base64 CAB), checks that the document parses and that
/// its own UpdateIdentity is the `Id` it was sent under (GUIDs compared as GUIDs: documents
/// keep their own case).
pub fn parse_update_data(resp: &Element) -> Result<UpdateDataBatch, xml::Error> {
    let r = required(resp, "GetUpdateDataResult")?;
    let mut updates = Vec::new();
    for item in items(r.child("updates"), "ServerSyncUpdateData") {
        let id = soap_identity(required(item, "Id")?)?;
        let (xml, compressed) = match (
            present(item, "XmlUpdateBlob"),
            present(item, "XmlUpdateBlobCompressed"),
        ) {
            (Some(plain), None) => {
                if plain.text.trim().is_empty() && !plain.children.is_empty() {
                    return Err(xml::Error::Document(format!(
                        "{id}: XmlUpdateBlob holds markup instead of escaped text"
                    )));
                }
                (xml::update::decode_blob(plain.text.as_bytes())?, false)
            }
            (None, Some(packed)) => (
                blob::decode_compressed_blob(&packed.text)
                    .map_err(|e| xml::Error::Document(format!("{id}: {e}")))?,
                true,
            ),
            (Some(_), Some(_)) => {
                return Err(xml::Error::Document(format!(
                    "{id}: both XmlUpdateBlob and XmlUpdateBlobCompressed"
                )))
            }
            (None, None) => {
                return Err(xml::Error::Missing(format!(
                    "ServerSyncUpdateData {id}: XmlUpdateBlob or XmlUpdateBlobCompressed"
                )))
            }
        };
        let doc =
            xml::update::parse(&xml).map_err(|e| xml::Error::Document(format!("{id}: {e}")))?;
        if doc.id != id {
            return Err(xml::Error::Document(format!(
                "the document sent as {id} is {}",
                doc.id
            )));
        }
        let file_digests = items(item.child("FileDigestList"), "base64Binary")
            .map(|d| sha1(&d.text))
            .collect::<Result<_, _>>()?;
        updates.push(UpdateData {
            id,
            xml,
            doc,
            file_digests,
            compressed,
        });
    }
    let mut file_urls: Vec<FileUrl> = Vec::new();
    for item in items(r.child("fileUrls"), "ServerSyncUrlData") {
        let digest = sha1(&required(item, "FileDigest")?.text)?;
        let mu_url = non_empty_raw(item, "MUUrl").map(|u| u.trim().to_owned());
        match file_urls.iter_mut().find(|f| f.digest == digest) {
            Some(seen) => {
                if seen.mu_url.is_none() {
                    seen.mu_url = mu_url;
                }
            }
            None => file_urls.push(FileUrl { digest, mu_url }),
        }
    }
    Ok(UpdateDataBatch { updates, file_urls })
}

pub fn parse_deployments(resp: &Element) -> Result<DeploymentsDelta, xml::Error> {
    let r = required(resp, "GetDeploymentsResult")?;
    let anchor = non_empty_raw(r, "Anchor")
        .ok_or_else(|| xml::Error::Missing("GetDeploymentsResult/Anchor".into()))?;
    let mut groups = Vec::new();
    for g in items(r.child("Groups"), "ServerSyncTargetGroup") {
        let parent = present(g, "ParentGroupId")
            .map(|p| parse_guid("ParentGroupId", &p.text))
            .transpose()?
            .filter(|p| !p.is_nil());
        groups.push(TargetGroup {
            id: guid(required(g, "TargetGroupID")?)?,
            parent,
            name: g.child_text("Name").unwrap_or_default().to_owned(),
            is_builtin: opt(g, "IsBuiltin", parse_bool)?.unwrap_or(false),
        });
    }
    let mut deployments = Vec::new();
    for d in items(r.child("Deployments"), "ServerSyncDeployment") {
        deployments.push(deployment(d)?);
    }
    let guids = |name: &str| {
        items(r.child(name), "guid")
            .map(guid)
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(DeploymentsDelta {
        anchor,
        groups,
        deployments,
        dead: guids("DeadDeployments")?,
        hidden: guids("HiddenUpdates")?,
        accepted_eulas: guids("AcceptedEulas")?,
    })
}

/// `<DownloadFilesResponse/>` carries nothing.
pub fn parse_download_files(_resp: &Element) -> Result<(), xml::Error> {
    Ok(())
}

fn deployment(d: &Element) -> Result<Deployment, xml::Error> {
    let action_el = required(d, "Action")?;
    let code: i32 = parse_int(action_el)?;
    let action =
        DeploymentAction::from_code(code).ok_or_else(|| xml::bad("Action", &action_el.text))?;
    let deadline = match present(d, "Deadline") {
        Some(el) => {
            let t = parse_wsus_time(&el.text).map_err(|_| xml::bad("Deadline", &el.text))?;
            // 9999-12-31T23:59:59.9999999 is "no deadline"; any time in year 9999 reads so.
            (t.year() < 9999).then(|| el.text.trim().to_owned())
        }
        None => None,
    };
    let go_live = required(d, "GoLiveTime")?;
    parse_wsus_time(&go_live.text).map_err(|_| xml::bad("GoLiveTime", &go_live.text))?;
    Ok(Deployment {
        deployment_id: guid(required(d, "DeploymentGuid")?)?,
        revision: RevisionId::new(
            guid(required(d, "UpdateId")?)?,
            parse_int(required(d, "RevisionNumber")?)?,
        ),
        action,
        admin_name: present(d, "AdminName").map(|e| e.text.clone()),
        deadline,
        is_assigned: opt(d, "IsAssigned", parse_bool)?.unwrap_or(false),
        go_live_time: go_live.text.trim().to_owned(),
        target_group: guid(required(d, "TargetGroupId")?)?,
        download_priority: opt(d, "DownloadPriority", parse_int::<u8>)?.unwrap_or(1),
    })
}

/// `<UpdateIdentity><UpdateID>…</UpdateID><RevisionNumber>…</RevisionNumber>` (SOAP form).
fn soap_identity(el: &Element) -> Result<RevisionId, xml::Error> {
    Ok(RevisionId::new(
        guid(required(el, "UpdateID")?)?,
        parse_int(required(el, "RevisionNumber")?)?,
    ))
}

fn guid(el: &Element) -> Result<Uuid, xml::Error> {
    parse_guid(&el.name, &el.text)
}

fn sha1(text: &str) -> Result<Sha1Digest, xml::Error> {
    Sha1Digest::from_base64(text).map_err(|_| xml::bad("FileDigest", text))
}

/// Non-nil items of an array wrapper (an absent wrapper is an empty array).
fn items<'a>(
    wrapper: Option<&'a Element>,
    item: &'a str,
) -> impl Iterator<Item = &'a Element> + 'a {
    wrapper
        .into_iter()
        .flat_map(move |w| w.children_named(item))
        .filter(|e| !e.is_nil())
}

/// A child that is present and not `xsi:nil`.
fn present<'a>(el: &'a Element, name: &str) -> Option<&'a Element> {
    el.child(name).filter(|c| !c.is_nil())
}

/// An optional typed child.
fn opt<T>(
    el: &Element,
    name: &str,
    parse: impl Fn(&Element) -> Result<T, xml::Error>,
) -> Result<Option<T>, xml::Error> {
    present(el, name).map(parse).transpose()
}

/// Raw text of an opaque string (anchors): kept byte for byte; empty counts as absent, so
/// that nobody ever echoes `<Anchor/>`.
fn non_empty_raw(el: &Element, name: &str) -> Option<String> {
    present(el, name)
        .map(|e| e.text.clone())
        .filter(|t| !t.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::soap;

    fn cookie() -> Cookie {
        Cookie {
            expiration: "2026-10-04T20:33:26.65455Z".into(),
            encrypted_data: Some("AAAA".into()),
            expires: parse_wsus_time("2026-10-04T20:33:26.65455Z").unwrap(),
        }
    }

    fn names(el: &Element) -> Vec<&str> {
        el.children.iter().map(|c| c.name.as_str()).collect()
    }

    fn parse(body: &str) -> Element {
        Element::parse(body.as_bytes()).unwrap()
    }

    #[test]
    fn get_cookie_is_in_wsdl_order_and_echoes_the_old_cookie() {
        let auth = AuthorizationCookie {
            plugin_id: Some("DssTargeting".into()),
            cookie_data: Some("QUJD".into()),
        };
        let first = parse(&get_cookie(&auth, None, "1.20"));
        assert_eq!(
            (first.ns.as_str(), first.name.as_str()),
            (NS_SD, "GetCookie")
        );
        assert_eq!(names(&first), ["authCookies", "protocolVersion"]);
        let ac = first.path(&["authCookies", "AuthorizationCookie"]).unwrap();
        assert_eq!(ac.ns, NS_SD);
        assert_eq!(names(ac), ["PlugInId", "CookieData"]);
        assert_eq!(ac.child_text("CookieData"), Some("QUJD"));

        let again = parse(&get_cookie(&auth, Some(&cookie()), "1.20"));
        assert_eq!(
            names(&again),
            ["authCookies", "oldCookie", "protocolVersion"]
        );
        let old = again.child("oldCookie").unwrap();
        assert_eq!(names(old), ["Expiration", "EncryptedData"]);
        assert_eq!(
            old.child_text("Expiration"),
            Some("2026-10-04T20:33:26.65455Z")
        );
        assert_eq!(again.child_text("protocolVersion"), Some("1.20"));
    }

    #[test]
    fn authorization_request_is_in_the_dssauth_namespace() {
        let id = Uuid::parse_str("6F1C2F6E-3F0B-4D3A-9B1E-0D2F6A1C5E12").unwrap();
        let el = parse(&get_authorization_cookie("outpost.example", id));
        assert_eq!(el.ns, NS_DSSAUTH);
        assert_eq!(names(&el), ["accountName", "accountGuid"]);
        assert_eq!(
            el.child_text("accountGuid"),
            Some("6f1c2f6e-3f0b-4d3a-9b1e-0d2f6a1c5e12")
        );
        assert!(el.children.iter().all(|c| c.ns == NS_DSSAUTH));
        let ac = parse(&get_auth_config());
        assert_eq!((ac.ns.as_str(), ac.name.as_str()), (NS_SD, "GetAuthConfig"));
    }

    #[test]
    fn first_calls_omit_anchors_instead_of_sending_them_empty() {
        let el = parse(&get_config_data(&cookie(), None));
        assert_eq!(names(&el), ["cookie"]);
        let el = parse(&get_config_data(
            &cookie(),
            Some("9438,2026-10-04 16:09:27.167"),
        ));
        assert_eq!(names(&el), ["cookie", "configAnchor"]);
        assert_eq!(
            el.child_text("configAnchor"),
            Some("9438,2026-10-04 16:09:27.167")
        );

        let el = parse(&get_revision_id_list(
            &cookie(),
            &RevisionFilter {
                get_config: true,
                ..RevisionFilter::default()
            },
        ));
        assert_eq!(names(&el), ["cookie", "filter"]);
        let f = el.child("filter").unwrap();
        assert_eq!(names(f), ["GetConfig", "Get63LanguageOnly"]);
        assert_eq!(f.child_text("GetConfig"), Some("true"));
        assert_eq!(f.child_text("Get63LanguageOnly"), Some("false"));

        let el = parse(&get_config_data(&cookie(), Some("")));
        assert_eq!(names(&el), ["cookie"], "an empty anchor is no anchor");
        let el = parse(&get_deployments(&cookie(), None, "9438,x"));
        assert_eq!(names(&el), ["cookie", "syncAnchor"]);
        let el = parse(&get_deployments(&cookie(), Some("1,y"), "9438,x"));
        assert_eq!(names(&el), ["cookie", "deploymentAnchor", "syncAnchor"]);
    }

    #[test]
    fn full_filter_is_in_wsdl_order() {
        let product = Uuid::parse_str("8c3fcc84-7410-4a95-8b89-a166a0190486").unwrap();
        let class = Uuid::parse_str("E0789628-CE08-4437-BE74-2495B842F43B").unwrap();
        let el = parse(&get_revision_id_list(
            &cookie(),
            &RevisionFilter {
                anchor: Some("9438,2026-10-04 16:09:27.371".into()),
                get_config: false,
                categories: Some(vec![(product, false)]),
                classifications: Some(vec![(class, true)]),
                languages: Some(vec![(1033, true), (66577, false)]),
            },
        ));
        let f = el.child("filter").unwrap();
        assert_eq!(
            names(f),
            [
                "Anchor",
                "GetConfig",
                "Get63LanguageOnly",
                "Categories",
                "Classifications",
                "Languages"
            ]
        );
        let item = f.path(&["Classifications", "IdAndDelta"]).unwrap();
        assert_eq!(names(item), ["Id", "Delta"]);
        assert_eq!(
            item.child_text("Id"),
            Some("e0789628-ce08-4437-be74-2495b842f43b")
        );
        let langs: Vec<_> = f
            .child("Languages")
            .unwrap()
            .children_named("LanguageAndDelta")
            .map(|l| (l.child_text("Id").unwrap(), l.child_text("Delta").unwrap()))
            .collect();
        assert_eq!(langs, [("1033", "true"), ("66577", "false")]);
    }

    #[test]
    fn update_ids_and_digests_are_written_as_arrays() {
        let id = RevisionId::new(Uuid::from_u128(0xA2FEF9B0_7951_4C2C_A42B_9E351DD1C1FE), 200);
        let el = parse(&get_update_data(
            &cookie(),
            &[id, RevisionId::new(id.update_id, 1)],
        ));
        assert_eq!(names(&el), ["cookie", "updateIds"]);
        let ids: Vec<_> = el.child("updateIds").unwrap().children.iter().collect();
        assert_eq!(ids.len(), 2);
        assert_eq!(names(ids[0]), ["UpdateID", "RevisionNumber"]);
        assert_eq!(soap_identity(ids[0]).unwrap(), id);

        let d = Sha1Digest::from_base64("h/W9BGlYUAaqXTp30cZi/SiV3c0=").unwrap();
        let el = parse(&download_files(&cookie(), &[d]));
        assert_eq!(names(&el), ["cookie", "fileDigestList"]);
        assert_eq!(
            el.path(&["fileDigestList", "base64Binary"]).unwrap().text,
            "h/W9BGlYUAaqXTp30cZi/SiV3c0="
        );
    }

    #[test]
    fn config_data_reads_any_order_and_clamps_limits() {
        let xml = format!(
            r#"<GetConfigDataResponse xmlns="{NS_SD}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><GetConfigDataResult>
            <MaxNumberOfUpdatesPerRequest>0</MaxNumberOfUpdatesPerRequest>
            <LanguageUpdateList><ServerSyncLanguageData xsi:nil="true"/><ServerSyncLanguageData><Enabled>1</Enabled><LanguageID>1033</LanguageID><ShortLanguage>en</ShortLanguage><LongLanguage>English</LongLanguage></ServerSyncLanguageData></LanguageUpdateList>
            <LazySync>true</LazySync><NewConfigAnchor /></GetConfigDataResult></GetConfigDataResponse>"#
        );
        let c = parse_config_data(&parse(&xml)).unwrap();
        assert!(c.lazy_sync && !c.catalog_only_sync && !c.server_hosts_psf_files);
        assert_eq!(c.max_updates_per_request, 100);
        assert_eq!(c.max_updates_per_decryption_request, 100);
        assert_eq!(c.new_config_anchor, None);
        assert_eq!(c.protocol_version, None);
        assert_eq!(
            c.languages,
            [Language {
                id: 1033,
                short: "en".into(),
                long: "English".into(),
                enabled: true
            }]
        );
        let bad = xml.replace("<LazySync>true", "<LazySync>yes");
        assert!(parse_config_data(&parse(&bad)).is_err());
    }

    #[test]
    fn deployments_parse_with_defaults_and_sentinels() {
        let xml = format!(
            r#"<GetDeploymentsResponse xmlns="{NS_SD}"><GetDeploymentsResult>
            <Anchor>77,2026-10-04 16:33:26.671</Anchor>
            <Groups>
              <ServerSyncTargetGroup><TargetGroupID>A0A08746-4DBE-4A37-9ADF-9E7652C0B421</TargetGroupID><ParentGroupId>00000000-0000-0000-0000-000000000000</ParentGroupId><Name>All Computers</Name><IsBuiltin>true</IsBuiltin></ServerSyncTargetGroup>
              <ServerSyncTargetGroup><TargetGroupID>b73ca6ed-5727-47f3-84de-015e03f6a88a</TargetGroupID><Name>Unassigned Computers</Name><IsBuiltin>true</IsBuiltin></ServerSyncTargetGroup>
              <ServerSyncTargetGroup><TargetGroupID>11111111-2222-3333-4444-555555555555</TargetGroupID><ParentGroupId>a0a08746-4dbe-4a37-9adf-9e7652c0b421</ParentGroupId><Name>Servers</Name><IsBuiltin>false</IsBuiltin></ServerSyncTargetGroup>
            </Groups>
            <Deployments><ServerSyncDeployment><UpdateId>266f6222-c89d-43f2-9f8a-69340271e677</UpdateId><RevisionNumber>200</RevisionNumber><Action>0</Action><AdminName>WUS Server</AdminName><Deadline>9999-12-31T23:59:59.9999999</Deadline><IsAssigned>true</IsAssigned><GoLiveTime>2006-05-24T15:37:08.887</GoLiveTime><DeploymentGuid>0e0e0e0e-0000-0000-0000-000000000001</DeploymentGuid><TargetGroupId>a0a08746-4dbe-4a37-9adf-9e7652c0b421</TargetGroupId><DownloadPriority>1</DownloadPriority></ServerSyncDeployment>
            <ServerSyncDeployment><UpdateId>266f6222-c89d-43f2-9f8a-69340271e677</UpdateId><RevisionNumber>200</RevisionNumber><Action>3</Action><Deadline>2026-11-01T00:00:00Z</Deadline><IsAssigned>false</IsAssigned><GoLiveTime>2006-05-24T15:37:08.887</GoLiveTime><DeploymentGuid>0e0e0e0e-0000-0000-0000-000000000002</DeploymentGuid><TargetGroupId>11111111-2222-3333-4444-555555555555</TargetGroupId><DownloadPriority>3</DownloadPriority></ServerSyncDeployment></Deployments>
            <DeadDeployments><guid>0e0e0e0e-0000-0000-0000-000000000009</guid></DeadDeployments>
            <HiddenUpdates /><AcceptedEulas><guid>ABCDEF00-0000-0000-0000-000000000000</guid></AcceptedEulas>
            </GetDeploymentsResult></GetDeploymentsResponse>"#
        );
        let d = parse_deployments(&parse(&xml)).unwrap();
        assert_eq!(d.anchor, "77,2026-10-04 16:33:26.671");
        assert_eq!(d.groups.len(), 3);
        assert_eq!(d.groups[0].id, crate::model::ALL_COMPUTERS);
        assert_eq!(d.groups[0].parent, None);
        assert_eq!(d.groups[1].parent, None);
        assert_eq!(d.groups[2].parent, Some(crate::model::ALL_COMPUTERS));
        assert_eq!(d.deployments.len(), 2);
        let (a, b) = (&d.deployments[0], &d.deployments[1]);
        assert_eq!(a.action, DeploymentAction::Install);
        assert_eq!(a.deadline, None);
        assert_eq!(a.admin_name.as_deref(), Some("WUS Server"));
        assert!(a.is_assigned);
        assert_eq!(a.go_live_time, "2006-05-24T15:37:08.887");
        assert_eq!(b.action, DeploymentAction::Block);
        assert_eq!(b.deadline.as_deref(), Some("2026-11-01T00:00:00Z"));
        assert_eq!(b.download_priority, 3);
        assert_eq!(d.dead.len(), 1);
        assert!(d.hidden.is_empty());
        assert_eq!(d.accepted_eulas, [Uuid::from_u128(0xABCDEF00 << 96)]);

        for (from, to) in [
            ("<Action>3</Action>", "<Action>7</Action>"),
            ("<DownloadPriority>3<", "<DownloadPriority>300<"),
            ("<Deadline>2026-11-01T00:00:00Z", "<Deadline>soon"),
            ("<guid>0e0e0e0e-0000-0000-0000-000000000009", "<guid>nope"),
        ] {
            let bad = xml.replace(from, to);
            assert!(parse_deployments(&parse(&bad)).is_err(), "{to}");
        }
    }

    #[test]
    fn revision_list_needs_an_anchor_and_skips_nil_items() {
        let xml = format!(
            r#"<GetRevisionIdListResponse xmlns="{NS_SD}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><GetRevisionIdListResult><Anchor>1,a</Anchor><NewRevisions><UpdateIdentity xsi:nil="true"/><UpdateIdentity><RevisionNumber>5</RevisionNumber><UpdateID>E6CF1350-C01B-414D-A61F-263D14D133B4</UpdateID></UpdateIdentity></NewRevisions></GetRevisionIdListResult></GetRevisionIdListResponse>"#
        );
        let l = parse_revision_id_list(&parse(&xml)).unwrap();
        assert_eq!(l.revisions.len(), 1);
        assert_eq!(l.revisions[0].revision, 5);
        let no_anchor = xml.replace("<Anchor>1,a</Anchor>", "<Anchor />");
        assert!(parse_revision_id_list(&parse(&no_anchor)).is_err());
        let bad_rev = xml.replace(">5<", ">five<");
        assert!(parse_revision_id_list(&parse(&bad_rev)).is_err());
    }

    #[test]
    fn update_data_rejects_a_document_that_names_another_update() {
        let doc = r#"<upd:Update xmlns:upd="http://schemas.microsoft.com/msus/2002/12/Update"><upd:UpdateIdentity UpdateID="E6CF1350-C01B-414D-A61F-263D14D133B4" RevisionNumber="100"/><upd:Properties UpdateType="Category"/></upd:Update>"#;
        let mut w = Writer::new();
        w.open_ns("GetUpdateDataResponse", NS_SD)
            .open("GetUpdateDataResult")
            .open("updates")
            .open("ServerSyncUpdateData")
            .open("Id")
            .leaf("UpdateID", "e6cf1350-c01b-414d-a61f-263d14d133b4")
            .leaf("RevisionNumber", "100")
            .close("Id")
            .leaf("XmlUpdateBlob", doc)
            .close("ServerSyncUpdateData")
            .close("updates")
            .empty("fileUrls")
            .close("GetUpdateDataResult")
            .close("GetUpdateDataResponse");
        let good = w.finish();
        let batch = parse_update_data(&parse(&good)).unwrap();
        assert_eq!(batch.updates[0].xml, doc);
        assert!(!batch.updates[0].compressed);
        assert!(batch.file_urls.is_empty());

        let other_rev = good.replace(">100<", ">101<");
        assert!(matches!(
            parse_update_data(&parse(&other_rev)),
            Err(xml::Error::Document(_))
        ));
        let garbage = good.replace("upd:Properties", "upd:Properties x=");
        assert!(parse_update_data(&parse(&garbage)).is_err());
        let neither = good.replace("XmlUpdateBlob", "Other");
        assert!(parse_update_data(&parse(&neither)).is_err());
        let bad_cab = good.replace("XmlUpdateBlob", "XmlUpdateBlobCompressed");
        assert!(parse_update_data(&parse(&bad_cab)).is_err());
    }

    #[test]
    fn auth_config_prefers_dss_targeting_and_needs_a_url() {
        let xml = |plugins: &str| {
            format!(
                r#"<GetAuthConfigResponse xmlns="{NS_SD}"><GetAuthConfigResult><LastChange>2026-10-04T13:16:35.433Z</LastChange><AuthInfo>{plugins}</AuthInfo></GetAuthConfigResult></GetAuthConfigResponse>"#
            )
        };
        let two = xml("<AuthPlugInInfo><PlugInID>Other</PlugInID><ServiceUrl>o.asmx</ServiceUrl></AuthPlugInInfo><AuthPlugInInfo><PlugInID>DssTargeting</PlugInID><ServiceUrl>/Dss/a.asmx</ServiceUrl></AuthPlugInInfo>");
        assert_eq!(parse_auth_config(&parse(&two)).unwrap(), "/Dss/a.asmx");
        let none =
            xml("<AuthPlugInInfo><PlugInID>DssTargeting</PlugInID><ServiceUrl /></AuthPlugInInfo>");
        assert!(parse_auth_config(&parse(&none)).is_err());
    }

    #[test]
    fn cookie_expiration_is_kept_raw_and_parsed() {
        let xml = format!(
            r#"<GetCookieResponse xmlns="{NS_SD}"><GetCookieResult><Expiration>2026-10-04T20:33:26.65455Z</Expiration><EncryptedData>AA==</EncryptedData></GetCookieResult></GetCookieResponse>"#
        );
        let c = parse_cookie(&parse(&xml)).unwrap();
        assert_eq!(c.expiration, "2026-10-04T20:33:26.65455Z");
        assert_eq!(c.encrypted_data.as_deref(), Some("AA=="));
        assert_eq!(c.expires.hour(), 20);
        assert!(parse_cookie(&parse(&xml.replace("2026-10-04T", "tomorrow"))).is_err());
        // The writer echoes the exact string.
        let body = get_config_data(&c, None);
        assert!(body.contains("<Expiration>2026-10-04T20:33:26.65455Z</Expiration><EncryptedData>AA==</EncryptedData>"));
        let _ = soap::envelope(&body);
    }
}
