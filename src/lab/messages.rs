//! Response bodies (the element inside `soap:Body`) in WSDL sequence order and in the exact
//! shape real WSUS 2025 sends (samples/real-wsusss/exchanges): empty collections as
//! `<X />`, `<UssUrl />`, lower-case GUIDs. Pure functions of their inputs.

use crate::model::{Deployment, RevisionId, Sha1Digest, TargetGroup, NO_DEADLINE};
use crate::xml::{Writer, NS_DSSAUTH, NS_SD};
use uuid::Uuid;

/// One row of `LanguageUpdateList`.
pub(super) struct Language {
    pub id: i32,
    pub short: &'static str,
    pub long: &'static str,
    pub enabled: bool,
}

/// What an English-only WSUS announces (the `0/all/all` row first, wsusss.md §2.2).
pub(super) const LANGUAGES: [Language; 5] = [
    Language {
        id: 0,
        short: "all",
        long: "all",
        enabled: false,
    },
    Language {
        id: 1031,
        short: "de",
        long: "German",
        enabled: false,
    },
    Language {
        id: 1033,
        short: "en",
        long: "English",
        enabled: true,
    },
    Language {
        id: 1036,
        short: "fr",
        long: "French",
        enabled: false,
    },
    Language {
        id: 1041,
        short: "ja",
        long: "Japanese",
        enabled: false,
    },
];

pub(super) fn auth_config(last_change: &str) -> String {
    let mut w = Writer::new();
    w.open_ns("GetAuthConfigResponse", NS_SD)
        .open("GetAuthConfigResult")
        .leaf("LastChange", last_change)
        .open("AuthInfo")
        .open("AuthPlugInInfo")
        .leaf("PlugInID", "DssTargeting")
        .leaf("ServiceUrl", "DssAuthWebService/DssAuthWebService.asmx")
        .raw("<Parameter />")
        .close("AuthPlugInInfo")
        .close("AuthInfo")
        .close("GetAuthConfigResult")
        .close("GetAuthConfigResponse");
    w.finish()
}

pub(super) fn authorization_cookie(cookie_data: &str) -> String {
    let mut w = Writer::new();
    w.open_ns("GetAuthorizationCookieResponse", NS_DSSAUTH)
        .open("GetAuthorizationCookieResult")
        .leaf("PlugInId", "DssTargeting")
        .leaf("CookieData", cookie_data)
        .close("GetAuthorizationCookieResult")
        .close("GetAuthorizationCookieResponse");
    w.finish()
}

pub(super) fn cookie(expiration: &str, encrypted_data: &str) -> String {
    let mut w = Writer::new();
    w.open_ns("GetCookieResponse", NS_SD)
        .open("GetCookieResult")
        .leaf("Expiration", expiration)
        .leaf("EncryptedData", encrypted_data)
        .close("GetCookieResult")
        .close("GetCookieResponse");
    w.finish()
}

/// ServerSyncConfigData in WSDL 6.1 order (as the real WSUS sends it).
pub(super) fn config_data(max_updates: u32, anchor: &str, languages: &[Language]) -> String {
    let mut w = Writer::new();
    w.open_ns("GetConfigDataResponse", NS_SD)
        .open("GetConfigDataResult")
        .bool_leaf("CatalogOnlySync", false)
        .bool_leaf("LazySync", false)
        .bool_leaf("ServerHostsPsfFiles", false)
        .leaf("MaxNumberOfComputerIdsInRequest", "0")
        .leaf("MaxNumberOfDriverSetsPerRequest", "0")
        .leaf("MaxNumberOfPnpHardwareIdsInRequest", "0")
        .leaf("MaxNumberOfUpdatesPerRequest", max_updates.to_string())
        .leaf("NewConfigAnchor", anchor)
        .leaf("ProtocolVersion", "1.20");
    collection(&mut w, "LanguageUpdateList", languages, |w, l| {
        w.open("ServerSyncLanguageData")
            .leaf("LanguageID", l.id.to_string())
            .leaf("ShortLanguage", l.short)
            .leaf("LongLanguage", l.long)
            .bool_leaf("Enabled", l.enabled)
            .close("ServerSyncLanguageData");
    });
    w.leaf("MaxUpdatesPerRequestInGetUpdateDecryptionData", "100")
        .close("GetConfigDataResult")
        .close("GetConfigDataResponse");
    w.finish()
}

pub(super) fn revision_id_list(anchor: &str, ids: &[RevisionId]) -> String {
    let mut w = Writer::new();
    w.open_ns("GetRevisionIdListResponse", NS_SD)
        .open("GetRevisionIdListResult")
        .leaf("Anchor", anchor);
    collection(&mut w, "NewRevisions", ids, |w, id| {
        identity(w, "UpdateIdentity", *id)
    });
    w.close("GetRevisionIdListResult")
        .close("GetRevisionIdListResponse");
    w.finish()
}

fn identity(w: &mut Writer, name: &str, id: RevisionId) {
    w.open(name)
        .leaf("UpdateID", id.update_id.to_string())
        .leaf("RevisionNumber", id.revision.to_string())
        .close(name);
}

/// How one document travels.
pub(super) enum Blob {
    /// `XmlUpdateBlob`: the document as escaped text.
    Text(String),
    /// `XmlUpdateBlobCompressed`: base64 of a CAB file.
    Compressed(String),
}

pub(super) struct UpdateData {
    pub id: RevisionId,
    pub blob: Blob,
    /// SHA-1 digests of the update's own files (`FileDigestList`).
    pub digests: Vec<Sha1Digest>,
}

pub(super) struct FileUrl {
    pub digest: Sha1Digest,
    pub mu_url: String,
}

/// ServerSyncUpdateData children in WSDL order: `Id`, `XmlUpdateBlob`, `FileDigestList`,
/// `XmlUpdateBlobCompressed` (exactly one of the two blobs is present).
pub(super) fn update_data(updates: &[UpdateData], urls: &[FileUrl]) -> String {
    let mut w = Writer::new();
    w.open_ns("GetUpdateDataResponse", NS_SD)
        .open("GetUpdateDataResult");
    collection(&mut w, "updates", updates, |w, u| {
        w.open("ServerSyncUpdateData");
        identity(w, "Id", u.id);
        if let Blob::Text(doc) = &u.blob {
            // Real WSUS escapes only `<`, `>` and `&` here (exchange 000015); quotes stay
            // literal, which keeps responses a third smaller than full escaping.
            w.open("XmlUpdateBlob")
                .raw(&quick_xml::escape::partial_escape(doc))
                .close("XmlUpdateBlob");
        }
        if !u.digests.is_empty() {
            w.open("FileDigestList");
            for d in &u.digests {
                w.leaf("base64Binary", d.to_base64());
            }
            w.close("FileDigestList");
        }
        if let Blob::Compressed(b64) = &u.blob {
            w.leaf("XmlUpdateBlobCompressed", b64);
        }
        w.close("ServerSyncUpdateData");
    });
    collection(&mut w, "fileUrls", urls, |w, u| {
        w.open("ServerSyncUrlData")
            .leaf("FileDigest", u.digest.to_base64())
            .leaf("MUUrl", &u.mu_url)
            .raw("<UssUrl />")
            .close("ServerSyncUrlData");
    });
    w.close("GetUpdateDataResult")
        .close("GetUpdateDataResponse");
    w.finish()
}

pub(super) struct Deployments<'a> {
    pub anchor: &'a str,
    pub groups: &'a [TargetGroup],
    pub deployments: &'a [Deployment],
    pub dead: &'a [Uuid],
    pub hidden: &'a [Uuid],
    pub eulas: &'a [Uuid],
}

/// ServerSyncDeploymentResult: every collection present, empty ones as `<X />`.
pub(super) fn deployments(d: &Deployments<'_>) -> String {
    let mut w = Writer::new();
    w.open_ns("GetDeploymentsResponse", NS_SD)
        .open("GetDeploymentsResult")
        .leaf("Anchor", d.anchor);
    collection(&mut w, "Groups", d.groups, |w, g| {
        w.open("ServerSyncTargetGroup")
            .leaf("TargetGroupID", g.id.to_string())
            .leaf("ParentGroupId", g.parent.unwrap_or(Uuid::nil()).to_string())
            .leaf("Name", &g.name)
            .bool_leaf("IsBuiltin", g.is_builtin)
            .close("ServerSyncTargetGroup");
    });
    collection(&mut w, "Deployments", d.deployments, |w, dep| {
        w.open("ServerSyncDeployment")
            .leaf("UpdateId", dep.revision.update_id.to_string())
            .leaf("RevisionNumber", dep.revision.revision.to_string())
            .leaf("Action", dep.action.code().to_string())
            .opt_leaf("AdminName", dep.admin_name.as_deref())
            .leaf("Deadline", dep.deadline.as_deref().unwrap_or(NO_DEADLINE))
            .bool_leaf("IsAssigned", dep.is_assigned)
            .leaf("GoLiveTime", &dep.go_live_time)
            .leaf("DeploymentGuid", dep.deployment_id.to_string())
            .leaf("TargetGroupId", dep.target_group.to_string())
            .leaf("DownloadPriority", dep.download_priority.to_string())
            .close("ServerSyncDeployment");
    });
    for (name, ids) in [
        ("DeadDeployments", d.dead),
        ("HiddenUpdates", d.hidden),
        ("AcceptedEulas", d.eulas),
    ] {
        collection(&mut w, name, ids, |w, id| {
            w.leaf("guid", id.to_string());
        });
    }
    w.close("GetDeploymentsResult")
        .close("GetDeploymentsResponse");
    w.finish()
}

/// `<name>…items…</name>`, or `<name />` when there are none (the real WSUS shape).
fn collection<T>(w: &mut Writer, name: &str, items: &[T], mut item: impl FnMut(&mut Writer, &T)) {
    if items.is_empty() {
        w.raw(&format!("<{name} />"));
        return;
    }
    w.open(name);
    for i in items {
        item(w, i);
    }
    w.close(name);
}

pub(super) fn download_files() -> String {
    let mut w = Writer::new();
    w.empty_ns("DownloadFilesResponse", NS_SD);
    w.finish()
}

pub(super) fn decryption_data() -> String {
    let mut w = Writer::new();
    w.open_ns("GetUpdateDecryptionDataResponse", NS_SD)
        .open("GetUpdateDecryptionDataResult")
        .raw("<UpdateFileDecryptionData />")
        .close("GetUpdateDecryptionDataResult")
        .close("GetUpdateDecryptionDataResponse");
    w.finish()
}
