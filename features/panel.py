"""The feature stage: build every selected source, validate it, and join a lagged country-year panel.

A panel row (iso3, year=t) holds only what was published by the end of t: a source value
describing year y enters once its source's publication calendar (features/calendar.py) says
it was public (y + lag, or the declared date of the edition that first published it), and is
missing once older than the source's `max_age_years`, never carried further. The row's
`coverage` is the share of declared signals actually observed. The label (tier at t) is kept
beside the features for training to build its targets; it is never a feature unless an
experiment asks.

Outputs: `panel.parquet`; `panel_sources.parquet` (per row and source: the data year used and
the year it was published); `source_rows.parquet` (per source value: the raw file and row it
was read from) and `country_regions.json` (features/lineage.py); `value_origins.parquet` and
`contributing_rows.parquet` (what an aggregated value is and the rows it was made of,
features/aggregates.py); `label_provenance.parquet`
(per labelled row: the file and row the label comes from, its evidence level, the files that
agree, a conflict a declared precedence settled, and the rule that made it: stated, or
inferred by tier_placements.infer_unlisted).

The cache key hashes the code the build can run (the modules `features.panel` imports,
directly or not: registry, readers, calendar, event tables, every source, the OCDS reader),
so editing the download table or the synthetic world leaves every panel in place.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.aggregates import CONTRIBUTING_ROWS, VALUE_ORIGINS, contributing_rows_table, value_origins_table
from features.build_context import OCDS_TEMP_PREFIX, QUALITY_FILE, BuildContext
from features.calendar import latest_published
from features.lineage import COUNTRY_REGIONS, PROVENANCE, SOURCE_ROWS, regions_table, source_rows_table
from features.readers import FILE, ROW
from features.registry import KEYS, RESOLVED, FeatureSource, get_source
from features.sources._yaml_sources import declaration_files, load_source_dirs
from nexus.config import DaskParams, FeaturesParams
from nexus.errors import ConfigError, SourceDataError
from nexus.manifest import (
    Manifest,
    atomic_path,
    atomic_write_text,
    imported_code_hash,
    is_complete,
    sha256_file,
    short,
)
from nexus.processes import remove_orphaned_temp_dirs

PANEL = "panel.parquet"
LABEL_PROVENANCE = "label_provenance.parquet"
CATALOG = "feature_catalog.json"


@dataclass(frozen=True)
class FeatureBuild:
    """Where the panel is, its manifest, and whether this call built it or found it up to date."""

    directory: Path
    manifest: Manifest
    built: bool

    @property
    def panel_path(self) -> Path:
        return self.directory / PANEL


def validate_source_frame(source: FeatureSource, frame: pd.DataFrame) -> pd.DataFrame:
    """Check a built source against its declaration (pandera); errors name file and row."""
    import pandera.pandas as pa

    missing = [c for c in ["iso3", "year", *source.columns] if c not in frame.columns]
    if missing:
        raise SourceDataError(f"source {source.name}", None, f"builder returned no column {missing[0]!r}")
    schema = pa.DataFrameSchema(
        {"iso3": pa.Column(str, pa.Check.str_matches(r"^[A-Z]{3}$")),
         "year": pa.Column(int, pa.Check.in_range(1900, 2100)),
         **{name: pa.Column(float, pa.Check.in_range(col.low, col.high), nullable=True, coerce=True)
            for name, col in source.columns.items()}},
        unique=KEYS, coerce=True, strict=False, report_duplicates="all",
    )
    try:
        return schema.validate(frame.reset_index(drop=True), lazy=False)
    except pa.errors.SchemaError as exc:
        cases = exc.failure_cases if exc.failure_cases is not None else pd.DataFrame()
        index = cases["index"].dropna().astype(int).tolist() if "index" in cases else []
        if exc.reason_code and "DUPLICATE" in str(exc.reason_code).upper():
            dup = frame.reset_index(drop=True)
            dup = dup[dup.duplicated(KEYS, keep="first")].iloc[0]
            raise SourceDataError(dup[FILE], int(dup[ROW]),
                                  f"duplicate country-year {dup['iso3']} {dup['year']}") from None
        column = getattr(exc, "column_name", None) or getattr(exc.schema, "name", "?")
        if index:
            row = frame.reset_index(drop=True).iloc[index[0]]
            value = row.get(column, "?")
            spec = source.columns.get(column)
            problem = (f"outside the plausible range [{spec.low:g}, {spec.high:g}] ({spec.unit})" if spec
                       else f"fails {exc.check}")
            raise SourceDataError(row[FILE], int(row[ROW]), f"{column} = {value} {problem}") from None
        raise SourceDataError(f"source {source.name}", None, f"{column}: {str(exc).splitlines()[0]}") from None


def assemble_panel(frames: dict[str, pd.DataFrame], sources: dict[str, FeatureSource],
                   params: FeaturesParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Join built sources into the panel (each value from its publication on) and the per-source provenance."""
    first, last = params.years.first, params.years.last
    entry = pd.concat([f[KEYS] for f in frames.values()]).groupby("iso3")["year"].min()
    grid = pd.DataFrame([(iso3, t) for iso3, y0 in entry.items() for t in range(max(first, y0), last + 1)],
                        columns=KEYS)
    panel = grid.set_index(KEYS)
    provenance = []
    feature_cols: list[str] = []
    for name, frame in frames.items():
        source = sources[name]
        cols = list(source.columns)
        calendar = source.calendar
        published = calendar.published_year(frame["year"].to_numpy(), params.calendar)
        known = latest_published(frame, grid, cols, published, calendar.max_age_years)
        panel = panel.join(known[cols])
        provenance.append(pd.DataFrame({"iso3": grid["iso3"].to_numpy(), "year": grid["year"].to_numpy(),
                                        "source": name, "data_year": known["data_year"].to_numpy(),
                                        "published_year": known["published_year"].to_numpy()}))
        if source.family == "label":
            continue
        feature_cols += cols
        for k in params.extra_lags:  # the value row t − k held
            older = latest_published(frame, grid, cols, published, calendar.max_age_years, years_back=k)
            panel = panel.join(older[cols].add_suffix(f"_lag{k}"))
    panel = panel.copy()  # one block per dtype again after the joins (else pandas warns of fragmentation)
    panel["coverage"] = panel[feature_cols].notna().mean(axis=1) if feature_cols else np.nan
    panel = panel.reset_index()
    panel["year"] = panel["year"].astype("int64")
    prov = pd.concat(provenance, ignore_index=True)
    prov["data_year"] = prov["data_year"].astype("Int64")
    prov["published_year"] = prov["published_year"].astype("Int64")
    return panel, prov


def label_provenance(frame: pd.DataFrame, raw: Path, first: int, last: int) -> pd.DataFrame:
    """Per labelled country-year (lag 0): file (relative to raw), row, evidence and how the label was made."""
    out = frame[(frame["year"] >= first) & (frame["year"] <= last)].copy()

    def relative(path) -> str:
        try:
            return Path(path).resolve().relative_to(Path(raw).resolve()).as_posix()
        except ValueError:
            return str(path)

    out["file"] = out[FILE].map(relative)
    out["row"] = out[ROW].astype("int64")
    for text in ("evidence", "also_in", "rule", RESOLVED):
        if text not in out:
            out[text] = ""
    label_cols = [c for c in out.columns if c.startswith("label_")]
    out = out.rename(columns={RESOLVED: "resolved_conflict"})
    keep = ["iso3", "year", *label_cols, "evidence", "file", "row", "also_in", "resolved_conflict", "rule"]
    out = out[keep].sort_values(KEYS, kind="stable").reset_index(drop=True)
    out["year"] = out["year"].astype("int64")
    for c in ("evidence", "file", "also_in", "resolved_conflict", "rule"):
        out[c] = out[c].fillna("").astype(str)
    return out


def feature_catalog(sources: dict[str, FeatureSource], params: FeaturesParams,
                    files: dict[str, dict[str, str]]) -> dict:
    """Every panel column's source, family, unit, lag and lineage (read by training and scoring)."""
    catalog = {}
    for name, source in sources.items():
        for col, spec in source.columns.items():
            entry = {"source": name, "family": source.family, "publisher": source.publisher, "unit": spec.unit,
                     "description": spec.description, "lag_years": source.calendar.lag_label(params.calendar),
                     "calendar": source.calendar.as_dict(params.calendar),
                     "lineage": list(source.lineage), "files": files[name], "extra_lag": 0,
                     "label_construct": col in source.label_construct}
            catalog[col] = entry
            if source.family != "label":
                for k in params.extra_lags:
                    catalog[f"{col}_lag{k}"] = entry | {"extra_lag": k}
    return catalog


def panel_code_hash(source_dirs: Sequence[Path] = ()) -> str:
    """Hash of the code a feature build can run: what `features.panel` imports, country codes, manifests,
    and the YAML source declarations (packaged and in `source_dirs`)."""
    nexus_dir = Path(__file__).parents[1] / "nexus"
    return imported_code_hash("features.panel", also=[nexus_dir / "countries.py", nexus_dir / "manifest.py",
                                                      *declaration_files(source_dirs)])


def build_sources(sources: Mapping[str, FeatureSource], found: Mapping[str, dict[str, list[Path]]],
                  params: FeaturesParams, context: BuildContext,
                  step: Callable[[str], None]) -> dict[str, pd.DataFrame]:
    """Build and validate every source with the build's context; check each against its calendar."""
    frames = {}
    for n, source in sources.items():
        step(f"building {n}")
        frames[n] = validate_source_frame(source, source.build(found[n], context))
        source.calendar.check(n, frames[n]["year"].unique(), params.calendar)
    return frames


def build_features(params: FeaturesParams, dask: DaskParams, raw: Path, artifacts: Path, *,
                   force: bool = False, progress: Callable[[str], None] | None = None) -> FeatureBuild:
    """Build (or find up to date) the panel for these params; the manifest is written last.

    Event builders run on a Dask cluster when `dask.enabled` (features/distributed.py), here
    otherwise; both give the same panel under the same key.
    """
    step = progress or (lambda msg: None)
    remove_orphaned_temp_dirs(OCDS_TEMP_PREFIX)  # a killed build's scratch, even when this one is up to date
    names = [*params.sources, params.label_source]
    load_source_dirs(params.source_dirs)  # YAML sources in the params' folders (docs/sources.md)
    try:
        sources = {n: get_source(n) for n in names}
    except KeyError as exc:
        raise ConfigError("params.yaml", "features.sources", exc.args[0]) from None
    found = {n: s.find_files(raw) for n, s in sources.items()}
    inputs = {}
    for role_files in found.values():
        for files in role_files.values():
            for p in files:
                inputs[p.relative_to(raw).as_posix()] = sha256_file(p)
    params_dump = params.model_dump(mode="json")
    key = Manifest.compute_key("features", inputs, params_dump, {}, panel_code_hash(params.source_dirs))
    directory = Path(artifacts) / "features" / short(key)
    if not force and is_complete(directory):
        return FeatureBuild(directory, Manifest.read(directory), built=False)

    # event builders refuse or quarantine, and read OCDS with the engine, that params name
    context = BuildContext.for_policy(params.bad_input, ocds_engine=params.ocds_engine)
    with contextlib.ExitStack() as stack:
        if dask.enabled:
            from features.distributed import on_dask

            context = stack.enter_context(on_dask(dask, context))
        frames = build_sources(sources, found, params, context, step)
    quality = context.quality
    if quality.tables:
        step(f"event tables ({params.bad_input}): {quality.summary()}")
    step("joining the panel")
    panel, prov = assemble_panel(frames, sources, params)
    panel = panel[(panel["year"] >= params.years.first) & (panel["year"] <= params.years.last)]
    labels = label_provenance(frames[params.label_source], raw, params.years.first, params.years.last)
    rows, untraced = source_rows_table(frames, raw)
    origins = value_origins_table(frames, {n: list(s.columns) for n, s in sources.items()}, raw, FILE, ROW)
    contributing = contributing_rows_table(frames, raw, FILE)

    if directory.exists():
        shutil.rmtree(directory)  # an incomplete earlier attempt: no manifest, nothing to keep
    directory.mkdir(parents=True)
    with atomic_path(directory / PANEL) as tmp:
        panel.to_parquet(tmp, index=False)
    with atomic_path(directory / PROVENANCE) as tmp:
        prov.to_parquet(tmp, index=False)
    with atomic_path(directory / LABEL_PROVENANCE) as tmp:
        labels.to_parquet(tmp, index=False)
    with atomic_path(directory / SOURCE_ROWS) as tmp:
        rows.to_parquet(tmp, index=False)
    for name, table in ((VALUE_ORIGINS, origins), (CONTRIBUTING_ROWS, contributing)):
        with atomic_path(directory / name) as tmp:
            table.to_parquet(tmp, index=False)
    regions = regions_table(frames)
    atomic_write_text(directory / COUNTRY_REGIONS, json.dumps(regions, indent=2, sort_keys=True))
    files_by_source = {n: {p.relative_to(raw).as_posix(): inputs[p.relative_to(raw).as_posix()]
                           for fs in found[n].values() for p in fs} for n in names}
    atomic_write_text(directory / CATALOG, json.dumps(feature_catalog(sources, params, files_by_source), indent=2))
    atomic_write_text(directory / QUALITY_FILE, json.dumps(quality.as_dict(), indent=2))
    outputs = (PANEL, PROVENANCE, LABEL_PROVENANCE, SOURCE_ROWS, VALUE_ORIGINS, CONTRIBUTING_ROWS, COUNTRY_REGIONS,
               CATALOG, QUALITY_FILE)
    manifest = Manifest(stage="features", key=key, inputs=inputs, params=params_dump,
                        outputs=dict.fromkeys(outputs, ""),
                        extra={"raw": str(raw), "rows": len(panel), "columns": len(panel.columns),
                               "countries": int(panel["iso3"].nunique()), "untraced_sources": untraced})
    manifest.write(directory)
    return FeatureBuild(directory, manifest, built=True)


def load_panel(directory: Path) -> tuple[pd.DataFrame, dict, Manifest]:
    """Read a built panel after verifying it against its manifest."""
    manifest = Manifest.read(directory)
    manifest.verify(directory, hint="run 'nexus features --force'")
    catalog = json.loads((Path(directory) / CATALOG).read_text(encoding="utf-8"))
    return pd.read_parquet(Path(directory) / PANEL), catalog, manifest
