"""Issue 11: checks that run before a repair, and readers that let no library error through.

Each case builds its bad file in the test (from the real exports in the shared data folder
where the real format matters, skipped when it is absent) and expects one SourceDataError
whose single-line message names the file, the row where there is one, and the problem.
"""

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from features.build_context import BuildContext
from features.readers import read_table
from features.registry import get_source
from features.sources.tier_placements import read_tiers
from nexus.errors import NexusError, SourceDataError

REPO = Path(__file__).resolve().parents[2]


def _one_line(exc: pytest.ExceptionInfo, *parts: str) -> str:
    assert isinstance(exc.value, SourceDataError) and isinstance(exc.value, NexusError)
    text = str(exc.value)
    assert "\n" not in text
    for part in parts:
        assert part in text, f"{part!r} not in {text!r}"
    return text


def _build_press_freedom(raw: Path):
    source = get_source("press_freedom")
    return source.build(source.find_files(raw), BuildContext.for_policy("refuse"))


# --- item 2: a file is checked before another file is derived from it -------------------------

@pytest.fixture
def rsf_copy(tmp_path, shared_data) -> Path:
    """The real RSF exports (2022 to the damaged 2025/2026) copied under tmp_path/raw."""
    src = shared_data / "raw" / "rsf_wpfi"
    dest = tmp_path / "raw" / "rsf_wpfi"
    shutil.copytree(src, dest)
    return tmp_path / "raw"


def _edit_2024(raw: Path, edit) -> Path:
    path = raw / "rsf_wpfi" / "rsf2024 2.csv"
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    path.write_text("\ufeff" + "\n".join(edit(lines)) + "\n", encoding="utf-8")
    return path


def test_real_duplicate_country_in_the_2024_export_is_refused_there_not_in_the_repair(rsf_copy):
    _edit_2024(rsf_copy, lambda lines: [*lines, lines[5]])  # line 6 again at the end
    n = len((rsf_copy / "rsf_wpfi" / "rsf2024 2.csv").read_text(encoding="utf-8-sig").splitlines())
    iso = (rsf_copy / "rsf_wpfi" / "rsf2024 2.csv").read_text(encoding="utf-8-sig").splitlines()[5][:3]
    with pytest.raises(SourceDataError) as exc:
        _build_press_freedom(rsf_copy)
    _one_line(exc, "rsf2024 2.csv", f"row {n}:", f"duplicate country {iso!r} (also row 6)")


def test_real_out_of_range_score_in_the_2024_export_is_blamed_on_its_own_row(rsf_copy):
    def edit(lines):
        cells = lines[11].split(";")
        cells[1] = "123,4"
        lines[11] = ";".join(cells)
        return lines

    _edit_2024(rsf_copy, edit)
    with pytest.raises(SourceDataError) as exc:
        _build_press_freedom(rsf_copy)
    text = _one_line(exc, "rsf2024 2.csv row 12:", "123.4 out of range [0, 100]")
    assert "rwb2025" not in text


def test_duplicate_in_the_predecessor_of_a_damaged_edition_is_refused(tmp_path):
    """Synthetic files in RSF's format: the crash was `truth value of a Series is ambiguous`."""
    folder = tmp_path / "rsf_wpfi"
    folder.mkdir()
    header = "ISO;{};Rank;Political Context;Safety;Country_EN;Year (N);Score N-1;Score evolution"
    (folder / "rsf2024 2.csv").write_text("\n".join([
        header.format("Score"), "NOR;91,89;1;94,87;94,74;Norway;2024;95,18;-3,29",
        "USA;66,59;55;69,03;56,31;United States;2024;71,22;-4,63",
        "NOR;91,89;1;94,87;94,74;Norway;2024;95,18;-3,29"]) + "\n", encoding="utf-8")
    (folder / "rwb2025.csv").write_text("\n".join([
        header.format("Score 2025"), "NOR;9231;1;9000;9400;Norway;2025;9189;0,42"]) + "\n", encoding="cp1252")
    with pytest.raises(SourceDataError) as exc:
        _build_press_freedom(tmp_path)
    _one_line(exc, "rsf2024 2.csv row 4:", "duplicate country 'NOR' (also row 2)")


def test_duplicate_country_in_a_damaged_edition_is_refused(tmp_path):
    folder = tmp_path / "rsf_wpfi"
    folder.mkdir()
    header = "ISO;{};Rank;Political Context;Safety;Country_EN;Year (N);Score N-1;Score evolution"
    (folder / "rsf2024 2.csv").write_text("\n".join([
        header.format("Score"), "NOR;91,89;1;94,87;94,74;Norway;2024;95,18;-3,29"]) + "\n", encoding="utf-8")
    (folder / "rwb2025.csv").write_text("\n".join([
        header.format("Score 2025"), "NOR;9231;1;9000;9400;Norway;2025;9189;0,42",
        "NOR;9231;1;9000;9400;Norway;2025;9189;0,42"]) + "\n", encoding="cp1252")
    with pytest.raises(SourceDataError) as exc:
        _build_press_freedom(tmp_path)
    _one_line(exc, "rwb2025.csv row 3:", "duplicate country 'NOR' (also row 2)")


# --- item 3: every library failure of a reader is one line naming the file --------------------

def _workbook(path: Path) -> Path:
    pd.DataFrame({"Country": ["Norway"], "Year": ["2020"]}).to_excel(path, index=False, sheet_name="Data")
    return path


def _zip_without_workbook(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")


def _encrypted(path: Path) -> None:
    # An encrypted OOXML workbook is an OLE compound file holding an `EncryptedPackage` stream.
    path.write_bytes(bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 504 + "EncryptedPackage".encode("utf-16-le")
                     + b"\0" * 512)


def _truncated(path: Path) -> None:
    good = _workbook(path.with_name("good.xlsx")).read_bytes()
    path.write_bytes(good[: len(good) // 2])


CASES = {
    "csv_text": (lambda p: p.write_text("Country,Year\nNorway,2020\n"),
                 "not an Excel workbook: the file starts like CSV text; expected .xlsx"),
    "html_text": (lambda p: p.write_text("<html><body><table><tr><td>1</td></tr></table></body></html>"),
                  "not an Excel workbook: the file starts like HTML or XML text; expected .xlsx"),
    "truncated_zip": (_truncated, "the zip archive is truncated or damaged"),
    "zip_without_workbook": (_zip_without_workbook, "a zip archive without xl/workbook.xml"),
    "encrypted": (_encrypted, "password-protected (encrypted)"),
    "empty": (lambda p: p.write_bytes(b""), "file is empty"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_workbook_is_one_line_naming_the_file(tmp_path, case):
    make, problem = CASES[case]
    path = tmp_path / "book.xlsx"
    make(path)
    with pytest.raises(SourceDataError) as exc:
        read_table(path, required=["Country"], sheet="Data")
    text = _one_line(exc, str(path), problem)
    assert "Calamine" not in text and "Traceback" not in text


def test_a_missing_sheet_names_the_sheets_found(tmp_path):
    path = _workbook(tmp_path / "book.xlsx")
    with pytest.raises(SourceDataError) as exc:
        read_table(path, required=["Country"], sheet="Historical Data")
    _one_line(exc, f"{path}: no sheet 'Historical Data' (found: Data)")


def test_a_header_row_past_the_sheet_end_names_the_sheet(tmp_path):
    path = _workbook(tmp_path / "book.xlsx")
    with pytest.raises(SourceDataError) as exc:
        read_table(path, required=["Country"], sheet="Data", header_row=40)
    _one_line(exc, str(path), "sheet 'Data' cannot be read")


def test_a_workbook_where_a_csv_is_expected_says_what_was_found(tmp_path):
    path = tmp_path / "table.csv"
    path.write_bytes(_workbook(tmp_path / "book.xlsx").read_bytes())
    with pytest.raises(SourceDataError) as exc:
        read_table(path, required=["Country"])
    _one_line(exc, str(path), "not a CSV text file: the file starts like a zip archive", "expected .csv")


def test_a_valid_workbook_still_reads(tmp_path):
    frame = read_table(_workbook(tmp_path / "book.xlsx"), required=["Country"], sheet="Data")
    assert frame[["Country", "Year", "_row"]].values.tolist() == [["Norway", "2020", 2]]


# --- tier placements: an unknown label on an unknown country names both -----------------------

@pytest.mark.parametrize("name, line", [
    ("tip_tiers_orig.csv", '"Atlantis","ATL",2005,999,"Tier Four"'),
    ("tip_tiers_2016_2025_transcribed.csv", "Atlantis,2020,Tier Four,https://example.org"),
    ("transcribed-2016-2025/tip_tiers_2016_2019_transcribed.csv",
     "Atlantis,ATL,2016,Tier Four,A_narrative_stated,x,https://example.org,1,1,Tier Four,"),
])
def test_real_format_unknown_tier_on_unknown_country_names_both(tmp_path, shared_data, name, line):
    real = (shared_data / "raw" / "us_state_tip" / name).read_text(encoding="utf-8").splitlines()
    path = tmp_path / Path(name).name
    path.write_text("\n".join([*real[:5], line]) + "\n", encoding="utf-8")
    with pytest.raises(SourceDataError) as exc:
        read_tiers(path)
    _one_line(exc, f"{path} row 6:", "'Tier Four' is not a tier placement", "country 'Atlantis' is unknown")


def test_unknown_tier_on_an_ambiguous_country_says_it_is_ambiguous(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("country,report_year,tier\nNorway,2020,Tier 1\nKorea,2020,Tier Four\n", encoding="utf-8")
    with pytest.raises(SourceDataError) as exc:
        read_tiers(path)
    _one_line(exc, f"{path} row 3:", "'Tier Four' is not a tier placement", "ambiguous country 'Korea'")


# --- through the CLI: exit code, one stderr line, previous artifacts untouched ------------------

def _nexus(*args, cwd):
    return subprocess.run([sys.executable, "-c", "from nexus.cli import cli; cli()", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_cli_text_file_named_xlsx_is_one_line_and_keeps_previous_artifacts(tmp_path, world_dir):
    raw = tmp_path / "raw"
    shutil.copytree(world_dir, raw)
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    sets = ["--set", f"paths.raw={raw}", "--set", f"paths.artifacts={tmp_path / 'artifacts'}"]
    good = _nexus(*sets, "features", cwd=tmp_path)
    assert good.returncode == 0, good.stderr
    before = {p: p.read_bytes() for p in sorted((tmp_path / "artifacts").rglob("*")) if p.is_file()}
    assert before

    workbook = raw / "wjp_roli" / "wjp_rule_of_law_index_HISTORICAL_DATA_FILE.xlsx"
    workbook.write_text("Country,Year,Country Code\nNorway,2020,NOR\n", encoding="utf-8")
    result = _nexus(*sets, "features", cwd=tmp_path)
    assert result.returncode == 1
    # stderr carries the progress lines ("· building …") and then exactly one error line
    lines = [ln for ln in result.stderr.strip().splitlines() if not ln.strip().startswith("·")]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert result.stderr.strip().splitlines()[-1] == lines[0]
    assert "Traceback" not in result.stderr and "Calamine" not in result.stderr
    assert re.search(r"wjp_rule_of_law_index_HISTORICAL_DATA_FILE\.xlsx: not an Excel workbook: "
                     r"the file starts like CSV text; expected \.xlsx", lines[0]), lines[0]
    after = {p: p.read_bytes() for p in sorted((tmp_path / "artifacts").rglob("*")) if p.is_file()}
    assert after == before
