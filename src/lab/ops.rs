//! The SOAP operations of the lab USS (wsusss.md §6.2): read the request element, check the
//! cookie and arguments, consult the lab state, and answer with a body from `messages` or a
//! WSUS-shaped fault. State locks are held only while reading or changing state, never while
//! documents are written or compressed.

use super::catalog::{self, Entity};
use super::messages::{self, Blob, FileUrl, UpdateData};
use super::{cab, documents, Lab};
use crate::model::{format_wsus_time, RevisionId, Sha1Digest};
use crate::xml::soap::Fault;
use crate::xml::{parse_bool, Element, NS_DSSAUTH, NS_SD};
use base64::{engine::general_purpose::STANDARD, Engine};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use uuid::Uuid;

/// The three web services of a USS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Service {
    ServerSync,
    DssAuth,
    Reporting,
}

impl Service {
    fn namespace(self) -> &'static str {
        match self {
            Self::DssAuth => NS_DSSAUTH,
            Self::ServerSync | Self::Reporting => NS_SD,
        }
    }
}

/// A response body, or the fault to send instead (boxed: faults are large and rare).
type Reply = Result<String, Box<Fault>>;

/// WSUS compresses documents whose UTF-16 form is larger than this (wsusss.md §2.4).
const COMPRESS_ABOVE: usize = 5120;
/// DownloadFiles takes 1..=100 digests.
const MAX_DOWNLOAD_DIGESTS: usize = 100;

/// Answer one call: the response body element, or a fault.
pub(super) fn call(lab: &Lab, service: Service, el: &Element, truncate: Option<usize>) -> Reply {
    let op = el.name.as_str();
    let f = |code: &str, message: &str| Box::new(fault(service, op, code, message));
    if el.ns != service.namespace() {
        return Err(Box::new(unknown(op)));
    }
    let guard = || {
        if cookie_ok(lab, el) {
            Ok(())
        } else {
            Err(f("InvalidCookie", ""))
        }
    };
    match (service, op) {
        (Service::ServerSync, "GetAuthConfig") => {
            Ok(messages::auth_config(&format_wsus_time(lab.inner.created)))
        }
        (Service::DssAuth, "GetAuthorizationCookie") => authorization_cookie(lab, el, f),
        (Service::ServerSync, "GetCookie") => get_cookie(lab, el, f),
        (Service::ServerSync, "GetConfigData") => guard().and_then(|()| config_data(lab, el, f)),
        (Service::ServerSync, "GetRevisionIdList") => {
            guard().and_then(|()| revision_id_list(lab, el, f))
        }
        (Service::ServerSync, "GetUpdateData") => {
            guard().and_then(|()| update_data(lab, el, truncate, f))
        }
        (Service::ServerSync, "GetDeployments") => guard().and_then(|()| deployments(lab, el, f)),
        (Service::ServerSync, "DownloadFiles") => guard().and_then(|()| download_files(lab, el, f)),
        (Service::ServerSync, "GetUpdateDecryptionData") => {
            guard().map(|()| messages::decryption_data())
        }
        (Service::Reporting, _) => Err(Box::new(Fault::plain(
            true,
            "The lab upstream does not implement the reporting rollup yet",
        ))),
        _ => Err(Box::new(unknown(op))),
    }
}

/// A WSUS fault for `op` with `detail/Method` = its SOAPAction.
pub(super) fn fault(service: Service, op: &str, code: &str, message: &str) -> Fault {
    let server_side = matches!(code, "InternalServerError" | "ServerBusy");
    Fault::wsus(
        server_side,
        code,
        message,
        &format!("{}/{op}", service.namespace()),
    )
}

/// ASMX's answer to a method it does not have: a fault without ErrorCode.
fn unknown(op: &str) -> Fault {
    Fault::plain(
        false,
        &format!("Server did not recognize the operation {op:?}."),
    )
}

fn cookie_ok(lab: &Lab, el: &Element) -> bool {
    let Some(data) = el.path(&["cookie", "EncryptedData"]) else {
        return false;
    };
    lab.state().cookie_ok(&compact(&data.text))
}

/// Base64 as received, white space removed (USSs and DSSs may wrap base64).
fn compact(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

fn random_token() -> String {
    STANDARD.encode(rand::random::<[u8; 32]>())
}

fn authorization_cookie(lab: &Lab, el: &Element, f: impl Fn(&str, &str) -> Box<Fault>) -> Reply {
    let name = el.child_text("accountName").unwrap_or("").trim();
    let dns_ok = !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if !dns_ok {
        return Err(f("InvalidParameters", "accountName"));
    }
    let guid = el
        .child_text("accountGuid")
        .and_then(|g| Uuid::parse_str(g.trim()).ok())
        .ok_or_else(|| f("InvalidParameters", "accountGuid"))?;
    let data = random_token();
    let mut st = lab.state();
    let index = match st.dss.iter().position(|(_, g)| *g == guid) {
        Some(i) => {
            st.dss[i].0 = name.to_owned();
            i
        }
        None => {
            st.dss.push((name.to_owned(), guid));
            st.dss.len() - 1
        }
    };
    st.auth_cookies.insert(data.clone(), index);
    Ok(messages::authorization_cookie(&data))
}

fn get_cookie(lab: &Lab, el: &Element, f: impl Fn(&str, &str) -> Box<Fault>) -> Reply {
    let auth: Vec<&Element> = el
        .child("authCookies")
        .map(|a| {
            a.children_named("AuthorizationCookie")
                .filter(|c| !c.is_nil())
                .collect()
        })
        .unwrap_or_default();
    let [auth] = auth.as_slice() else {
        return Err(f("InvalidParameters", "authCookies"));
    };
    let data = compact(auth.child_text("CookieData").unwrap_or(""));
    let mut st = lab.state();
    if !st.auth_cookies.contains_key(&data) {
        return Err(f("InvalidAuthorizationCookie", ""));
    }
    let version = el.child_text("protocolVersion").unwrap_or("").trim();
    let v1 = version
        .strip_prefix("1.")
        .is_some_and(|minor| !minor.is_empty() && minor.chars().all(|c| c.is_ascii_digit()));
    if !v1 {
        return Err(f("IncompatibleProtocolVersion", ""));
    }
    let now = Instant::now();
    // Forget expired cookies now and then, so a long demo run stays small.
    if st.cookies.len() > 10_000 {
        st.cookies.retain(|_, exp| *exp > now);
    }
    // Capped so that `now + lifetime` cannot overflow whatever the options say.
    let lifetime = st
        .cookie_lifetime
        .min(Duration::from_secs(10 * 365 * 24 * 3600));
    let token = random_token();
    st.cookies.insert(token.clone(), now + lifetime);
    drop(st);
    let expiration = OffsetDateTime::now_utc() + lifetime;
    Ok(messages::cookie(&format_wsus_time(expiration), &token))
}

/// `N,yyyy-MM-dd HH:mm:ss.fff` (the WSUS anchor shape; the time part is informational).
fn anchor_string(counter: u64) -> String {
    let time = format_wsus_time(OffsetDateTime::now_utc());
    // The same UTC millisecond timestamp, written WSUS's anchor way: a space, no zone.
    format!("{counter},{}", time.replace('T', " ").trim_end_matches('Z'))
}

/// The change counter of an anchor this lab issued; `None` for anything else.
fn parse_anchor(text: &str) -> Option<u64> {
    let (counter, time) = text.split_once(',')?;
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    time::PrimitiveDateTime::parse(time, &fmt).ok()?;
    counter.parse().ok()
}

/// An optional anchor child: absent or empty = none; garbage = InvalidParameters(`param`).
fn anchor_of(
    el: Option<&Element>,
    param: &str,
    f: &impl Fn(&str, &str) -> Box<Fault>,
) -> Result<Option<u64>, Box<Fault>> {
    match el.map(|a| a.text.trim()) {
        None | Some("") => Ok(None),
        Some(text) => parse_anchor(text)
            .map(Some)
            .ok_or_else(|| f("InvalidParameters", param)),
    }
}

fn config_data(lab: &Lab, el: &Element, f: impl Fn(&str, &str) -> Box<Fault>) -> Reply {
    let anchor = anchor_of(el.child("configAnchor"), "configAnchor", &f)?;
    let st = lab.state();
    // The language table never changes after start: any anchor of ours is current.
    let languages: &[messages::Language] = match anchor {
        Some(_) => &[],
        None => &messages::LANGUAGES,
    };
    Ok(messages::config_data(
        st.max_per_request,
        &anchor_string(st.counter),
        languages,
    ))
}

/// `ArrayOfIdAndDelta` / `ArrayOfLanguageAndDelta` items; `None` when the element is absent.
fn id_and_delta<T>(
    el: Option<&Element>,
    item: &str,
    parse_id: impl Fn(&str) -> Option<T>,
) -> Result<Option<Vec<(T, bool)>>, ()> {
    let Some(el) = el else { return Ok(None) };
    el.children_named(item)
        .filter(|i| !i.is_nil())
        .map(|i| {
            let id = parse_id(i.child_text("Id").ok_or(())?.trim()).ok_or(())?;
            let delta = i
                .child("Delta")
                .map(parse_bool)
                .transpose()
                .map_err(|_| ())?;
            Ok((id, delta.unwrap_or(true)))
        })
        .collect::<Result<Vec<_>, ()>>()
        .map(Some)
}

fn revision_id_list(lab: &Lab, el: &Element, f: impl Fn(&str, &str) -> Box<Fault>) -> Reply {
    let bad = || f("InvalidParameters", "filter");
    let filter = el.child("filter").ok_or_else(bad)?;
    let get_config = filter
        .child("GetConfig")
        .map(parse_bool)
        .transpose()
        .map_err(|_| bad())?
        .ok_or_else(bad)?;
    let anchor = anchor_of(filter.child("Anchor"), "filter", &f)?;
    let guid = |s: &str| Uuid::parse_str(s).ok();
    let categories =
        id_and_delta(filter.child("Categories"), "IdAndDelta", guid).map_err(|_| bad())?;
    let classifications =
        id_and_delta(filter.child("Classifications"), "IdAndDelta", guid).map_err(|_| bad())?;
    let languages = id_and_delta(filter.child("Languages"), "LanguageAndDelta", |s| {
        s.parse::<i32>().ok()
    })
    .map_err(|_| bad())?;

    let base = lab.base();
    let st = lab.state();
    let after = anchor.unwrap_or(0);
    let mut ids = Vec::new();
    if get_config {
        // Categories/Classifications/Languages do not apply to the configuration list.
        for (e, rev) in catalog::config_revisions() {
            if anchor.is_none() || st.changed(e) > after {
                ids.push(catalog::revision_id(base, e, rev));
            }
        }
    } else {
        let categories = categories.unwrap_or_default();
        let classifications = classifications.unwrap_or_default();
        let filtered = !categories.is_empty() || !classifications.is_empty();
        // Every lab update is English: a 1033 (or "all") item with Delta=false asks for the
        // whole back catalogue again; the filter never excludes by language.
        let language_full = languages
            .unwrap_or_default()
            .iter()
            .any(|(id, delta)| matches!(id, 0 | 1033) && !delta);
        // Both lists are needed: one without the other selects nothing (real WSUS, 000007).
        let selects_nothing = filtered && (categories.is_empty() || classifications.is_empty());
        if !selects_nothing {
            let company = base.id(Entity::Company);
            let family = base.id(Entity::Family);
            for e in catalog::update_entities(st.plain.len()) {
                if !lab.inner.list_bundle_members
                    && matches!(e, Entity::NestedBundle | Entity::BundleChild(_))
                {
                    continue;
                }
                let mut full = anchor.is_none() || language_full;
                if filtered {
                    let product = base.id(Entity::Product(e.product()));
                    let by_category =
                        selected(&categories, |id| [product, family, company].contains(id));
                    let by_class = selected(&classifications, |id| *id == e.class().id());
                    let (Some(category_full), Some(class_full)) = (by_category, by_class) else {
                        continue;
                    };
                    full |= category_full || class_full;
                }
                if full || st.changed(e) > after {
                    ids.extend(
                        e.revisions()
                            .iter()
                            .map(|r| catalog::revision_id(base, e, *r)),
                    );
                }
            }
        }
    }
    let anchor = anchor_string(st.counter);
    drop(st);
    Ok(messages::revision_id_list(&anchor, &ids))
}

/// Whether filter items matching `hit` select an entity: `None` when none match, else whether
/// one of them asks for everything again (`Delta` false).
fn selected<T>(items: &[(T, bool)], hit: impl Fn(&T) -> bool) -> Option<bool> {
    items
        .iter()
        .filter(|(id, _)| hit(id))
        .fold(None, |full, (_, delta)| {
            Some(full.unwrap_or(false) || !delta)
        })
}

/// `ArrayOfUpdateIdentity` items (nil items skipped).
fn update_identities(el: Option<&Element>) -> Option<Vec<RevisionId>> {
    let Some(el) = el else {
        return Some(Vec::new());
    };
    el.children_named("UpdateIdentity")
        .filter(|i| !i.is_nil())
        .map(|i| {
            let id = Uuid::parse_str(i.child_text("UpdateID")?.trim()).ok()?;
            let rev = i.child_text("RevisionNumber")?.trim().parse().ok()?;
            Some(RevisionId::new(id, rev))
        })
        .collect()
}

/// The requested ids of a GetUpdateData body (for the request log; lenient).
pub(super) fn requested_ids(el: &Element) -> Vec<RevisionId> {
    update_identities(el.child("updateIds")).unwrap_or_default()
}

fn update_data(
    lab: &Lab,
    el: &Element,
    truncate: Option<usize>,
    f: impl Fn(&str, &str) -> Box<Fault>,
) -> Reply {
    let ids = update_identities(el.child("updateIds"))
        .ok_or_else(|| f("InvalidParameters", "updateIds"))?;
    let entities: Vec<(RevisionId, Entity)> = {
        let st = lab.state();
        if ids.is_empty() || ids.len() > st.max_per_request as usize {
            return Err(f("InvalidParameters", "updateIds"));
        }
        ids.iter()
            .map(|id| st.entity(lab.base(), *id).map(|e| (*id, e)))
            .collect::<Option<_>>()
            // Real WSUS fails the whole call for one unknown revision (exchange 000017).
            .ok_or_else(|| f("InternalServerError", ""))?
    };
    let keep = truncate.unwrap_or(usize::MAX);
    let mut updates = Vec::with_capacity(entities.len().min(keep));
    let mut urls: Vec<FileUrl> = Vec::new();
    for (id, e) in entities.into_iter().take(keep) {
        let file = e.file().map(|key| lab.file_meta(key));
        let doc = documents::document(lab.base(), e, id.revision, file.as_ref());
        let blob = if doc.encode_utf16().count() * 2 > COMPRESS_ABOVE {
            let cab = cab::compress_blob(&doc).map_err(|_| f("InternalServerError", ""))?;
            Blob::Compressed(STANDARD.encode(cab))
        } else {
            Blob::Text(doc)
        };
        let digests: Vec<Sha1Digest> = file.iter().map(|m| m.sha1).collect();
        if let Some(m) = &file {
            if !urls.iter().any(|u| u.digest == m.sha1) {
                urls.push(FileUrl {
                    digest: m.sha1,
                    mu_url: mu_url(&m.name, &m.sha1),
                });
            }
        }
        updates.push(UpdateData { id, blob, digests });
    }
    Ok(messages::update_data(&updates, &urls))
}

/// The Internet URL of a file: `…/<name>_<sha1 lower-case hex><ext>` (real shape, 000014).
fn mu_url(name: &str, sha1: &Sha1Digest) -> String {
    let (stem, ext) = match name.rfind('.') {
        Some(i) => (&name[..i], &name[i..]),
        None => (name, ""),
    };
    format!(
        "http://download.windowsupdate.com/lab/{}_{}{}",
        stem.to_lowercase(),
        sha1.to_hex(),
        ext.to_lowercase()
    )
}

fn deployments(lab: &Lab, el: &Element, f: impl Fn(&str, &str) -> Box<Fault>) -> Reply {
    let sync = anchor_of(el.child("syncAnchor"), "syncAnchor", &f)?;
    if sync.is_none() {
        return Err(f("InvalidParameters", "syncAnchor"));
    }
    let since = anchor_of(el.child("deploymentAnchor"), "deploymentAnchor", &f)?;
    let after = since.unwrap_or(0);
    let st = lab.state();
    let groups: Vec<_> = st.groups.iter().map(|(g, _)| g.clone()).collect();
    let live: Vec<_> = st
        .deployments
        .iter()
        .filter(|(_, changed)| *changed > after)
        .map(|(d, _)| d.clone())
        .collect();
    // A first call (no anchor) has nothing to forget.
    let dead: Vec<Uuid> = st
        .dead
        .iter()
        .filter(|(_, changed)| since.is_some() && *changed > after)
        .map(|(id, _)| *id)
        .collect();
    let anchor = anchor_string(st.counter);
    let body = messages::deployments(&messages::Deployments {
        anchor: &anchor,
        groups: &groups,
        deployments: &live,
        dead: &dead,
        hidden: &st.hidden,
        eulas: &st.eulas,
    });
    Ok(body)
}

fn download_files(lab: &Lab, el: &Element, f: impl Fn(&str, &str) -> Box<Fault>) -> Reply {
    // Each digest as sent, with its value when it decodes.
    let digests: Vec<(String, Option<Sha1Digest>)> = el
        .child("fileDigestList")
        .map(|l| {
            l.children_named("base64Binary")
                .filter(|d| !d.is_nil())
                .map(|d| {
                    let text = compact(&d.text);
                    let sha1 = Sha1Digest::from_base64(&text).ok();
                    (text, sha1)
                })
                .collect()
        })
        .unwrap_or_default();
    let named: Vec<Sha1Digest> = digests.iter().filter_map(|(_, sha1)| *sha1).collect();
    if digests.is_empty() || digests.len() > MAX_DOWNLOAD_DIGESTS {
        lab.note_download_files(&named, false);
        return Err(f("InvalidParameters", "fileDigestList"));
    }
    let missing: Vec<&str> = digests
        .iter()
        .filter(|(_, sha1)| sha1.and_then(|s| lab.file_by_sha1(&s)).is_none())
        .map(|(text, _)| text.as_str())
        .collect();
    // A refused call fetches nothing, so it releases no withheld file.
    lab.note_download_files(&named, missing.is_empty());
    if !missing.is_empty() {
        return Err(f("FileDigestsMissing", &missing.join("|")));
    }
    Ok(messages::download_files())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_round_trip_and_garbage_is_refused() {
        let a = anchor_string(42);
        assert!(a.starts_with("42,") && a.contains(' '), "{a}");
        assert_eq!(a.rsplit('.').next().map(str::len), Some(3));
        assert_eq!(parse_anchor(&a), Some(42));
        assert_eq!(parse_anchor("9438,2026-10-04 16:33:26.671"), Some(9438));
        for bad in [
            "garbage",
            "1,",
            ",2026-10-04 16:33:26.671",
            "x,2026-10-04 16:33:26.671",
        ] {
            assert_eq!(parse_anchor(bad), None, "{bad}");
        }
    }

    #[test]
    fn mu_urls_have_the_real_shape() {
        let d = Sha1Digest::from_base64("h/W9BGlYUAaqXTp30cZi/SiV3c0=").unwrap();
        assert_eq!(
            mu_url("AM_Delta.exe", &d),
            "http://download.windowsupdate.com/lab/am_delta_87f5bd0469585006aa5d3a77d1c662fd2895ddcd.exe"
        );
    }
}
