//! Pure domain types shared by every layer: update identities, digests, parsed update
//! documents, target groups and deployments. No I/O and no XML here; `xml::update` parses
//! documents into these types and `store` persists them.

mod content_path;
mod digest;
mod time;

pub use content_path::{parse_content_path, ContentRef};
pub use digest::{DigestError, Sha1Digest, Sha256Digest};
pub use time::{format_wsus_time, parse_wsus_time, TimeError};

use std::fmt;
use uuid::Uuid;

/// The "All Computers" built-in target group (root of every WSUS group tree).
pub const ALL_COMPUTERS: Uuid = Uuid::from_u128(0xa0a08746_4dbe_4a37_9adf_9e7652c0b421);
/// The "Unassigned Computers" built-in target group.
pub const UNASSIGNED_COMPUTERS: Uuid = Uuid::from_u128(0xb73ca6ed_5727_47f3_84de_015e03f6a88a);

/// One revision of one update: the key of everything the USS sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RevisionId {
    pub update_id: Uuid,
    pub revision: i32,
}

impl RevisionId {
    pub fn new(update_id: Uuid, revision: i32) -> Self {
        Self {
            update_id,
            revision,
        }
    }
}

impl fmt::Display for RevisionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.update_id, self.revision)
    }
}

/// `Properties/@UpdateType` of an update document, plus the category type for categories
/// (wsusss.md §5.3). Unknown values are kept raw rather than rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateKind {
    Software,
    Driver,
    Detectoid,
    /// Company, ProductFamily, Product.
    Category(String),
    Classification,
    Other(String),
}

impl UpdateKind {
    /// Classify from the document's `UpdateType` and (for categories) `CategoryType`.
    pub fn classify(update_type: &str, category_type: Option<&str>) -> Self {
        let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        match update_type {
            t if eq(t, "Software") => Self::Software,
            t if eq(t, "Driver") => Self::Driver,
            t if eq(t, "Detectoid") => Self::Detectoid,
            t if eq(t, "Category") => match category_type {
                Some(c) if eq(c, "UpdateClassification") => Self::Classification,
                Some(c) => Self::Category(c.to_owned()),
                None => Self::Category(String::new()),
            },
            other => Self::Other(other.to_owned()),
        }
    }

    /// The stable word used in the store, logs and status.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Software => "software",
            Self::Driver => "driver",
            Self::Detectoid => "detectoid",
            Self::Category(_) => "category",
            Self::Classification => "classification",
            Self::Other(_) => "other",
        }
    }

    /// Categories, classifications and detectoids: what the GetConfig=true list carries.
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            Self::Category(_) | Self::Classification | Self::Detectoid
        )
    }
}

/// One `Relationships/Prerequisites` entry. `group` is `None` for a plain AND prerequisite
/// and `Some(n)` for the n-th `AtLeastOne` OR-group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prerequisite {
    pub update_id: Uuid,
    pub group: Option<u32>,
    pub is_category: bool,
}

/// One `Files/File` of an update document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateFile {
    pub sha1: Sha1Digest,
    pub sha256: Option<Sha256Digest>,
    pub size: u64,
    pub name: String,
    pub patching_type: Option<String>,
    pub modified: Option<String>,
}

impl UpdateFile {
    /// Extension of `FileName` including the dot (`.cab`), or empty.
    pub fn extension(&self) -> &str {
        match self.name.rfind('.') {
            Some(i) if !self.name[i..].contains(['/', '\\']) => &self.name[i..],
            _ => "",
        }
    }

    /// `/Content/XX/SHA1HEX.ext`: the path real WSUS serves a file at (wsusss.md §2.9).
    pub fn content_path(&self) -> String {
        let hex = self.sha1.to_hex_upper();
        format!("/Content/{}/{}{}", &hex[38..], hex, self.extension())
    }
}

/// What Outpost keeps from a parsed `<upd:Update>` document. The document text itself is
/// stored verbatim beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateDoc {
    pub id: RevisionId,
    pub kind: UpdateKind,
    pub title: Option<String>,
    /// `PublicationState="Expired"`.
    pub expired: bool,
    pub eula_id: Option<Uuid>,
    pub prerequisites: Vec<Prerequisite>,
    /// Members of `BundledUpdates` (in `AtLeastOne` groups or not), in document order.
    pub bundled: Vec<RevisionId>,
    pub superseded: Vec<Uuid>,
    pub files: Vec<UpdateFile>,
}

impl UpdateDoc {
    /// Category GUIDs named by `AtLeastOne IsCategory="true"` groups.
    pub fn category_ids(&self) -> impl Iterator<Item = Uuid> + '_ {
        self.prerequisites
            .iter()
            .filter(|p| p.is_category)
            .map(|p| p.update_id)
    }
}

/// A USS target group (`ServerSyncTargetGroup`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroup {
    pub id: Uuid,
    /// `None` for the root (the USS sends the zero GUID).
    pub parent: Option<Uuid>,
    pub name: String,
    pub is_builtin: bool,
}

/// `ServerSyncDeployment/Action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentAction {
    Install,
    Uninstall,
    Scan,
    Block,
}

impl DeploymentAction {
    pub fn from_code(code: i32) -> Option<Self> {
        Some(match code {
            0 => Self::Install,
            1 => Self::Uninstall,
            2 => Self::Scan,
            3 => Self::Block,
            _ => return None,
        })
    }

    pub fn code(self) -> i32 {
        match self {
            Self::Install => 0,
            Self::Uninstall => 1,
            Self::Scan => 2,
            Self::Block => 3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Install => "install",
            Self::Uninstall => "uninstall",
            Self::Scan => "scan",
            Self::Block => "block",
        }
    }
}

/// An approval of one revision for one target group (`ServerSyncDeployment`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub deployment_id: Uuid,
    pub revision: RevisionId,
    pub action: DeploymentAction,
    pub admin_name: Option<String>,
    /// Kept as the USS wrote it; `None` for the "no deadline" sentinel.
    pub deadline: Option<String>,
    pub is_assigned: bool,
    pub go_live_time: String,
    pub target_group: Uuid,
    pub download_priority: u8,
}

/// The "no deadline" sentinel of MS-WSUSSS.
pub const NO_DEADLINE: &str = "9999-12-31T23:59:59.9999999";
