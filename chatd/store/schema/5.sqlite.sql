-- chatd schema version 5 (SQLite): deleting an item that was never in the
-- search index no longer damages it.
--
-- Items with an empty text (joins, parts, mode changes...) have no words
-- and are not indexed, but the trigger of versions 3 and 4 told FTS5 to
-- delete every deleted row from the index, those too.  Each such 'delete'
-- took one more document off FTS5's count than it held, and once that
-- count was wrong, later deletes (a redaction, the history's expiry)
-- failed with "database disk image is malformed" while SQLite's and
-- FTS5's own integrity checks still passed.  The trigger now skips them,
-- and the index is built again from the table, which repairs a file that
-- was damaged that way.
DROP TRIGGER history_fts_delete;
INSERT INTO history_fts (history_fts) VALUES ('delete-all');
INSERT INTO history_fts (rowid, text, scope)
    SELECT id, text, scope FROM history WHERE text <> '';
CREATE TRIGGER history_fts_delete AFTER DELETE ON history WHEN old.text <> '' BEGIN
    INSERT INTO history_fts (history_fts, rowid, text, scope) VALUES ('delete', old.id, old.text, old.scope); END;
