//! What an update document keeps, decided element by element as the reader streams.
//!
//! The rules are those of the former element-tree parser (`dom_oracle`, which the tests hold
//! this module to): structural containers count only in the Update namespace and only the
//! first of each (`Update/UpdateIdentity`, `Properties`, `HandlerSpecificData`,
//! `Relationships/{Prerequisites,BundledUpdates,SupersededUpdates}`, `Files`,
//! `LocalizedPropertiesCollection`), while their items are matched by local name alone
//! (`UpdateIdentity`, `AtLeastOne`, `File`, `AdditionalDigest`, `CategoryInformation`,
//! `LocalizedProperties`, `Title`, `Language`).
//!
//! Values are converted as soon as their element is read; a conversion error is kept, not
//! returned, so that `into_doc` reports errors in the tree parser's order (and syntax errors
//! anywhere in the document take precedence, as the tree was built before anything was read).

use super::reader::Attrs;
use super::NS_UPDATE;
use crate::model::{
    Prerequisite, RevisionId, Sha1Digest, Sha256Digest, UpdateDoc, UpdateFile, UpdateKind,
};
use crate::xml::{bad, parse_guid, Error};
use uuid::Uuid;

/// What an open element is to the collector, which decides what its children are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ctx {
    /// Nothing in it matters (it is still fully checked by the reader).
    Skip,
    Root,
    /// `Update/UpdateIdentity`.
    Identity,
    Properties,
    Handler,
    /// `HandlerSpecificData/CategoryInformation`.
    Category,
    Relationships,
    Prerequisites,
    /// `Prerequisites/UpdateIdentity`: an AND prerequisite.
    Prerequisite,
    /// `Prerequisites/AtLeastOne`: an OR group.
    Group,
    /// `Prerequisites/AtLeastOne/UpdateIdentity`.
    GroupMember,
    Bundled,
    /// `BundledUpdates/AtLeastOne`.
    BundledGroup,
    /// `BundledUpdates/UpdateIdentity`, directly or in `AtLeastOne`.
    BundledMember,
    Superseded,
    /// `SupersededUpdates/UpdateIdentity`.
    SupersededMember,
    Files,
    File,
    /// An `AdditionalDigest` of a file that has no SHA-256 yet; `open` checks its algorithm.
    Digest,
    /// The chosen `AdditionalDigest`: its text is the SHA-256.
    Sha256,
    /// `LocalizedPropertiesCollection`.
    Localized,
    /// One `LocalizedProperties`.
    Entry,
    Title,
    Language,
}

impl Ctx {
    /// Attributes to keep from an element in this context.
    pub(super) fn wanted(self) -> &'static [&'static [u8]] {
        match self {
            Ctx::Identity
            | Ctx::Prerequisite
            | Ctx::GroupMember
            | Ctx::BundledMember
            | Ctx::SupersededMember => &[b"UpdateID", b"RevisionNumber"],
            Ctx::Properties => &[b"UpdateType", b"PublicationState", b"EulaID"],
            Ctx::Category => &[b"CategoryType"],
            Ctx::Group => &[b"IsCategory"],
            Ctx::File => &[
                b"Digest",
                b"Size",
                b"FileName",
                b"PatchingType",
                b"Modified",
            ],
            Ctx::Digest => &[b"Algorithm"],
            _ => &[],
        }
    }
}

/// Elements of which only the first counts, as one bit each in `Collector::seen`.
#[derive(Clone, Copy)]
enum Once {
    Identity,
    Properties,
    Handler,
    Category,
    Relationships,
    Prerequisites,
    Bundled,
    Superseded,
    Files,
    Localized,
}

/// Items in document order, or the first error among them.
type Section<T> = Result<Vec<T>, Error>;

fn record<T>(section: &mut Section<T>, item: Result<T, Error>) {
    if let Ok(items) = section {
        match item {
            Ok(item) => items.push(item),
            Err(e) => *section = Err(e),
        }
    }
}

/// Everything kept of a document while it streams.
#[derive(Debug)]
pub(super) struct Collector {
    seen: u16,
    wrong_root: Option<Error>,
    identity: Option<Result<RevisionId, Error>>,
    properties: Option<Properties>,
    category_type: Option<String>,
    prerequisites: Section<Prerequisite>,
    /// `AtLeastOne` groups opened so far, and whether the open one is `IsCategory`.
    groups: u32,
    group_is_category: bool,
    bundled: Section<RevisionId>,
    superseded: Section<Uuid>,
    files: Section<UpdateFile>,
    /// The `File` being read.
    file: Option<PendingFile>,
    titles: Titles,
}

impl Default for Collector {
    fn default() -> Self {
        Self {
            seen: 0,
            wrong_root: None,
            identity: None,
            properties: None,
            category_type: None,
            prerequisites: Ok(Vec::new()),
            groups: 0,
            group_is_category: false,
            bundled: Ok(Vec::new()),
            superseded: Ok(Vec::new()),
            files: Ok(Vec::new()),
            file: None,
            titles: Titles::default(),
        }
    }
}

impl Collector {
    /// Context of the root element: only `{NS_UPDATE}Update` is read.
    pub(super) fn root(&mut self, ns: Option<&[u8]>, local: &[u8]) -> Ctx {
        if ns == Some(NS_UPDATE.as_bytes()) && local == b"Update" {
            return Ctx::Root;
        }
        // Reported only once the whole document has been checked, like the tree parser.
        self.wrong_root = Some(Error::Document(format!(
            "root is {{{}}}{}, not upd:Update",
            String::from_utf8_lossy(ns.unwrap_or_default()),
            String::from_utf8_lossy(local)
        )));
        Ctx::Skip
    }

    /// Context of a child element, from its parent's context, namespace and local name.
    pub(super) fn role(&mut self, parent: Ctx, ns: Option<&[u8]>, local: &[u8]) -> Ctx {
        if parent == Ctx::Skip {
            return Ctx::Skip;
        }
        let upd = || ns == Some(NS_UPDATE.as_bytes());
        match (parent, local) {
            (Ctx::Root, b"UpdateIdentity") if upd() && self.first(Once::Identity) => Ctx::Identity,
            (Ctx::Root, b"Properties") if upd() && self.first(Once::Properties) => Ctx::Properties,
            (Ctx::Root, b"HandlerSpecificData") if upd() && self.first(Once::Handler) => {
                Ctx::Handler
            }
            (Ctx::Root, b"Relationships") if upd() && self.first(Once::Relationships) => {
                Ctx::Relationships
            }
            (Ctx::Root, b"Files") if upd() && self.first(Once::Files) => Ctx::Files,
            (Ctx::Root, b"LocalizedPropertiesCollection")
                if upd() && self.first(Once::Localized) =>
            {
                Ctx::Localized
            }
            // Items: by local name in any namespace (the tree parser's `child`/`children_named`).
            (Ctx::Handler, b"CategoryInformation") if self.first(Once::Category) => Ctx::Category,
            (Ctx::Relationships, b"Prerequisites") if upd() && self.first(Once::Prerequisites) => {
                Ctx::Prerequisites
            }
            (Ctx::Relationships, b"BundledUpdates") if upd() && self.first(Once::Bundled) => {
                Ctx::Bundled
            }
            (Ctx::Relationships, b"SupersededUpdates") if upd() && self.first(Once::Superseded) => {
                Ctx::Superseded
            }
            (Ctx::Prerequisites, b"UpdateIdentity") => Ctx::Prerequisite,
            (Ctx::Prerequisites, b"AtLeastOne") => Ctx::Group,
            (Ctx::Group, b"UpdateIdentity") => Ctx::GroupMember,
            (Ctx::Bundled | Ctx::BundledGroup, b"UpdateIdentity") => Ctx::BundledMember,
            (Ctx::Bundled, b"AtLeastOne") => Ctx::BundledGroup,
            (Ctx::Superseded, b"UpdateIdentity") => Ctx::SupersededMember,
            (Ctx::Files, b"File") => Ctx::File,
            (Ctx::File, b"AdditionalDigest")
                if self.file.as_ref().is_some_and(|f| f.sha256.is_none()) =>
            {
                Ctx::Digest
            }
            // After an English entry the title is decided: later entries are not read.
            (Ctx::Localized, b"LocalizedProperties") if self.titles.english.is_none() => Ctx::Entry,
            (Ctx::Entry, b"Title") if first_time(&mut self.titles.has_title) => Ctx::Title,
            (Ctx::Entry, b"Language") if first_time(&mut self.titles.has_language) => Ctx::Language,
            _ => Ctx::Skip,
        }
    }

    /// An element opens with its attributes; returns its context, which `Digest` refines.
    pub(super) fn open(&mut self, ctx: Ctx, attrs: &Attrs<'_>) -> Ctx {
        match ctx {
            Ctx::Identity => self.identity = Some(identity(attrs, true)),
            Ctx::Properties => self.properties = Some(Properties::new(attrs)),
            Ctx::Category => self.category_type = attrs.get("CategoryType").map(str::to_owned),
            Ctx::Prerequisite => {
                let item = identity(attrs, false).map(|r| Prerequisite {
                    update_id: r.update_id,
                    group: None,
                    is_category: false,
                });
                record(&mut self.prerequisites, item);
            }
            Ctx::Group => {
                self.group_is_category = attrs
                    .get("IsCategory")
                    .is_some_and(|v| v == "true" || v == "1");
                self.groups += 1;
            }
            Ctx::GroupMember => {
                let item = identity(attrs, false).map(|r| Prerequisite {
                    update_id: r.update_id,
                    group: Some(self.groups - 1),
                    is_category: self.group_is_category,
                });
                record(&mut self.prerequisites, item);
            }
            Ctx::BundledMember => record(&mut self.bundled, identity(attrs, true)),
            Ctx::SupersededMember => {
                record(
                    &mut self.superseded,
                    identity(attrs, false).map(|r| r.update_id),
                );
            }
            Ctx::File => self.file = Some(PendingFile::new(attrs)),
            Ctx::Digest => return self.digest(attrs),
            Ctx::Entry => self.titles.begin_entry(),
            _ => {}
        }
        ctx
    }

    /// The first SHA-256 `AdditionalDigest` of a file gives its text; others are skipped.
    fn digest(&mut self, attrs: &Attrs<'_>) -> Ctx {
        let sha256 = attrs
            .get("Algorithm")
            .is_some_and(|a| a.eq_ignore_ascii_case("SHA256"));
        match self.file.as_mut() {
            Some(file) if sha256 => {
                file.sha256 = Some(String::new());
                Ctx::Sha256
            }
            _ => Ctx::Skip,
        }
    }

    /// An element closes (an empty one right after `open`).
    pub(super) fn close(&mut self, ctx: Ctx) {
        match ctx {
            Ctx::File => {
                if let Some(file) = self.file.take() {
                    record(&mut self.files, file.finish());
                }
            }
            Ctx::Entry => self.titles.end_entry(),
            _ => {}
        }
    }

    /// Where the character data directly inside an element of this context goes, if kept.
    pub(super) fn text_sink(&mut self, ctx: Ctx) -> Option<&mut String> {
        match ctx {
            Ctx::Sha256 => self.file.as_mut().and_then(|f| f.sha256.as_mut()),
            Ctx::Title => Some(&mut self.titles.title),
            Ctx::Language => Some(&mut self.titles.language),
            _ => None,
        }
    }

    /// The document, or the first error in the order the tree parser checked things.
    pub(super) fn into_doc(self) -> Result<UpdateDoc, Error> {
        if let Some(e) = self.wrong_root {
            return Err(e);
        }
        let id = self
            .identity
            .ok_or_else(|| Error::Document("no UpdateIdentity".into()))??;
        let props = self
            .properties
            .ok_or_else(|| Error::Document("no Properties".into()))?;
        let update_type = props.update_type.as_deref().unwrap_or("Software");
        let kind = UpdateKind::classify(update_type, self.category_type.as_deref());
        let eula_id = props.eula_id?;
        let prerequisites = self.prerequisites?;
        let bundled = self.bundled?;
        let superseded = self.superseded?;
        let files = self.files?;
        Ok(UpdateDoc {
            id,
            kind,
            title: self.titles.into_title(),
            expired: props.expired,
            eula_id,
            prerequisites,
            bundled,
            superseded,
            files,
        })
    }

    /// True the first time it is asked for `which`.
    fn first(&mut self, which: Once) -> bool {
        let bit = 1 << which as u16;
        let first = self.seen & bit == 0;
        self.seen |= bit;
        first
    }
}

/// True the first time it is called with a flag, which it sets.
fn first_time(flag: &mut bool) -> bool {
    !std::mem::replace(flag, true)
}

/// What `Properties` gives.
#[derive(Debug)]
struct Properties {
    update_type: Option<String>,
    expired: bool,
    eula_id: Result<Option<Uuid>, Error>,
}

impl Properties {
    fn new(attrs: &Attrs<'_>) -> Self {
        Self {
            update_type: attrs.get("UpdateType").map(str::to_owned),
            expired: attrs
                .get("PublicationState")
                .is_some_and(|s| s.eq_ignore_ascii_case("Expired")),
            eula_id: attrs
                .get("EulaID")
                .map(|v| parse_guid("EulaID", v))
                .transpose(),
        }
    }
}

fn identity(attrs: &Attrs<'_>, need_revision: bool) -> Result<RevisionId, Error> {
    let id = attrs
        .get("UpdateID")
        .ok_or_else(|| Error::Document("UpdateIdentity without UpdateID".into()))?;
    let update_id = parse_guid("UpdateID", id)?;
    let revision = match attrs.get("RevisionNumber") {
        Some(r) => r.trim().parse().map_err(|_| bad("RevisionNumber", r))?,
        None if need_revision => {
            return Err(Error::Document(format!(
                "UpdateIdentity {update_id} without RevisionNumber"
            )))
        }
        None => 0,
    };
    Ok(RevisionId::new(update_id, revision))
}

/// A `File` whose children (its `AdditionalDigest`) are still being read. Attribute values
/// are converted on open; the errors are reported in the tree parser's order by `finish`.
#[derive(Debug)]
struct PendingFile {
    sha1: Result<Sha1Digest, Error>,
    size: Result<u64, Error>,
    name: String,
    patching_type: Option<String>,
    modified: Option<String>,
    /// Text of the chosen `AdditionalDigest`, once one is open.
    sha256: Option<String>,
}

impl PendingFile {
    fn new(attrs: &Attrs<'_>) -> Self {
        let sha1 = attrs
            .get("Digest")
            .ok_or_else(|| Error::Document("File without Digest".into()))
            .and_then(|d| {
                Sha1Digest::from_base64(d)
                    .map_err(|e| Error::Document(format!("File/@Digest: {e}")))
            });
        let size = attrs.get("Size");
        Self {
            sha1,
            size: size
                .unwrap_or("0")
                .trim()
                .parse()
                .map_err(|_| bad("File/@Size", size.unwrap_or(""))),
            // Never trusted as a path: only its extension is ever used, and only if plain.
            name: attrs.get("FileName").unwrap_or_default().to_owned(),
            patching_type: attrs.get("PatchingType").map(str::to_owned),
            modified: attrs.get("Modified").map(str::to_owned),
            sha256: None,
        }
    }

    fn finish(self) -> Result<UpdateFile, Error> {
        let sha1 = self.sha1?;
        let sha256 = self
            .sha256
            .map(|text| Sha256Digest::from_base64(&text))
            .transpose()
            .map_err(|e| Error::Document(format!("AdditionalDigest: {e}")))?;
        Ok(UpdateFile {
            sha1,
            sha256,
            size: self.size?,
            name: self.name,
            patching_type: self.patching_type,
            modified: self.modified,
        })
    }
}

/// The title: that of the first `LocalizedProperties` whose `Language` is exactly `en`
/// (even if it has none), else the first title. Entries are read one at a time into reused
/// buffers, so only the kept titles are allocated.
#[derive(Debug, Default)]
struct Titles {
    /// Decided by an English entry.
    english: Option<Option<String>>,
    first: Option<String>,
    /// The entry being read: text of its first `Title` and first `Language`.
    title: String,
    has_title: bool,
    language: String,
    has_language: bool,
}

impl Titles {
    fn begin_entry(&mut self) {
        self.title.clear();
        self.language.clear();
        self.has_title = false;
        self.has_language = false;
    }

    fn end_entry(&mut self) {
        let english = self.has_language && self.language == "en";
        if english {
            self.english = Some(self.has_title.then(|| self.title.clone()));
        } else if self.first.is_none() && self.has_title {
            self.first = Some(self.title.clone());
        }
    }

    fn into_title(self) -> Option<String> {
        self.english.unwrap_or(self.first)
    }
}
