-- chatd schema version 5 (PostgreSQL): nothing to change.  SQLite's
-- version 5 mends its search index's delete trigger; PostgreSQL's index of
-- the words is kept by PostgreSQL itself.
COMMENT ON TABLE history IS 'chatd: what was said, kept for replay, paging and search';
