"""Digest of the Go sources that make up torchwave's compiled core.

The build stamps it into the library; at import, a source checkout compares
it with its own sources to catch a stale library. Runs as a script too:
``python _sourcehash.py ROOT`` prints the digest (no third-party imports)."""

from __future__ import annotations

import hashlib
import pathlib
import sys


def source_hash(root: pathlib.Path) -> str:
    root = pathlib.Path(root)
    files = [root / "go.mod"]
    if (root / "go.sum").is_file():
        files.append(root / "go.sum")
    for top in ("goexport", "kernels", "optim"):
        if not (root / top).is_dir():
            continue
        files += sorted(p for p in (root / top).rglob("*") if p.is_file() and p.suffix in (".go", ".s", ".h", ".ptx", ".cu"))
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


if __name__ == "__main__":
    print(source_hash(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")))
