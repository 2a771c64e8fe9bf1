-- chatd schema version 3 (SQLite).
--
-- The FTS5 index is filled by chatd, one statement per batch, in the
-- batch's transaction (SQLiteStore._append_history): a trigger that
-- inserts row by row made appends about three times slower (30k rows/s
-- against 100k rows/s on CPython, 200k items in batches of 5,000).
-- Deletes still go through history_fts_delete, so expiry and redaction
-- keep the index in step.
DROP TRIGGER history_fts_insert;

-- Read markers (IRCv3 draft/read-marker) of accounts: up to when the
-- account has read each history (target: its folded key).
CREATE TABLE read_markers (
    account TEXT NOT NULL,
    target TEXT NOT NULL,
    ts DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (account, target)
);

-- A registered channel's history setting ("everything", "since-join",
-- "none"), or NULL for the server's default.
ALTER TABLE channels ADD COLUMN history TEXT;

-- A msgid is unique per target, not overall: a quit or a nick change is
-- kept in each channel it was seen in, under the msgid its readers saw
-- (IRCv3 chathistory: "the msgid tag as originally sent").  SQLite cannot
-- change a column's constraint in place: the table is made again, with the
-- same ids (the FTS5 index's rowids), its indexes and its delete trigger.
-- The (target, msgid) key's index also serves lookups by msgid, which are
-- always within a conversation.
CREATE TABLE history_3 (
    id INTEGER PRIMARY KEY,
    msgid TEXT NOT NULL,
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
    extra TEXT NOT NULL,
    UNIQUE (target, msgid)
);
INSERT INTO history_3
    SELECT id, msgid, target, ts, kind, nick, username, host, account,
           recipient, text, tags, extra
    FROM history;
DROP TABLE history;
ALTER TABLE history_3 RENAME TO history;
CREATE INDEX history_by_target ON history (target, ts, msgid);
CREATE INDEX history_by_ts ON history (ts);
CREATE TRIGGER history_fts_delete AFTER DELETE ON history BEGIN
    INSERT INTO history_fts (history_fts, rowid, text)
    VALUES ('delete', old.id, old.text); END;
