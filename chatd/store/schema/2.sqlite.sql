-- chatd schema version 2 (SQLite): what was said, kept for replay and search.
-- Items sort by (ts, msgid); history_by_target makes the latest, before and
-- after queries range scans of one index.  "to" is a reserved word: the
-- column is recipient.

CREATE TABLE history (
    id INTEGER PRIMARY KEY,
    msgid TEXT NOT NULL UNIQUE,
    target TEXT NOT NULL,
    ts DOUBLE PRECISION NOT NULL,
    kind TEXT NOT NULL,
    nick TEXT NOT NULL,
    username TEXT NOT NULL,
    host TEXT NOT NULL,
    account TEXT,
    recipient TEXT NOT NULL,
    text TEXT NOT NULL,
    tags TEXT NOT NULL,
    extra TEXT NOT NULL
);

CREATE INDEX history_by_target ON history (target, ts, msgid);
-- For expiry by age.
CREATE INDEX history_by_ts ON history (ts);

-- Full-text search over text: an FTS5 index whose content is the history
-- table itself, kept in step by the triggers below.  Diacritics are kept so
-- that words match as they do in the other engines.
CREATE VIRTUAL TABLE history_fts USING fts5 (
    text,
    content = 'history',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 0'
);

CREATE TRIGGER history_fts_insert AFTER INSERT ON history BEGIN
    INSERT INTO history_fts (rowid, text) VALUES (new.id, new.text); END;

CREATE TRIGGER history_fts_delete AFTER DELETE ON history BEGIN
    INSERT INTO history_fts (history_fts, rowid, text)
    VALUES ('delete', old.id, old.text); END;
