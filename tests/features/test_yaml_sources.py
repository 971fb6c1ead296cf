"""Sources declared in one YAML file: the converted ones equal their old Python builders, a declaration in a
params folder is listed and built, and every bad declaration is one line naming the YAML file and the key."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from features.build_context import BuildContext
from features.calendar import Calendar, constant
from features.panel import validate_source_frame
from features.readers import FILE, ROW, iso3_from_codes, read_table, to_number, to_year
from features.registry import Column, Download, get_source, list_sources
from features.sources._yaml_sources import Builder, DeclaredCalendar, load_folder, read_declaration
from nexus.config import load_params
from nexus.errors import ConfigError, SourceDataError

REPO = Path(__file__).resolve().parents[2]
RAW = REPO.parent / "shared" / "data" / "raw"
REFUSE = BuildContext.for_policy("refuse")

# --- the reference: the two Python builders as they were before the conversion (test-only) -------------

WJP = {"WJP Rule of Law Index: Overall Score": ("wjp_overall", "overall rule-of-law score"),
       "Factor 2: Absence of Corruption": ("wjp_absence_of_corruption", "factor 2, absence of corruption"),
       "8.5 Criminal system is free of corruption": ("wjp_criminal_justice_corruption",
                                                     "8.5 criminal justice free of corruption")}
VDEM = {"v2x_veracc_osp": ("vdem_vertical_accountability", "vertical accountability (elections, parties)"),
        "v2xcs_ccsi": ("vdem_civil_society", "core civil society index"),
        "v2xcl_rol": ("vdem_equality_before_law", "equality before the law and individual liberty"),
        "v2x_freexp_altinf": ("vdem_free_expression", "freedom of expression and alternative information"),
        "v2x_horacc_osp": ("vdem_horizontal_accountability",
                           "horizontal accountability (courts, legislature)"),
        "v2x_pubcorr": ("vdem_public_sector_integrity",
                        "public-sector corruption, inverted: higher = cleaner")}


def python_judicial_metrics(files):
    frames = []
    for path in files["workbook"]:
        raw = read_table(path, required=["Country", "Year", "Country Code", *WJP], sheet="Historical Data")
        frame = pd.DataFrame({"iso3": iso3_from_codes(raw, "Country Code", name_column="Country"),
                              "year": to_year(raw, "Year"), ROW: raw[ROW], FILE: raw[FILE]})
        for source_col, (col, _) in WJP.items():
            frame[col] = to_number(raw, source_col)
        frames.append(frame[frame["iso3"].notna()])
    return pd.concat(frames, ignore_index=True)


def python_democracy_indices(files):
    frames = []
    for path in files["table"]:
        raw = read_table(path, required=["year", "country_name", "country_text_id", *VDEM])
        frame = pd.DataFrame({"iso3": iso3_from_codes(raw, "country_text_id", name_column="country_name"),
                              "year": to_year(raw, "year"), ROW: raw[ROW], FILE: raw[FILE]})
        for source_col, (col, _) in VDEM.items():
            frame[col] = to_number(raw, source_col).round(6)
        frames.append(frame[frame["iso3"].notna()])
    return pd.concat(frames, ignore_index=True)


WJP_DATES = {2013: "2012-11-28", 2014: "2014-03-05", 2015: "2015-06-02", 2016: "2016-10-20",
             2018: "2018-01-31", 2019: "2019-02-28", 2020: "2020-03-11", 2021: "2021-10-14",
             2022: "2022-10-26", 2023: "2023-10-25", 2024: "2024-10-23", 2025: "2025-10-28"}
PYTHON = {
    "judicial_metrics": dict(
        build=python_judicial_metrics, family="judicial",
        publisher="World Justice Project, Rule of Law Index",
        raw_globs={"workbook": "wjp_roli/*.xlsx"},
        columns={c: Column(0.0, 1.0, "score 0–1, higher = stronger rule of law", d) for c, d in WJP.values()},
        calendar=Calendar(lag_years=1, max_age_years=2, editions=WJP_DATES),
        downloads=(Download("wjp_roli/2025_wjp_rule_of_law_index_HISTORICAL_DATA_FILE.xlsx",
                            "World Justice Project",
                            "https://worldjusticeproject.org/rule-of-law-index/downloads/"
                            "2025_wjp_rule_of_law_index_HISTORICAL_DATA_FILE.xlsx",
                            "caad9192f24070e340b04b8e6820830665008e17f3d0eed3782bd3ad80b417d7"),)),
    "democracy_indices": dict(
        build=python_democracy_indices, family="governance",
        publisher="V-Dem Institute, Varieties of Democracy (Democratic Spaces subset)",
        raw_globs={"table": "vdem/dv_data_*.csv"},
        columns={c: Column(0.0, 1.0, "index 0–1", d) for c, d in VDEM.values()}, calendar=constant(1),
        downloads=(Download("vdem/dv_data_1968_on.csv", "V-Dem Institute (demspaces)",
                            "https://raw.githubusercontent.com/vdeminstitute/demspaces/"
                            "1012a66d590d2315c292f2ec745f168abbf84d05/create-data/output/dv_data_1968_on.csv",
                            "d6c75baffce5486b5de414255bc56b1c97ab86d20175338dfad4b8fd28116374", pinned=True,
                            header=("gwcode", "year", "country_text_id")),)),
}


def both_builds(name: str, raw: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    source = get_source(name)
    files = source.find_files(raw)
    return (validate_source_frame(source, source.build(files, REFUSE)),
            validate_source_frame(source, PYTHON[name]["build"](files)))


@pytest.mark.parametrize("name", sorted(PYTHON))
def test_a_converted_source_declares_what_its_python_module_did(name):
    source, old = get_source(name), PYTHON[name]
    assert isinstance(source.calendar, DeclaredCalendar)
    assert source.calendar.declared_in == str(REPO / "features" / "sources" / f"{name}.yaml")
    assert not (REPO / "features" / "sources" / f"{name}.py").exists()
    for key in ("family", "publisher", "raw_globs", "columns", "downloads"):
        assert getattr(source, key) == old[key], key
    assert source.calendar.as_dict("editions") == old["calendar"].as_dict("editions")
    assert source.lineage == () and source.optional_roles == () and source.description


def test_judicial_metrics_from_yaml_is_the_python_frame_on_the_synthetic_world(world_dir):
    declared, python = both_builds("judicial_metrics", world_dir)
    assert len(declared) > 1000
    pd.testing.assert_frame_equal(declared, python, check_exact=True)


@pytest.mark.realdata
@pytest.mark.skipif(not RAW.is_dir(), reason=f"{RAW} is absent: the publishers' files live there")
@pytest.mark.parametrize("name", sorted(PYTHON))
def test_a_converted_source_is_the_python_frame_on_the_publishers_files(name):
    declared, python = both_builds(name, RAW)
    assert len(declared) == {"judicial_metrics": 1484, "democracy_indices": 8742}[name]
    pd.testing.assert_frame_equal(declared, python, check_exact=True)


# --- a new proxy source declared in a folder of its own ---------------------------------------------------

PROXY = """\
description: A fictional proxy index, one CSV per edition (semicolon, decimal comma, a title line).
family: press
publisher: Example Watch
files:
  table: proxy/proxy_*.csv
reader: {delimiter: ";", decimal: ",", header_row: 2, skip_rows: {Country: [Total]}}
country: {column: Country, kind: name}
year: {column: Edition, offset: -1}
columns:
  proxy_score:
    column: Score (%)
    range: [0, 1]
    scale: 0.01
    round: 6
    unit: share 0–1
    description: the proxy's score as a share
calendar: {lag_years: 1}
lineage: [press_freedom]
lineage_external: [example_survey]
"""
ROWS = "Example Watch index\nCountry;Edition;Score (%)\nNorway;2021;12,5\nChile;2021;40\nTotal;2021;30\n"


def declare(tmp_path: Path, text: str = PROXY, rows: str = ROWS, name: str = "proxy_index") -> Path:
    folder = tmp_path / "sources"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "raw" / "proxy").mkdir(parents=True, exist_ok=True)
    (tmp_path / "raw" / "proxy" / "proxy_2021.csv").write_text(rows, encoding="utf-8")
    return folder / f"{name}.yaml"


def build_declared(path: Path, raw: Path) -> pd.DataFrame:
    decl = read_declaration(path)
    files = {role: sorted(raw.glob(glob)) for role, glob in decl.files.items()}
    return Builder(path, decl)(files, REFUSE)


def test_a_declaration_reads_its_files_as_declared(tmp_path):
    frame = build_declared(declare(tmp_path), tmp_path / "raw").set_index(["iso3", "year"])
    assert frame["proxy_score"].to_dict() == {("NOR", 2020): 0.125, ("CHL", 2020): 0.40}
    assert frame[ROW].tolist() == [3, 4]  # the line a person sees: a title line, then the header


@pytest.fixture
def own_registry(monkeypatch):
    """The registry as it is, restored after the test: a declaration registered here stays here."""
    from features import registry
    from features.sources import _yaml_sources

    list_sources()
    monkeypatch.setattr(registry, "_SOURCES", dict(registry._SOURCES))
    monkeypatch.setattr(_yaml_sources, "_loaded", set(_yaml_sources._loaded))


def test_nexus_sources_lists_a_source_declared_in_a_params_folder(tmp_path, monkeypatch, own_registry):
    from typer.testing import CliRunner

    from nexus.cli import app

    path = declare(tmp_path)
    monkeypatch.chdir(REPO)
    listed = CliRunner().invoke(app, ["--set", f"features.source_dirs=[{path.parent}]", "sources",
                                      "--raw", str(tmp_path / "raw")])
    assert listed.exit_code == 0, listed.output
    entry = listed.stdout[listed.stdout.index("proxy_index"):].splitlines()
    assert entry[0].split()[:2] == ["proxy_index", "press"]
    assert "lineage: press_freedom, example_survey" in entry[0]
    assert entry[1].strip() == "Example Watch" and entry[2].strip() == "columns: proxy_score"
    assert entry[3].strip().endswith("years 2020–2020, 2 countries, 2 rows from 1 file")
    assert get_source("proxy_index").description.startswith("A fictional proxy index")


def test_a_bad_declaration_stops_the_cli_with_one_line_and_exit_code_2(tmp_path):
    path = declare(tmp_path, PROXY.replace("family:", "famly:"))
    bad = subprocess.run([sys.executable, "-c", "from nexus.cli import cli; cli()", "--set",
                          f"features.source_dirs=[{path.parent}]", "sources", "--no-coverage"],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines() == [
        f"error: {path}: famly: unknown key; did you mean 'family'? (valid here: calendar, columns, country, "
        "description, downloads, family, files, label_construct, lineage, lineage_external, optional_roles, "
        "publisher, reader, year)"]


def test_source_dirs_are_relative_to_the_params_file(tmp_path):
    profile = f"extends: {REPO / 'params.yaml'}\nfeatures: {{source_dirs: [mine]}}\n"
    (tmp_path / "params.yaml").write_text(profile, encoding="utf-8")
    assert load_params(tmp_path / "params.yaml").features.source_dirs == [tmp_path / "mine"]
    assert load_params(REPO / "params.yaml").features.source_dirs == []


# --- bad declarations: one line naming the YAML file and the key ------------------------------------------

@pytest.mark.parametrize("edit, key, problem", [
    (("family: press", "famly: press"), "famly", "unknown key; did you mean 'family'? (valid here: cal"),
    (("unit: share", "unti: share"), "columns.proxy_score.unti", "did you mean 'unit'? (valid here: column"),
    (("family: press\n", ""), "family", "required key is missing"),
    (("family: press", "family: weather"), "family", "Input should be 'press', 'border'"),
    (("lag_years: 1}", "lag_years: 1, editions: {2020: Sept 2020}}"), "calendar.editions.2020", "date"),
    (("lag_years: 1}", "lag_years: 2, max_age_years: 1}"), "calendar", "below lag_years"),
    (("offset: -1}", "offset: -1, from_file_name: '(\\d{4})'}"), "year", "exactly one of column or from_"),
    (("[0, 1]", "[1, 0]"), "columns.proxy_score.range", "low 1 is above high 0"),
])
def test_a_bad_declaration_names_the_file_and_the_key(tmp_path, edit, key, problem):
    path = declare(tmp_path, PROXY.replace(*edit))
    with pytest.raises(ConfigError) as caught:
        read_declaration(path)
    assert str(caught.value).startswith(f"{path}: {key}: ") and problem in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_lineage_edge_to_no_source_and_a_taken_name_are_refused_when_the_folder_loads(tmp_path):
    known = {s.name for s in list_sources()}
    path = declare(tmp_path, PROXY.replace("[press_freedom]", "[press_freedom, press_fredom]"))
    with pytest.raises(ConfigError, match=rf"^{path}: lineage\[1\]: 'press_fredom' is not a registered"):
        load_folder(path.parent, known)
    path.unlink()
    taken = declare(tmp_path, name="population")
    with pytest.raises(ConfigError, match=rf"^{taken}: source 'population' is already registered"):
        load_folder(taken.parent, known)
    assert "proxy_index" not in {s.name for s in list_sources()}  # nothing was registered


def test_a_column_missing_from_the_file_names_file_column_and_key(tmp_path):
    path = declare(tmp_path, PROXY.replace("column: Score (%)", "column: Score"))
    with pytest.raises(SourceDataError) as caught:
        build_declared(path, tmp_path / "raw")
    assert str(caught.value) == (f"{tmp_path / 'raw' / 'proxy' / 'proxy_2021.csv'} row 2: no column 'Score' "
                                 f"({path}: columns.proxy_score.column; found: Country, Edition, Score (%))")


def test_a_value_outside_the_declared_range_names_file_row_column_value_and_key(tmp_path):
    path = declare(tmp_path, rows=ROWS.replace("Chile;2021;40", "Chile;2021;140"))
    with pytest.raises(SourceDataError) as caught:
        build_declared(path, tmp_path / "raw")
    data = tmp_path / "raw" / "proxy" / "proxy_2021.csv"
    assert str(caught.value) == (f"{data} row 4: proxy_score = 1.4 outside the plausible range [0, 1] "
                                 f"(share 0–1; {path}: columns.proxy_score.range)")


def test_an_edition_missing_from_the_files_names_the_yaml_file():
    with pytest.raises(ConfigError, match=r"judicial_metrics\.yaml: calendar\.editions\.2014: source "
                                          r"'judicial_metrics': edition \(data year\) 2014 is declared"):
        get_source("judicial_metrics").calendar.check("judicial_metrics", set(WJP_DATES) - {2014}, "editions")


def test_every_packaged_yaml_file_registers_one_source_named_after_it():
    declared = sorted(p.stem for p in (REPO / "features" / "sources").glob("*.yaml"))
    assert {"judicial_metrics", "democracy_indices"} <= set(declared)
    assert set(declared) <= {s.name for s in list_sources()}
