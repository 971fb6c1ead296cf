"""Every source the default world feeds obeys its declaration: schema, ranges, unique (iso3, year)."""

from pathlib import Path

import pandas as pd
import pytest

from features.build_context import BuildContext
from features.panel import validate_source_frame
from features.registry import FAMILIES, get_source, list_sources
from nexus.config import load_params

REPO = Path(__file__).resolve().parents[2]
DEFAULT = load_params(REPO / "params.yaml").features
WORLD_SOURCES = [*DEFAULT.sources, DEFAULT.label_source, "population"]  # population: in every world, not a panel source by default


@pytest.mark.parametrize("name", WORLD_SOURCES)
def test_source_builds_to_its_declared_schema(name, world_dir):
    source = get_source(name)
    built = source.build(source.find_files(world_dir), BuildContext.for_policy(DEFAULT.bad_input))
    frame = validate_source_frame(source, built)
    assert not frame.duplicated(["iso3", "year"]).any()
    assert frame["iso3"].str.fullmatch(r"X[A-Z]{2}").all()
    for column, spec in source.columns.items():
        values = frame[column].dropna()
        assert len(values) > 0, f"{name}.{column} is never observed"
        assert values.between(spec.low, spec.high).all()


def test_every_source_module_registers_one_source_named_after_it():
    modules = sorted(p.stem for p in (REPO / "features" / "sources").glob("*.py") if p.stem != "__init__")
    names = {s.name for s in list_sources()}
    assert set(modules) <= names | {m for m in modules if m.startswith("_")}
    for source in list_sources():
        assert source.family in FAMILIES
        assert source.available_after_years >= 0
        assert source.columns, f"{source.name} declares no columns"


def test_unknown_source_lists_known_ones():
    with pytest.raises(KeyError, match=r"unknown feature source 'nope'; known: \['"):
        get_source("nope")


def test_validation_names_file_and_row_of_out_of_range_value():
    from nexus.errors import SourceDataError

    source = get_source("press_freedom")
    frame = pd.DataFrame({"iso3": ["XAA", "XAB"], "year": [2010, 2010], "press_freedom_score": [50.0, 250.0],
                          "press_freedom_safety": [50.0, 50.0], "press_freedom_political": [50.0, 50.0],
                          "_row": [2, 3], "_file": ["rsf_2011.csv"] * 2})
    with pytest.raises(SourceDataError, match=r"rsf_2011.csv row 3: press_freedom_score = 250.0 outside the plausible range \[0, 100\]"):
        validate_source_frame(source, frame)
