-- chatd schema version 2 (PostgreSQL): what was said, kept for replay and
-- search.  Items sort by (ts, msgid); history_by_target makes the latest,
-- before and after queries range scans of one index.  msgid and target
-- compare by code point (COLLATE "C"), as in SQLite and Python, whatever
-- the database's locale.  "to" is a reserved word: the column is recipient.

CREATE TABLE history (
    msgid TEXT COLLATE "C" PRIMARY KEY,
    target TEXT COLLATE "C" NOT NULL,
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
-- Full-text search: queries use this very expression.
CREATE INDEX history_text ON history USING GIN (to_tsvector('simple', text));
