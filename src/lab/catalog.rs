//! The synthetic catalog: which entities exist, their identities and revisions, and the bytes of
//! their content files. Everything derives from the seed and an index, so nothing large is
//! stored: documents are written on request (`documents`) and file bytes are regenerated on
//! every read.

use crate::model::{RevisionId, Sha1Digest, Sha256Digest, UpdateFile};
use sha1::Digest as _;
use std::collections::HashMap;
use uuid::Uuid;

/// Real classification GUIDs (wsusss.md §5.4), so filters written for real WSUS work here.
pub(super) const SECURITY_UPDATES: Uuid = Uuid::from_u128(0x0fa1201d_4330_4fa8_8ae9_b877473b6441);
pub(super) const CRITICAL_UPDATES: Uuid = Uuid::from_u128(0xe6cf1350_c01b_414d_a61f_263d14d133b4);
pub(super) const UPDATES: Uuid = Uuid::from_u128(0xcd5ffd1e_e932_4e3a_bf74_18bf0b1bbd83);
pub(super) const DRIVERS: Uuid = Uuid::from_u128(0xebfc1fc5_71a4_4f7b_9aca_3b9a503104a0);

/// First KB number of the plain software updates (plain update `i` is KB 5,100,000 + i).
pub(super) const FIRST_KB: u64 = 5_100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Class {
    Security,
    Critical,
    Updates,
    Drivers,
}

impl Class {
    pub(super) fn id(self) -> Uuid {
        match self {
            Self::Security => SECURITY_UPDATES,
            Self::Critical => CRITICAL_UPDATES,
            Self::Updates => UPDATES,
            Self::Drivers => DRIVERS,
        }
    }

    pub(super) fn title(self) -> &'static str {
        match self {
            Self::Security => "Security Updates",
            Self::Critical => "Critical Updates",
            Self::Updates => "Updates",
            Self::Drivers => "Drivers",
        }
    }
}

/// One UpdateID of the catalog. Plain software updates are numbered; everything else is a
/// fixed part of every catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Entity {
    Company,
    Family,
    Product(u8),
    Class(Class),
    Detectoid,
    /// The n-th plain software update (one file each).
    Plain(usize),
    /// The older half of the superseding pair.
    Superseded,
    /// Supersedes `Superseded`; carries the EULA.
    Superseder,
    /// Top-level bundle: `BundledUpdates/AtLeastOne` of `BundleChild(0)` and `NestedBundle`.
    Bundle,
    /// File-less "HIDDEN:" bundle inside `Bundle`, holding `BundleChild(1)`.
    NestedBundle,
    BundleChild(u8),
    Driver(u8),
    /// Revision 200 published, revision 201 expired.
    Expired,
}

/// The GetConfig=true entities, in list order. Deliberately not parents-first: the real list
/// is unsorted (wsusss.md §2.3), so a DSS must not depend on the order.
pub(super) const CONFIG: [Entity; 9] = [
    Entity::Class(Class::Critical),
    Entity::Product(0),
    Entity::Company,
    Entity::Class(Class::Security),
    Entity::Family,
    Entity::Product(1),
    Entity::Class(Class::Updates),
    Entity::Class(Class::Drivers),
    Entity::Detectoid,
];

/// The fixed software and driver entities, listed after the plain updates. Bundle members
/// come after their bundle, as a DSS meets them when it recurses.
pub(super) const SPECIALS: [Entity; 9] = [
    Entity::Superseded,
    Entity::Superseder,
    Entity::Bundle,
    Entity::NestedBundle,
    Entity::BundleChild(0),
    Entity::BundleChild(1),
    Entity::Driver(0),
    Entity::Driver(1),
    Entity::Expired,
];

/// Names of the two products (index = `Entity::Product(n)`).
pub(super) const PRODUCTS: [&str; 2] = ["Outpost Lab OS", "Outpost Lab Server"];

/// File keys of the fixed entities start here; plain update `i` has file key `i`.
const SPECIAL_FILE: u64 = 1 << 48;

impl Entity {
    /// Revision numbers, newest first (the order the lists use: the real GetConfig=true list
    /// names an older revision after the newer one, wsusss.md §2.3).
    pub(super) fn revisions(self) -> &'static [i32] {
        match self {
            Self::Company => &[101, 1],
            Self::Class(Class::Security) => &[100, 1],
            Self::Class(_) | Self::Family => &[100],
            Self::Product(_) => &[202],
            Self::Expired => &[201, 200],
            _ => &[200],
        }
    }

    #[cfg(test)]
    pub(super) fn is_config(self) -> bool {
        matches!(
            self,
            Self::Company | Self::Family | Self::Product(_) | Self::Class(_) | Self::Detectoid
        )
    }

    /// Product of a software/driver entity (for the Categories filter).
    pub(super) fn product(self) -> u8 {
        match self {
            Self::Plain(i) => (i % 2) as u8,
            Self::Bundle | Self::NestedBundle | Self::BundleChild(_) | Self::Driver(_) => 1,
            _ => 0,
        }
    }

    /// Classification of a software/driver entity (for the Classifications filter).
    pub(super) fn class(self) -> Class {
        match self {
            Self::Plain(i) => [Class::Security, Class::Critical, Class::Updates][i % 3],
            Self::Superseded | Self::Superseder => Class::Security,
            Self::Bundle | Self::NestedBundle | Self::BundleChild(_) => Class::Critical,
            Self::Driver(_) => Class::Drivers,
            _ => Class::Updates,
        }
    }

    /// Key of the content file, if the entity has one.
    pub(super) fn file(self) -> Option<u64> {
        let special = |k: u64| Some(SPECIAL_FILE + k);
        match self {
            Self::Plain(i) => Some(i as u64),
            Self::Superseded => special(0),
            Self::Superseder => special(1),
            Self::BundleChild(n) => special(2 + u64::from(n)),
            Self::Driver(n) => special(4 + u64::from(n)),
            Self::Expired => special(6),
            _ => None,
        }
    }
}

/// Every file key of a catalog with `plain` plain updates.
pub(super) fn file_keys(plain: usize) -> impl Iterator<Item = u64> {
    (0..plain as u64).chain(SPECIALS.into_iter().filter_map(Entity::file))
}

/// The immutable part of a catalog: the seed, the identities of the fixed entities and the
/// byte pool content files are cut from.
pub(super) struct Base {
    pub(super) seed: u64,
    fixed: HashMap<Uuid, Entity>,
    pool: Vec<u8>,
}

const TAG_COMPANY: u64 = 1;
const TAG_FAMILY: u64 = 2;
const TAG_PRODUCT: u64 = 3;
const TAG_DETECTOID: u64 = 4;
const TAG_PLAIN: u64 = 5;
const TAG_SPECIAL: u64 = 6;
pub(super) const TAG_PUBLISHER: u64 = 7;
const TAG_EULA: u64 = 8;
pub(super) const TAG_GROUP: u64 = 9;
pub(super) const TAG_DEPLOYMENT: u64 = 10;
const TAG_FILE: u64 = 11;
const TAG_SIZED: u64 = 12;

/// Content files are at most this long (and at least 1 KiB).
const MAX_FILE: usize = 64 << 10;
const POOL: usize = 2 * MAX_FILE;
/// Files of a chosen size (`Lab::add_update_with_file`) are generated in blocks of this many
/// bytes, each a pure function of (seed, key, block index), so any range can be produced
/// without the bytes before it and nothing is ever held whole.
pub(super) const BLOCK: usize = 64 << 10;
/// Every block but the first starts with this many bytes naming (key, block), so no two
/// blocks of any file are equal even though they are all cut from the one pool.
const STAMP: usize = 16;

impl Base {
    pub(super) fn new(seed: u64) -> Self {
        let mut pool = Vec::with_capacity(POOL);
        let mut state = mix(seed ^ TAG_FILE);
        while pool.len() < POOL {
            state = mix(state);
            pool.extend_from_slice(&state.to_le_bytes());
        }
        let mut base = Self {
            seed,
            fixed: HashMap::new(),
            pool,
        };
        for e in CONFIG.into_iter().chain(SPECIALS) {
            base.fixed.insert(base.id(e), e);
        }
        base
    }

    /// The UpdateID of an entity.
    pub(super) fn id(&self, e: Entity) -> Uuid {
        match e {
            Entity::Class(c) => c.id(),
            Entity::Company => self.derive(TAG_COMPANY, 0),
            Entity::Family => self.derive(TAG_FAMILY, 0),
            Entity::Product(n) => self.derive(TAG_PRODUCT, n.into()),
            Entity::Detectoid => self.derive(TAG_DETECTOID, 0),
            Entity::Plain(i) => self.derive(TAG_PLAIN, i as u64),
            Entity::Superseded => self.derive(TAG_SPECIAL, 0),
            Entity::Superseder => self.derive(TAG_SPECIAL, 1),
            Entity::Bundle => self.derive(TAG_SPECIAL, 2),
            Entity::NestedBundle => self.derive(TAG_SPECIAL, 3),
            Entity::BundleChild(n) => self.derive(TAG_SPECIAL, 4 + u64::from(n)),
            Entity::Driver(n) => self.derive(TAG_SPECIAL, 6 + u64::from(n)),
            Entity::Expired => self.derive(TAG_SPECIAL, 8),
        }
    }

    /// A fixed (non-plain) entity by UpdateID.
    pub(super) fn fixed(&self, id: &Uuid) -> Option<Entity> {
        self.fixed.get(id).copied()
    }

    /// The one EULA of the catalog (on `Superseder`).
    pub(super) fn eula(&self) -> Uuid {
        self.derive(TAG_EULA, 0)
    }

    /// A GUID that is a pure function of (seed, tag, index).
    pub(super) fn derive(&self, tag: u64, index: u64) -> Uuid {
        let a = mix(self.seed ^ mix(tag ^ mix(index)));
        let b = mix(a ^ 0x5851_f42d_4c95_7f2d);
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&a.to_be_bytes());
        bytes[8..].copy_from_slice(&b.to_be_bytes());
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    /// `FileName` of a content file.
    pub(super) fn file_name(&self, key: u64) -> String {
        match key.checked_sub(SPECIAL_FILE) {
            None => format!("outpost-lab-kb{}-x64.exe", FIRST_KB + key),
            Some(0) => "outpost-lab-kb5090001-x64.msu".into(),
            Some(1) => "outpost-lab-kb5090002-x64.msu".into(),
            Some(k @ (2 | 3)) => format!("outpost-lab-bundle-part{}.cab", k - 1),
            Some(k @ (4 | 5)) => format!("outpost-lab-netdriver{}.cab", k - 3),
            Some(_) => "outpost-lab-kb5090003-x64.exe".into(),
        }
    }

    /// The bytes of a content file: a unique header line, then a slice of the pool. Cheap to
    /// regenerate, so nothing is stored; distinct keys never share bytes.
    pub(super) fn file_bytes(&self, key: u64) -> Vec<u8> {
        let h = mix(self.seed ^ mix(key ^ TAG_FILE));
        let size = 1024 + (h % (MAX_FILE as u64 - 1024 + 1)) as usize;
        let header = format!("outpost lab file {:016x}/{key}\n", self.seed);
        let offset = (mix(h) % (POOL - MAX_FILE) as u64) as usize;
        let mut bytes = Vec::with_capacity(size);
        bytes.extend_from_slice(header.as_bytes());
        let rest = size - bytes.len();
        bytes.extend_from_slice(&self.pool[offset..offset + rest]);
        bytes
    }

    /// Metadata of a content file (hashes the regenerated bytes).
    pub(super) fn file_meta(&self, key: u64) -> UpdateFile {
        let bytes = self.file_bytes(key);
        let sha1 = Sha1Digest(sha1::Sha1::digest(&bytes).into());
        let sha256 = Sha256Digest(sha2::Sha256::digest(&bytes).into());
        UpdateFile {
            sha1,
            sha256: Some(sha256),
            size: bytes.len() as u64,
            name: self.file_name(key),
            patching_type: None,
            modified: Some("2024-05-10T09:00:00Z".into()),
        }
    }
}

impl Base {
    /// Bytes `[offset, offset + buf.len())` of the file `key` made `size` bytes long: block 0
    /// opens with a header line, every block is a pool slice at an offset derived from its
    /// index. The caller keeps the range within `size`.
    pub(super) fn sized_file_read(&self, key: u64, size: u64, offset: u64, buf: &mut [u8]) {
        debug_assert!(offset + buf.len() as u64 <= size);
        let h = mix(self.seed ^ mix(key ^ TAG_SIZED));
        let mut done = 0;
        while done < buf.len() {
            let pos = offset + done as u64;
            let block = pos / BLOCK as u64;
            let within = (pos % BLOCK as u64) as usize;
            let take = (BLOCK - within).min(buf.len() - done);
            let out = &mut buf[done..done + take];
            let start = (mix(h ^ mix(block)) % (POOL - BLOCK) as u64) as usize + within;
            out.copy_from_slice(&self.pool[start..start + take]);
            // The header goes first so that even files of a few bytes differ by key.
            let header;
            let mut tag = [0u8; STAMP];
            let stamp: &[u8] = if block == 0 {
                header = format!(
                    "{h:016x} outpost lab file {:016x}/{key} ({size} bytes)\n",
                    self.seed
                );
                header.as_bytes()
            } else {
                tag[..8].copy_from_slice(&mix(h ^ block).to_le_bytes());
                tag[8..].copy_from_slice(&block.to_le_bytes());
                &tag
            };
            if within < stamp.len() {
                let n = (stamp.len() - within).min(take);
                out[..n].copy_from_slice(&stamp[within..within + n]);
            }
            done += take;
        }
    }

    /// Metadata of a sized file: both digests by streaming the generator (in two threads,
    /// one per digest: benches create files totalling gigabytes).
    pub(super) fn sized_file_meta(&self, key: u64, size: u64) -> UpdateFile {
        fn digest<D: sha1::Digest>(base: &Base, key: u64, size: u64) -> D {
            let mut hasher = D::new();
            let mut buf = vec![0u8; BLOCK];
            let mut pos = 0;
            while pos < size {
                let n = (size - pos).min(BLOCK as u64) as usize;
                base.sized_file_read(key, size, pos, &mut buf[..n]);
                hasher.update(&buf[..n]);
                pos += n as u64;
            }
            hasher
        }
        let (sha1, sha256) = std::thread::scope(|s| {
            let sha1 = s.spawn(|| digest::<sha1::Sha1>(self, key, size).finalize());
            let sha256 = digest::<sha2::Sha256>(self, key, size).finalize();
            // A panic in the hashing thread is a bug here; re-raise it.
            let sha1 = sha1.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            (sha1, sha256)
        });
        UpdateFile {
            sha1: Sha1Digest(sha1.into()),
            sha256: Some(Sha256Digest(sha256.into())),
            size,
            name: self.file_name(key),
            patching_type: None,
            modified: Some("2024-05-10T09:00:00Z".into()),
        }
    }
}

/// The entities whose revisions the GetConfig=false list carries, in list order.
pub(super) fn update_entities(plain: usize) -> impl Iterator<Item = Entity> {
    (0..plain).map(Entity::Plain).chain(SPECIALS)
}

/// Every (entity, revision) pair of the GetConfig=true list, in list order.
pub(super) fn config_revisions() -> impl Iterator<Item = (Entity, i32)> {
    CONFIG
        .into_iter()
        .flat_map(|e| e.revisions().iter().map(move |r| (e, *r)))
}

/// A revision identity of an entity.
pub(super) fn revision_id(base: &Base, e: Entity, revision: i32) -> RevisionId {
    RevisionId::new(base.id(e), revision)
}

/// SplitMix64 finaliser: a fast, well-mixed pure function (determinism across platforms and
/// crate versions matters more here than statistical quality).
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn identities_are_deterministic_and_distinct() {
        let a = Base::new(1);
        let b = Base::new(1);
        let c = Base::new(2);
        let all: Vec<Entity> = CONFIG
            .into_iter()
            .chain(SPECIALS)
            .chain((0..100).map(Entity::Plain))
            .collect();
        let ids: HashSet<Uuid> = all.iter().map(|e| a.id(*e)).collect();
        assert_eq!(ids.len(), all.len());
        for e in &all {
            assert_eq!(a.id(*e), b.id(*e));
            if !matches!(e, Entity::Class(_)) {
                assert_ne!(a.id(*e), c.id(*e));
            }
        }
        assert_eq!(a.fixed(&a.id(Entity::Bundle)), Some(Entity::Bundle));
        assert_eq!(a.fixed(&a.id(Entity::Plain(3))), None);
    }

    #[test]
    fn file_bytes_are_deterministic_sized_and_unique() {
        let base = Base::new(7);
        let mut digests = HashSet::new();
        for key in file_keys(200) {
            let bytes = base.file_bytes(key);
            assert!((1024..=MAX_FILE).contains(&bytes.len()), "{}", bytes.len());
            assert_eq!(bytes, base.file_bytes(key));
            let meta = base.file_meta(key);
            assert_eq!(meta.size, bytes.len() as u64);
            assert!(digests.insert(meta.sha1));
        }
        assert_eq!(digests.len(), 200 + 7);
    }

    /// Whole-file bytes of a sized file, read in pieces of `step` bytes.
    fn sized(base: &Base, key: u64, size: u64, step: usize) -> Vec<u8> {
        let mut out = vec![0u8; size as usize];
        for (i, piece) in out.chunks_mut(step).enumerate() {
            base.sized_file_read(key, size, (i * step) as u64, piece);
        }
        out
    }

    #[test]
    fn sized_files_are_seekable_deterministic_and_distinct() {
        let base = Base::new(3);
        let size = 3 * BLOCK as u64 + 1234;
        let whole = sized(&base, 9, size, size as usize);
        // Any split of the range gives the same bytes, blocks straddled or not.
        for step in [1, 7, 1000, BLOCK - 1, BLOCK, BLOCK + 5] {
            assert_eq!(sized(&base, 9, size, step), whole, "step {step}");
        }
        assert_eq!(sized(&Base::new(3), 9, size, 4096), whole);
        assert_ne!(sized(&base, 10, size, 4096), whole);
        assert_ne!(sized(&Base::new(4), 9, size, 4096), whole);
        let blocks: HashSet<&[u8]> = whole.chunks(BLOCK).collect();
        assert_eq!(blocks.len(), 4, "no two blocks are equal");
        // Tiny files still differ by key; empty ones are empty.
        assert_ne!(sized(&base, 1, 16, 16), sized(&base, 2, 16, 16));
        assert!(sized(&base, 1, 0, 1).is_empty());
        let meta = base.sized_file_meta(9, size);
        assert_eq!(meta.size, size);
        assert_eq!(meta.sha1, Sha1Digest(sha1::Sha1::digest(&whole).into()));
        assert_eq!(
            meta.sha256,
            Some(Sha256Digest(sha2::Sha256::digest(&whole).into()))
        );
        assert_eq!(meta.name, base.file_name(9));
    }
}
