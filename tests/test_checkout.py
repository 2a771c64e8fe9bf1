"""
Tests write only under temporary directories, never into the checkout:
see conftest.py, which runs the pytest session elsewhere and fails the run
if a test leaves a file in the checkout.
"""

from __future__ import annotations

from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from .conftest import ROOT, checkout_paths, left_behind


class TemporaryDirectoryTests(SynchronousTestCase):
    def test_mktemp_is_outside_the_checkout(self) -> None:
        """
        trial's mktemp() is relative to the working directory: under pytest
        that is a temporary directory, under trial its own _trial_temp.
        """
        path = Path(self.mktemp()).resolve()
        if path.is_relative_to(ROOT):
            below = path.relative_to(ROOT).parts[0]
            self.assertTrue(below.startswith("_trial_temp"), path)

    def test_left_behind_names_new_paths_only(self) -> None:
        root = Path(self.mktemp())
        (root / "tests").mkdir(parents=True)
        (root / "tests" / "test_x.py").write_text("")
        (root / "twisted" / "plugins").mkdir(parents=True)
        before = checkout_paths(root)
        # what a test run once left in the clone
        (root / "tests.test_x" / "X" / "test_y").mkdir(parents=True)
        (root / "tests.test_x" / "X" / "test_y" / "big.whl").write_bytes(b"x")
        (root / "twistd.pid").write_text("1")
        # the tools' own: caches, the virtual environment, twistd's plugin cache
        for cache in ("__pycache__", ".pytest_cache", ".venv", ".venv-pypy"):
            (root / "tests" / cache).mkdir()
            (root / "tests" / cache / "f").write_text("")
        (root / "twisted" / "plugins" / "dropin.cache").write_text("")
        self.assertEqual(left_behind(before, root), ["tests.test_x", "twistd.pid"])
        self.assertEqual(left_behind(checkout_paths(root), root), [])
