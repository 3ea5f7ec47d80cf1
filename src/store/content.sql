-- Migration 2: the content cache's index. cacache holds the verified bytes; this table is the
-- only record of what is cached. A file with no row is missing.
CREATE TABLE content (
    sha1        BLOB PRIMARY KEY,
    state       TEXT    NOT NULL CHECK (state IN ('missing', 'fetching', 'verified', 'quarantined')),
    size        INTEGER,           -- bytes on disk when verified
    stamp       INTEGER,           -- mtime (ns) of the cached file when verified: a cheap
                                   -- tamper check before serving it
    fetched_at  TEXT,
    last_served TEXT,
    failures    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT
) WITHOUT ROWID;
CREATE INDEX content_state ON content (state);
