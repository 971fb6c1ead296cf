"""Content hashes, atomic writes and stage manifests: how stages hand each other files.

A stage writes its outputs into a directory named by the hash of everything that went in
(input file hashes, its params section, upstream keys, its own source code), each output
through a temp file and `os.replace`, and `manifest.json` last: its presence means done.
A consumer re-hashes what it reads and stops on a mismatch.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nexus import __version__
from nexus.errors import StaleArtifactError

MANIFEST = "manifest.json"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def sha256_json(obj: Any) -> str:
    """Hash of a JSON-able object with sorted keys (params sections, key material)."""
    blob = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def source_code_hash(paths: Iterable[Path]) -> str:
    """Hash of the given .py files and of the .py files under the given folders.

    A stage hashes the code that decides its outputs, so a code change invalidates its cache.
    """
    h = hashlib.sha256()
    for root in map(Path, paths):
        files = sorted(root.rglob("*.py")) if root.is_dir() else [root]
        for p in files:
            h.update((p.relative_to(root).as_posix() if root.is_dir() else p.name).encode())
            h.update(p.read_bytes())
    return "sha256:" + h.hexdigest()


def imported_files(module: str) -> list[Path]:
    """The .py files of `module` and of every module of its package it imports, directly or not.

    Read from the source (imports inside functions count), never by importing, so the list
    is the same in every process: the code a stage can run, and nothing else in its folder.
    """
    import ast
    import importlib.util

    package = module.split(".")[0]
    root = Path(importlib.util.find_spec(package).origin).parent

    def file_of(name: str) -> Path | None:
        base = root.joinpath(*name.split(".")[1:])
        for path in (base / "__init__.py", base.with_suffix(".py")):
            if path.is_file():
                return path
        return None

    found: dict[str, Path] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        path = file_of(name) if name not in found else None
        if path is None:
            continue
        found[name] = path
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # a parent package's __init__ runs too
        for node in ast.walk(ast.parse(path.read_bytes())):
            if isinstance(node, ast.Import):
                todo += [a.name for a in node.names if a.name.split(".")[0] == package]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the importing module's package
                    anchor = parts if path.name == "__init__.py" else parts[:-1]
                    base = ".".join([*anchor[:len(anchor) - node.level + 1], *([base] if base else [])])
                if base.split(".")[0] == package:
                    todo += [base, *(f"{base}.{a.name}" for a in node.names)]  # a name may be a submodule
    return [found[name] for name in sorted(found)]


def imported_code_hash(module: str, also: Iterable[Path] = ()) -> str:
    """Hash of the files `imported_files(module)` lists, plus the files in `also`."""
    files = imported_files(module)
    root = files[0].parents[1]  # files[0] is the package's __init__.py: paths are hashed from its parent
    h = hashlib.sha256()
    for p in [*files, *map(Path, also)]:
        h.update((p.relative_to(root).as_posix() if p.is_relative_to(root) else p.name).encode())
        h.update(p.read_bytes())
    return "sha256:" + h.hexdigest()


_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read once: the process's umask, restored at once


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temp path beside `target`; on success it replaces `target` in one step."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        if os.path.isfile(tmp):  # mkstemp's 0600 would make every page and artifact private
            os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_text(target: Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


@dataclass
class Manifest:
    """What a stage read, with which params, and the hash of every file it wrote."""

    stage: str
    key: str
    inputs: dict[str, str]
    params: dict[str, Any]
    upstream: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    nexus_version: str = __version__
    created: str = ""

    @staticmethod
    def compute_key(stage: str, inputs: Mapping[str, str], params: Any,
                    upstream: Mapping[str, str], code: str) -> str:
        return sha256_json({"stage": stage, "inputs": dict(inputs), "params": params,
                            "upstream": dict(upstream), "code": code})

    def write(self, directory: Path) -> Path:
        """Hash the outputs already in `directory` and write the manifest last."""
        directory = Path(directory)
        self.outputs = {name: sha256_file(directory / name) for name in sorted(self.outputs)}
        self.created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        atomic_write_text(directory / MANIFEST, json.dumps(asdict(self), indent=2, sort_keys=True))
        return directory / MANIFEST

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        path = Path(directory) / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise StaleArtifactError(f"{path}: unreadable manifest ({exc})") from None

    def verify(self, directory: Path, hint: str = "") -> None:
        """Re-hash every output; raise StaleArtifactError naming the first that differs."""
        for name, digest in self.outputs.items():
            path = Path(directory) / name
            if not path.exists() or sha256_file(path) != digest:
                raise StaleArtifactError(
                    f"{path} does not match its manifest{'; ' + hint if hint else ''}")


def is_complete(directory: Path) -> bool:
    """True when a stage directory has a manifest whose outputs all verify."""
    try:
        Manifest.read(directory).verify(directory)
        return True
    except StaleArtifactError:
        return False


def short(key: str, n: int = 12) -> str:
    return key.split(":", 1)[-1][:n]
