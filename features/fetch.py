"""`nexus data fetch`: each real source from its publisher's address into the raw folder, verified.

Each source declares where its files come from (`downloads=` beside its globs, features/sources/);
`downloads()` gathers them from the registry, plus the one reference file no source reads. A
download goes to a temp file beside its target and replaces it only once verified, so an
interrupted or refused download never damages what was there.
Verification: an address that names one fixed content (a repository at a commit) must give
the SHA-256 documented in SOURCES.md; a publisher address that serves the latest release
is checked by format (an xlsx is a zip with [Content_Types].xml, an xls an OLE2 file, a CSV
has the expected header, none is an HTML error page) and reported as the documented vintage
or a new one. Files with no stable address are listed with where to get them by hand.
`base_url` replaces every address with `<base_url>/<target>`, for a mirror of a raw folder.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from features.registry import Download, list_sources
from nexus.manifest import atomic_path, sha256_file

# Read by no source: the ISO 3166 / UN M49 reference nexus/countries.py is checked against
# (tests/features/test_real_countries.py).
REFERENCE_DOWNLOADS: tuple[Download, ...] = (
    Download(
        "reference/country-codes.csv",
        "datahub.io (ISO 3166, UN M49)",
        "https://raw.githubusercontent.com/datasets/country-codes/caa72d1e0e5af8876c170bb36a9e4d64a01bba88/"
        "data/country-codes.csv",
        "67b009b529330b0a6043551189f43faa785c9c3cc0011ad2bdb4eac876356c43",
        pinned=True,
        header=("ISO3166-1-Alpha-3", "ISO3166-1-Alpha-2"),
    ),
)


def downloads() -> tuple[Download, ...]:
    """Every file `nexus data fetch` knows: each source's declared downloads, then the reference."""
    found = {d.target: d for s in list_sources() for d in s.downloads}
    return (*found.values(), *(d for d in REFERENCE_DOWNLOADS if d.target not in found))


@dataclass(frozen=True)
class Fetched:
    """What happened to one file: fetched, present (already the documented vintage), by hand, failed."""

    target: str
    status: str
    detail: str = ""
    sha256: str = ""
    size: int = 0

    @property
    def ok(self) -> bool:
        return self.status in {"fetched", "present"}


class VerifyError(Exception):
    """The bytes are not the file its source declares."""


def sniff(content: bytes, target: str, header: Iterable[str] = ()) -> str:
    """The format check; returns a short description or raises VerifyError."""
    if content[:200].lstrip().lower().startswith((b"<!doctype html", b"<html")):
        raise VerifyError("got an HTML page, not the file (moved address or error page)")
    suffix = Path(target).suffix.lower()
    if suffix == ".xlsx":
        if (
            not zipfile.is_zipfile(io.BytesIO(content))
            or "[Content_Types].xml" not in zipfile.ZipFile(io.BytesIO(content)).namelist()
        ):
            raise VerifyError("not an xlsx workbook (no zip with [Content_Types].xml)")
        return "xlsx"
    if suffix == ".xls":
        if content[:8] != bytes.fromhex("d0cf11e0a1b11ae1"):
            raise VerifyError("not an xls workbook (no OLE2 signature)")
        return "xls"
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            lines = content[:20_000].decode(encoding).splitlines()[:10]
            break
        except UnicodeDecodeError:
            continue
    else:
        raise VerifyError("not text")
    wanted = list(header)
    if wanted and not any(all(w in line for w in wanted) for line in lines):
        raise VerifyError(f"no header line naming {', '.join(wanted)}")
    return "csv"


def _unzip(content: bytes, member: str) -> bytes:
    archive = zipfile.ZipFile(io.BytesIO(content))
    names = [n for n in archive.namelist() if fnmatch.fnmatch(Path(n).name, member)]
    if len(names) != 1:
        raise VerifyError(
            f"the zip holds {len(names)} files named {member} ({', '.join(archive.namelist()[:5])})"
        )
    return archive.read(names[0])


def fetch_one(
    entry: Download, raw: Path, client, *, base_url: str | None = None, force: bool = False
) -> Fetched:
    """Download, verify and put one file in place (or say why not)."""
    target = Path(raw) / entry.target
    if not force and target.exists() and sha256_file(target) == f"sha256:{entry.sha256}":
        return Fetched(entry.target, "present", "documented vintage", entry.sha256, target.stat().st_size)
    url = f"{base_url.rstrip('/')}/{quote(entry.target)}" if base_url else entry.url
    if url is None:
        return Fetched(entry.target, "by hand", entry.by_hand)
    try:
        with atomic_path(target) as tmp:
            with client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise VerifyError(f"HTTP {response.status_code} from {url}")
                with tmp.open("wb") as out:
                    for chunk in response.iter_bytes():
                        out.write(chunk)
            if entry.member and zipfile.is_zipfile(tmp):
                tmp.write_bytes(_unzip(tmp.read_bytes(), entry.member))
            content = tmp.read_bytes()
            kind = sniff(content, entry.target, entry.header)
            digest = hashlib.sha256(content).hexdigest()
            documented = digest == entry.sha256
            if entry.pinned and not documented:
                raise VerifyError(
                    f"sha256 {digest[:12]}… is not the documented {entry.sha256[:12]}… "
                    "(the address should serve one fixed file)"
                )
    except VerifyError as exc:
        return Fetched(entry.target, "failed", f"{exc}")
    except Exception as exc:  # noqa: BLE001 - network errors of any kind: report, try the next file
        return Fetched(
            entry.target, "failed", f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]} ({url})"
        )
    vintage = "documented vintage" if documented else "new vintage (sha256 differs from SOURCES.md)"
    return Fetched(entry.target, "fetched", f"{kind}, {vintage}", digest, len(content))


def fetch(
    raw: Path,
    *,
    base_url: str | None = None,
    only: Iterable[str] = (),
    force: bool = False,
    timeout: float = 120.0,
    progress: Callable[[str], None] | None = None,
) -> list[Fetched]:
    """Fetch every declared file (or those whose target contains one of `only`)."""
    import httpx

    step = progress or (lambda msg: None)
    only = list(only)
    entries = [d for d in downloads() if not only or any(o in d.target for o in only)]
    results = []
    headers = {"User-Agent": "nexus-risk/0.1 (nexus data fetch; research use)"}
    with httpx.Client(timeout=timeout, follow_redirects=True, headers=headers) as client:
        for entry in entries:
            step(f"{entry.target}")
            results.append(fetch_one(entry, Path(raw), client, base_url=base_url, force=force))
    return results
