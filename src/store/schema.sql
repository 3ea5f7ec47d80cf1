-- Migration 1: the replica. GUIDs are stored as lower-case text, digests as raw bytes.

-- Small named values: anchors, the USS's config, subscribed languages.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Every update revision fetched from the USS (all types). Rows are written 'staged' batch by
-- batch while a phase runs and become 'live' in the one transaction that also advances the
-- phase's anchor, so readers only ever see whole phases.
CREATE TABLE revision (
    id            INTEGER PRIMARY KEY,
    update_id     TEXT    NOT NULL,
    revision      INTEGER NOT NULL,
    kind          TEXT    NOT NULL,   -- model::UpdateKind::as_str()
    category_type TEXT,               -- Company / ProductFamily / Product for categories
    title         TEXT,
    expired       INTEGER NOT NULL,
    eula_id       TEXT,
    compressed    INTEGER NOT NULL,   -- arrived as XmlUpdateBlobCompressed
    state         TEXT    NOT NULL CHECK (state IN ('staged', 'live')),
    fetched_at    TEXT    NOT NULL,
    UNIQUE (update_id, revision)
);
CREATE INDEX revision_kind ON revision (state, kind);

-- The decoded document of each revision, verbatim, as a store::Document (LZ4 block with
-- its size prepended). Kept apart from `revision` so that making a phase visible rewrites
-- small rows, not megabytes of XML.
CREATE TABLE revision_document (
    revision INTEGER PRIMARY KEY REFERENCES revision (id) ON DELETE CASCADE,
    document BLOB NOT NULL
);

-- Relationships/Prerequisites: grp -1 = plain AND, else the AtLeastOne group number.
-- Relationship tables are WITHOUT ROWID and keyed by revision first: one B-tree each, read
-- per revision, and a sync inserts tens of thousands of rows into them.
CREATE TABLE prerequisite (
    revision    INTEGER NOT NULL REFERENCES revision (id) ON DELETE CASCADE,
    grp         INTEGER NOT NULL,
    update_id   TEXT    NOT NULL,
    is_category INTEGER NOT NULL,
    PRIMARY KEY (revision, grp, update_id)
) WITHOUT ROWID;

-- The categories (products, classifications, …) of each revision: its IsCategory
-- prerequisites, plus — as real bundle members name their product in plain AtLeastOne groups
-- (wsusss.md §5.2) — any prerequisite that is a known category.
CREATE VIEW revision_category (revision, category) AS
    SELECT p.revision, p.update_id FROM prerequisite p
    WHERE p.is_category = 1
       OR p.update_id IN (SELECT update_id FROM revision
                          WHERE kind IN ('category', 'classification'));

-- Relationships/BundledUpdates (with or without AtLeastOne groups).
CREATE TABLE bundle_member (
    revision        INTEGER NOT NULL REFERENCES revision (id) ON DELETE CASCADE,
    member_update   TEXT    NOT NULL,
    member_revision INTEGER NOT NULL,
    PRIMARY KEY (revision, member_update, member_revision)
) WITHOUT ROWID;

-- Relationships/SupersededUpdates.
CREATE TABLE supersedes (
    revision   INTEGER NOT NULL REFERENCES revision (id) ON DELETE CASCADE,
    superseded TEXT    NOT NULL,
    PRIMARY KEY (revision, superseded)
) WITHOUT ROWID;

-- Content files named by the metadata, one row per SHA-1.
CREATE TABLE file (
    sha1          BLOB PRIMARY KEY,
    sha256        BLOB,
    size          INTEGER NOT NULL,
    name          TEXT    NOT NULL,
    patching_type TEXT,
    mu_url        TEXT
);

CREATE TABLE revision_file (
    revision INTEGER NOT NULL REFERENCES revision (id) ON DELETE CASCADE,
    sha1     BLOB    NOT NULL REFERENCES file (sha1),
    PRIMARY KEY (revision, sha1)
) WITHOUT ROWID;
CREATE INDEX revision_file_sha1 ON revision_file (sha1);

-- GetConfigData LanguageUpdateList, merged delta by delta.
CREATE TABLE language (
    id      INTEGER PRIMARY KEY,
    short   TEXT    NOT NULL,
    long    TEXT    NOT NULL,
    enabled INTEGER NOT NULL
);

-- Replica: the USS's target groups (full list each sync).
CREATE TABLE target_group (
    id         TEXT PRIMARY KEY,
    parent     TEXT,
    name       TEXT    NOT NULL,
    is_builtin INTEGER NOT NULL
);

-- Replica: live deployments (approvals), keyed by DeploymentGuid.
CREATE TABLE deployment (
    id                TEXT PRIMARY KEY,
    update_id         TEXT    NOT NULL,
    revision          INTEGER NOT NULL,
    action            INTEGER NOT NULL,
    admin_name        TEXT,
    deadline          TEXT,
    is_assigned       INTEGER NOT NULL,
    go_live_time      TEXT    NOT NULL,
    target_group      TEXT    NOT NULL,
    download_priority INTEGER NOT NULL,
    last_change       TEXT    NOT NULL
);
CREATE INDEX deployment_update ON deployment (update_id, revision);

CREATE TABLE hidden_update (update_id TEXT PRIMARY KEY);
CREATE TABLE accepted_eula (eula_id TEXT PRIMARY KEY);

-- One row per sync pass.
CREATE TABLE sync_run (
    id       INTEGER PRIMARY KEY,
    started  TEXT NOT NULL,
    finished TEXT,
    ok       INTEGER,
    phase    TEXT,
    error    TEXT
);
