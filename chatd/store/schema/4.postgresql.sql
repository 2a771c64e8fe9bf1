-- chatd schema version 4 (PostgreSQL): nothing to change.  SQLite's
-- version 4 puts each message's conversation into its full-text index;
-- PostgreSQL's search is as it was (its planner chooses between the GIN
-- index of the words and the index by target).
COMMENT ON TABLE history IS 'chatd: what was said, kept for replay, paging and search';
