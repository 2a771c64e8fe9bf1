"""Tests of chatd.store: the storage engines and their one contract."""
