//! The element-tree parser this module used before the streaming one, kept verbatim as a
//! test oracle: the streaming parser must return exactly what it returns (documents and
//! errors alike).

use super::{DOC_LIMITS, NS_UPDATE};
use crate::model::{
    Prerequisite, RevisionId, Sha1Digest, Sha256Digest, UpdateDoc, UpdateFile, UpdateKind,
};
use crate::xml::{parse_guid, Element, Error};

/// Parse a document. GUIDs are parsed, so their case (documents keep upper case where the
/// SOAP `Id` is lower case) never matters when callers compare identities.
pub fn parse(xml: &str) -> Result<UpdateDoc, Error> {
    let root = Element::parse_with(xml.as_bytes(), DOC_LIMITS)?;
    if root.name != "Update" || root.ns != NS_UPDATE {
        return Err(Error::Document(format!(
            "root is {{{}}}{}, not upd:Update",
            root.ns, root.name
        )));
    }
    let ident =
        upd(&root, "UpdateIdentity").ok_or_else(|| Error::Document("no UpdateIdentity".into()))?;
    let id = identity(ident, true)?;
    let props = upd(&root, "Properties").ok_or_else(|| Error::Document("no Properties".into()))?;
    let update_type = props.attr("UpdateType").unwrap_or("Software");
    let category_type = upd(&root, "HandlerSpecificData")
        .and_then(|h| h.child("CategoryInformation"))
        .and_then(|c| c.attr("CategoryType"));
    let kind = UpdateKind::classify(update_type, category_type);
    let expired = props
        .attr("PublicationState")
        .is_some_and(|s| s.eq_ignore_ascii_case("Expired"));
    let eula_id = props
        .attr("EulaID")
        .map(|v| parse_guid("EulaID", v))
        .transpose()?;

    let relationships = upd(&root, "Relationships");
    let rel = |name: &str| relationships.and_then(|r| upd(r, name));

    let mut prerequisites = Vec::new();
    let mut group = 0u32;
    for item in rel("Prerequisites")
        .map(|p| p.children.as_slice())
        .unwrap_or_default()
    {
        match item.name.as_str() {
            "UpdateIdentity" => prerequisites.push(Prerequisite {
                update_id: identity(item, false)?.update_id,
                group: None,
                is_category: false,
            }),
            "AtLeastOne" => {
                let is_category = item
                    .attr("IsCategory")
                    .is_some_and(|v| v == "true" || v == "1");
                for member in item.children_named("UpdateIdentity") {
                    prerequisites.push(Prerequisite {
                        update_id: identity(member, false)?.update_id,
                        group: Some(group),
                        is_category,
                    });
                }
                group += 1;
            }
            _ => {}
        }
    }

    let mut bundled = Vec::new();
    for item in rel("BundledUpdates")
        .map(|p| p.children.as_slice())
        .unwrap_or_default()
    {
        match item.name.as_str() {
            "UpdateIdentity" => bundled.push(identity(item, true)?),
            "AtLeastOne" => {
                for member in item.children_named("UpdateIdentity") {
                    bundled.push(identity(member, true)?);
                }
            }
            _ => {}
        }
    }

    let superseded = rel("SupersededUpdates")
        .map(|s| {
            s.children_named("UpdateIdentity")
                .map(|i| identity(i, false).map(|r| r.update_id))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default();

    let files = upd(&root, "Files")
        .map(|f| {
            f.children_named("File")
                .map(file)
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default();

    Ok(UpdateDoc {
        id,
        kind,
        title: title(&root),
        expired,
        eula_id,
        prerequisites,
        bundled,
        superseded,
        files,
    })
}

/// Child in the Update namespace.
fn upd<'a>(el: &'a Element, name: &str) -> Option<&'a Element> {
    el.children
        .iter()
        .find(|c| c.name == name && c.ns == NS_UPDATE)
}

fn identity(el: &Element, need_revision: bool) -> Result<RevisionId, Error> {
    let id = el
        .attr("UpdateID")
        .ok_or_else(|| Error::Document("UpdateIdentity without UpdateID".into()))?;
    let update_id = parse_guid("UpdateID", id)?;
    let revision = match el.attr("RevisionNumber") {
        Some(r) => r
            .trim()
            .parse()
            .map_err(|_| crate::xml::bad("RevisionNumber", r))?,
        None if need_revision => {
            return Err(Error::Document(format!(
                "UpdateIdentity {update_id} without RevisionNumber"
            )))
        }
        None => 0,
    };
    Ok(RevisionId::new(update_id, revision))
}

fn file(el: &Element) -> Result<UpdateFile, Error> {
    let digest = el
        .attr("Digest")
        .ok_or_else(|| Error::Document("File without Digest".into()))?;
    let sha1 = Sha1Digest::from_base64(digest)
        .map_err(|e| Error::Document(format!("File/@Digest: {e}")))?;
    let sha256 = el
        .children_named("AdditionalDigest")
        .find(|d| {
            d.attr("Algorithm")
                .is_some_and(|a| a.eq_ignore_ascii_case("SHA256"))
        })
        .map(|d| Sha256Digest::from_base64(&d.text))
        .transpose()
        .map_err(|e| Error::Document(format!("AdditionalDigest: {e}")))?;
    let size = el
        .attr("Size")
        .unwrap_or("0")
        .trim()
        .parse()
        .map_err(|_| crate::xml::bad("File/@Size", el.attr("Size").unwrap_or("")))?;
    let name = el.attr("FileName").unwrap_or_default().to_owned();
    // Never trust a name from the network as a path: only its extension is ever used, and
    // only if it is plain.
    Ok(UpdateFile {
        sha1,
        sha256,
        size,
        name,
        patching_type: el.attr("PatchingType").map(str::to_owned),
        modified: el.attr("Modified").map(str::to_owned),
    })
}

/// English title if there is one, else the first.
fn title(root: &Element) -> Option<String> {
    let all = upd(root, "LocalizedPropertiesCollection")?;
    let mut first = None;
    for lp in all.children_named("LocalizedProperties") {
        let t = lp.child_text("Title").map(str::to_owned);
        if lp.child_text("Language").is_some_and(|l| l == "en") {
            return t;
        }
        first = first.or(t);
    }
    first
}
