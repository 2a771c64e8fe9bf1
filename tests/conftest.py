"""
pytest runs the whole suite from a temporary directory of its own, removed
at the end.  trial's C{TestCase.mktemp()} makes paths relative to the
working directory, and so do hypothesis's example database and any
subprocess that writes where it stands (twistd's pid and log files): run
from the checkout, they all wrote into it.  Tests that need the checkout
find it through C{__file__}.

The run fails if a test leaves anything in the checkout all the same.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Directories of tools, not of tests: they may come and go during a run.
_TOOL_DIRS = frozenset(
    {".git", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
)
#: twistd's plugin cache, which it writes beside the plugin (installed
#: editable, in the checkout) whenever it looks for plugins.
_TOOL_FILES = frozenset({"twisted/plugins/dropin.cache"})


def _is_tool_dir(name: str) -> bool:
    return name in _TOOL_DIRS or name.startswith(".venv") or name.endswith(".egg-info")


def checkout_paths(root: Path) -> set[str]:
    """Every file and directory under C{root}, relative, but the tools' own."""
    found: set[str] = set()
    for top, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not _is_tool_dir(d)]
        here = Path(top).relative_to(root)
        for name in (*dirs, *files):
            path = (here / name).as_posix()
            if path not in _TOOL_FILES:
                found.add(path)
    return found


def left_behind(before: set[str], root: Path) -> list[str]:
    """
    What is under C{root} now and was not in C{before}: the top-most new
    paths only (a new directory, not every file in it).
    """
    new = sorted(checkout_paths(root) - before)
    return [p for p in new if not any(p.startswith(q + "/") for q in new)]


def _hypothesis_here(work: str) -> None:
    """
    Point hypothesis's storage (example database, caches) into C{work}:
    it took the working directory when it was imported, before the chdir.
    """
    if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        return  # the user chose where
    try:
        from hypothesis.configuration import set_hypothesis_home_dir
    except ImportError:
        return
    set_hypothesis_home_dir(Path(work) / ".hypothesis")


class _Run:
    """Where the run works, and what the checkout held before it."""

    home = ""
    work = ""
    before: set[str] = set()


def pytest_configure(config: pytest.Config) -> None:
    # Before collection: importing the tests may write (hypothesis does).
    _Run.before = checkout_paths(ROOT)
    _Run.home = os.getcwd()
    _Run.work = tempfile.mkdtemp(prefix="chatd-tests-")
    os.chdir(_Run.work)
    _hypothesis_here(_Run.work)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _Run.work:
        return
    os.chdir(_Run.home)
    shutil.rmtree(_Run.work, ignore_errors=True)
    _Run.work = ""
    left = left_behind(_Run.before, ROOT)
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = (
            f"tests left {len(left)} new paths in the checkout {ROOT}: "
            + ", ".join(left)
            + " (tests must write only under temporary directories)"
        )
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(message, red=True, bold=True)
        else:
            print(message)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
