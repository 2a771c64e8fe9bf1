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
