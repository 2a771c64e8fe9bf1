-- chatd schema version 4 (SQLite): the search index knows each message's
-- conversation.
--
-- A search is for words within the conversations the reader may read.
-- With the words alone in the index, a common word matched messages of
-- every channel, and each match's row was read to learn its channel: on
-- 10 million messages in 10,000 channels, hundreds of page reads and a
-- p99 of 200 ms.  Now the index holds one more token per message, its
-- conversation's ("t" and the target's UTF-8 in hex: one word for the
-- tokenizer, whatever the channel's name), and FTS5 intersects the words'
-- lists with the conversations' inside the index: only rows that match
-- are read.  The column is computed, not stored; it is NULL for an empty
-- text, which has no words and is not indexed (nor is its scope).
ALTER TABLE history ADD COLUMN scope TEXT
    GENERATED ALWAYS AS (CASE WHEN text <> '' THEN 't' || lower(hex(target)) END) VIRTUAL;

DROP TRIGGER history_fts_delete;
DROP TABLE history_fts;
CREATE VIRTUAL TABLE history_fts USING fts5 (
    text,
    scope,
    content = 'history',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 0'
);
INSERT INTO history_fts (rowid, text, scope)
    SELECT id, text, scope FROM history WHERE text <> '';
CREATE TRIGGER history_fts_delete AFTER DELETE ON history BEGIN
    INSERT INTO history_fts (history_fts, rowid, text, scope) VALUES ('delete', old.id, old.text, old.scope); END;
