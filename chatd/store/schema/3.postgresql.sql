-- chatd schema version 3 (PostgreSQL).  (SQLite's version 3 also drops its
-- FTS insert trigger; PostgreSQL's GIN index needs no such change.)

-- Read markers (IRCv3 draft/read-marker) of accounts: up to when the
-- account has read each history (target: its folded key).
CREATE TABLE read_markers (
    account TEXT COLLATE "C" NOT NULL,
    target TEXT COLLATE "C" NOT NULL,
    ts DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (account, target)
);

-- A registered channel's history setting ("everything", "since-join",
-- "none"), or NULL for the server's default.
ALTER TABLE channels ADD COLUMN history TEXT;

-- A msgid is unique per target, not overall: a quit or a nick change is
-- kept in each channel it was seen in, under the msgid its readers saw
-- (IRCv3 chathistory: "the msgid tag as originally sent").  Lookups by
-- msgid are always within a conversation: the new key's index serves them.
ALTER TABLE history DROP CONSTRAINT history_pkey;
ALTER TABLE history ADD PRIMARY KEY (target, msgid);
