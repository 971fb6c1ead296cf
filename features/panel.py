"""The feature stage: build every selected source, validate it, and join a lagged country-year panel.

A panel row (iso3, year=t) holds only what was published by the end of t: a source value
describing year y enters at t >= y + lag, and is carried forward at most
`carry_forward_years` when an edition is missing. The row's `coverage` is the share of
declared signals actually observed. The label (tier at t) is kept beside the features
for training to build its targets; it is never a feature unless an experiment asks.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.event_tables import QUALITY_FILE, bad_input_policy
from features.readers import FILE, ROW
from features.registry import FeatureSource, get_source
from nexus.config import FeaturesParams
from nexus.errors import ConfigError, SourceDataError
from nexus.manifest import Manifest, atomic_path, atomic_write_text, is_complete, sha256_file, short, source_code_hash

PANEL = "panel.parquet"
PROVENANCE = "panel_sources.parquet"
CATALOG = "feature_catalog.json"
KEYS = ["iso3", "year"]


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


def _latest_known(frame: pd.DataFrame, grid: pd.DataFrame, columns: list[str], shift: int,
                  carry: int) -> pd.DataFrame:
    """For each grid (iso3, t): the value with the greatest data year y such that y + shift <= t,
    provided t - (y + shift) <= carry. Returns the grid's order with columns and `data_year`."""
    left = grid.assign(_t=grid["year"].astype("int64")).sort_values("_t", kind="stable")
    right = frame[["iso3", "year", *columns]].assign(_t=(frame["year"] + shift).astype("int64"),
                                                     data_year=frame["year"].astype("int64"))
    right = right.drop(columns="year").sort_values("_t", kind="stable")
    merged = pd.merge_asof(left, right, on="_t", by="iso3", direction="backward", tolerance=carry)
    return merged.drop(columns="_t").set_index(KEYS).reindex(pd.MultiIndex.from_frame(grid[KEYS]))


def assemble_panel(frames: dict[str, pd.DataFrame], sources: dict[str, FeatureSource],
                   params: FeaturesParams, carry_forward_years: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Join built sources into the lagged panel and its per-source provenance table."""
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
        is_label = source.family == "label"
        lag = source.available_after_years
        known = _latest_known(frame, grid, cols, lag, 0 if is_label else carry_forward_years)
        panel = panel.join(known[cols])
        provenance.append(pd.DataFrame({"iso3": grid["iso3"].to_numpy(), "year": grid["year"].to_numpy(),
                                        "source": name, "data_year": known["data_year"].to_numpy()}))
        if is_label:
            continue
        feature_cols += cols
        for k in params.extra_lags:
            older = _latest_known(frame, grid, cols, lag + k, carry_forward_years)
            panel = panel.join(older[cols].add_suffix(f"_lag{k}"))
    panel["coverage"] = panel[feature_cols].notna().mean(axis=1) if feature_cols else np.nan
    panel = panel.reset_index()
    panel["year"] = panel["year"].astype("int64")
    prov = pd.concat(provenance, ignore_index=True)
    prov["data_year"] = prov["data_year"].astype("Int64")
    return panel, prov


def feature_catalog(sources: dict[str, FeatureSource], params: FeaturesParams,
                    files: dict[str, dict[str, str]]) -> dict:
    """Every panel column's source, family, unit, lag and lineage (read by training and scoring)."""
    catalog = {}
    for name, source in sources.items():
        for col, spec in source.columns.items():
            entry = {"source": name, "family": source.family, "publisher": source.publisher, "unit": spec.unit,
                     "description": spec.description, "lag_years": source.available_after_years,
                     "lineage": list(source.lineage), "files": files[name], "extra_lag": 0}
            catalog[col] = entry
            if source.family != "label":
                for k in params.extra_lags:
                    catalog[f"{col}_lag{k}"] = entry | {"extra_lag": k}
    return catalog


CARRY_FORWARD_YEARS = 1  # a missing edition is bridged by the previous one, never longer


def build_features(params: FeaturesParams, raw: Path, artifacts: Path, *, force: bool = False,
                   progress: Callable[[str], None] | None = None) -> FeatureBuild:
    """Build (or find up to date) the panel for these params; the manifest is written last."""
    step = progress or (lambda msg: None)
    names = [*params.sources, params.label_source]
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
    nexus_dir = Path(__file__).parents[1] / "nexus"
    code = source_code_hash([Path(__file__).parent, nexus_dir / "countries.py", nexus_dir / "manifest.py"])
    params_dump = params.model_dump(mode="json") | {"carry_forward_years": CARRY_FORWARD_YEARS}
    key = Manifest.compute_key("features", inputs, params_dump, {}, code)
    directory = Path(artifacts) / "features" / short(key)
    if not force and is_complete(directory):
        return FeatureBuild(directory, Manifest.read(directory), built=False)

    frames = {}
    with bad_input_policy(params.bad_input) as quality:  # event builders refuse or quarantine per params
        for n, source in sources.items():
            step(f"building {n}")
            frames[n] = validate_source_frame(source, source.build(found[n]))
    if quality.tables:
        step(f"event tables ({params.bad_input}): {quality.summary()}")
    step("joining the panel")
    panel, prov = assemble_panel(frames, sources, params, CARRY_FORWARD_YEARS)
    panel = panel[(panel["year"] >= params.years.first) & (panel["year"] <= params.years.last)]

    if directory.exists():
        shutil.rmtree(directory)  # an incomplete earlier attempt: no manifest, nothing to keep
    directory.mkdir(parents=True)
    with atomic_path(directory / PANEL) as tmp:
        panel.to_parquet(tmp, index=False)
    with atomic_path(directory / PROVENANCE) as tmp:
        prov.to_parquet(tmp, index=False)
    files_by_source = {n: {p.relative_to(raw).as_posix(): inputs[p.relative_to(raw).as_posix()]
                           for fs in found[n].values() for p in fs} for n in names}
    atomic_write_text(directory / CATALOG, json.dumps(feature_catalog(sources, params, files_by_source), indent=2))
    atomic_write_text(directory / QUALITY_FILE, json.dumps(quality.as_dict(), indent=2))
    manifest = Manifest(stage="features", key=key, inputs=inputs, params=params_dump,
                        outputs={PANEL: "", PROVENANCE: "", CATALOG: "", QUALITY_FILE: ""},
                        extra={"raw": str(raw), "rows": len(panel), "columns": len(panel.columns),
                               "countries": int(panel["iso3"].nunique())})
    manifest.write(directory)
    return FeatureBuild(directory, manifest, built=True)


def load_panel(directory: Path) -> tuple[pd.DataFrame, dict, Manifest]:
    """Read a built panel after verifying it against its manifest."""
    manifest = Manifest.read(directory)
    manifest.verify(directory, hint="run 'nexus features --force'")
    catalog = json.loads((Path(directory) / CATALOG).read_text(encoding="utf-8"))
    return pd.read_parquet(Path(directory) / PANEL), catalog, manifest
