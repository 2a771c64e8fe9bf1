-- chatd schema version 1: accounts and registered channels.
-- The same SQL for SQLite and PostgreSQL (see chatd/store/schema.py for
-- how steps are split into statements and how a dialect gets its own file).

CREATE TABLE accounts (
    folded TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    scram TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    email TEXT
);

CREATE TABLE channels (
    folded TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    founder TEXT NOT NULL,
    registered_at DOUBLE PRECISION NOT NULL,
    topic TEXT NOT NULL,
    topic_by TEXT NOT NULL,
    topic_at DOUBLE PRECISION NOT NULL,
    flags TEXT NOT NULL,
    mode_key TEXT,
    -- "limit" is a reserved word in both dialects
    user_limit BIGINT
);

-- Ban (b), exception (e) and invite (I) entries, in the order they were set.
CREATE TABLE channel_lists (
    channel TEXT NOT NULL REFERENCES channels (folded) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    mode TEXT NOT NULL,
    mask TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (channel, position)
);

-- Accounts given +o or +v on join, in the order given.
CREATE TABLE channel_access (
    channel TEXT NOT NULL REFERENCES channels (folded) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    account TEXT NOT NULL,
    level TEXT NOT NULL,
    PRIMARY KEY (channel, position)
);

CREATE INDEX channels_by_founder ON channels (founder);
CREATE INDEX channel_access_by_account ON channel_access (account);
