"""Tests for chatd.accounts and chatd-admin."""
