"""
The package as users install it: a wheel in a fresh virtual environment.

A test run from the checkout passes even when packaging is broken, because
the checkout is on sys.path; this builds the wheel, installs it somewhere
else and asks the installed twistd and console script for their help.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from .test_tap import SERVER_OPTIONS

ROOT = Path(__file__).resolve().parent.parent
# What a source distribution needs; everything else in the checkout stays out.
SOURCES = ["chatd", "twisted", "setup.cfg", "pyproject.toml", "README.md"]


def run(*args: str | os.PathLike[str], cwd: str | os.PathLike[str] = "/") -> str:
    # Without the checkout's path (trial -j puts it in PYTHONPATH): pip would
    # take Twisted there for installed and leave the new venv without twistd.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"{args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result.stdout


class WheelTests(SynchronousTestCase):
    def test_wheel_installs_plugin_and_client(self) -> None:
        work = Path(self.mktemp()).resolve()
        source = work / "src"
        source.mkdir(parents=True)
        for name in SOURCES:
            if (ROOT / name).is_dir():
                shutil.copytree(
                    ROOT / name,
                    source / name,
                    ignore=shutil.ignore_patterns("__pycache__", "dropin.cache"),
                )
            else:
                shutil.copy(ROOT / name, source / name)
        wheels = work / "wheels"
        run(
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            wheels,
            source,
        )
        [wheel] = wheels.glob("chatd-*.whl")
        names = zipfile.ZipFile(wheel).namelist()
        self.assertIn("twisted/plugins/chatd_plugin.py", names)
        self.assertNotIn("twisted/plugins/__init__.py", names)
        self.assertNotIn("twisted/__init__.py", names)
        self.assertFalse([n for n in names if n.startswith("tests/")], names)
        # the store's schema steps are package data
        self.assertIn("chatd/store/schema/1.sql", names)

        env_dir = work / "venv"
        venv.create(env_dir, with_pip=True)
        bindir = env_dir / "bin"
        run(bindir / "python", "-m", "pip", "install", "-q", wheel)
        help_text = run(bindir / "twistd", "chatd", "--help", cwd=work)
        for option in SERVER_OPTIONS:
            self.assertIn(option, help_text)
        self.assertIn("usage", run(bindir / "chatd-client", "--help", cwd=work).lower())
        self.assertIn("hash-password", run(bindir / "chatd-admin", "--help", cwd=work))
        self.assertIn(
            "usage",
            run(bindir / "python", "-m", "chatd.client", "--help", cwd=work).lower(),
        )
