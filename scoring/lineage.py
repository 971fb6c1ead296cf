"""Where each feature value came from: the raw file and row, and the year the value describes.

The panel keeps, per country-year and source, the year its value describes
(`panel_sources.parquet`) but not the file and row, which the source builders know and drop
after validation. Re-running the builders once per panel gives that table; it is stored beside
the other artifacts under the panel's key, so a service restart reads it instead of rebuilding.
A source whose raw files changed since the panel was built gets no rows: a file name that no
longer holds the value is worse than none.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from features.panel import PROVENANCE
from features.readers import FILE, ROW
from features.registry import get_source
from nexus.errors import NexusError
from nexus.manifest import Manifest, atomic_path, is_complete, sha256_file, short

SOURCE_ROWS = "source_rows.parquet"
ROW_COLUMNS = ["source", "iso3", "data_year", "file", "row"]


def source_rows(features_dir: Path, artifacts: Path,
                progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """(source, iso3, data_year) → raw file (relative to the raw folder) and 1-based row."""
    step = progress or (lambda msg: None)
    features_manifest = Manifest.read(features_dir)
    directory = Path(artifacts) / "lineage" / short(features_manifest.key)
    if is_complete(directory):
        return pd.read_parquet(directory / SOURCE_ROWS)
    raw = Path(features_manifest.extra.get("raw", ""))
    frames, skipped = [], {}
    label = features_manifest.params.get("label_source")  # the current placement features read the label
    for name in [*features_manifest.params.get("sources", []), *([label] if label else [])]:
        step(f"tracing raw rows of {name}")
        try:
            frames.append(_rows_of(name, raw, features_manifest.inputs))
        except Exception as exc:  # noqa: BLE001 - lineage is an aid: a source without it still serves
            skipped[name] = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=ROW_COLUMNS)
    directory.mkdir(parents=True, exist_ok=True)
    with atomic_path(directory / SOURCE_ROWS) as tmp:
        table.to_parquet(tmp, index=False)
    Manifest(stage="lineage", key=features_manifest.key, inputs={}, params={},
             upstream={"features": features_manifest.key}, outputs={SOURCE_ROWS: ""},
             extra={"skipped": skipped}).write(directory)
    return table


def _rows_of(name: str, raw: Path, panel_inputs: dict[str, str]) -> pd.DataFrame:
    source = get_source(name)
    found = source.find_files(raw)
    for files in found.values():
        for path in files:
            rel = path.relative_to(raw).as_posix()
            if panel_inputs.get(rel) != sha256_file(path):
                raise NexusError(f"{rel} changed since the panel was built")
    frame = source.build(found)
    files = frame[FILE].astype(str).map(lambda p: _relative(p, raw))
    return pd.DataFrame({"source": name, "iso3": frame["iso3"].astype(str).to_numpy(),
                         "data_year": frame["year"].astype("int64").to_numpy(), "file": files.to_numpy(),
                         "row": pd.to_numeric(frame[ROW], errors="coerce").astype("Int64").to_numpy()})


def _relative(path: str, raw: Path) -> str:
    try:
        return Path(path).relative_to(raw).as_posix()
    except ValueError:
        return path


def data_years(features_dir: Path) -> dict[tuple[str, int, str], int]:
    """(iso3, year, source) → the year the source value in that panel row describes."""
    prov = pd.read_parquet(Path(features_dir) / PROVENANCE).dropna(subset=["data_year"])
    return {(i, int(y), s): int(d) for i, y, s, d in
            zip(prov["iso3"], prov["year"], prov["source"], prov["data_year"], strict=True)}


def country_regions(raw: Path, iso3s: list[str]) -> dict[str, str]:
    """Each country's region: as the press-freedom files group it, else the UN region, else ''.

    The fictional countries of the synthetic world exist only in its files, so their region can
    only come from there; real ones fall back to country_converter's UN region.
    """
    regions: dict[str, str] = {}
    for path in sorted(Path(raw).glob("rsf_wpfi/*.csv")):
        try:
            table = pd.read_csv(path, sep=";", encoding="utf-8-sig", usecols=["ISO", "Zone"], dtype=str)
        except (ValueError, OSError, UnicodeDecodeError):
            continue  # an edition in another layout: the next one may do
        regions |= dict(zip(table["ISO"].str.strip(), table["Zone"].fillna("").str.strip(), strict=True))
    missing = [c for c in iso3s if not regions.get(c)]
    if missing:
        from nexus.countries import _converter, is_synthetic

        real = [c for c in missing if not is_synthetic(c)]
        if real:
            un = _converter().convert(real, src="ISO3", to="UNregion", not_found="")
            un = [un] if isinstance(un, str) else un
            regions |= {c: r for c, r in zip(real, un, strict=True) if r}
    return {c: regions.get(c, "") for c in iso3s}
