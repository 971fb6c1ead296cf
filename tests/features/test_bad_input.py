"""Bad input gets one line naming file, row and problem; nothing already built is damaged."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from features.panel import build_features
from nexus.errors import SourceDataError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def raw(tmp_path, world_dir) -> Path:
    copy = tmp_path / "raw"
    shutil.copytree(world_dir, copy)
    return copy


def _edit_line(path: Path, line_no: int, edit) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[line_no - 1] = edit(lines[line_no - 1])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _build(tmp_path, raw, make_params):
    params, paths = make_params(tmp_path, {"paths.raw": str(raw)})
    return build_features(params.features, params.dask, paths.raw, paths.artifacts)


def test_missing_column(tmp_path, raw, make_params):
    _edit_line(raw / "rsf_wpfi" / "rsf_2012.csv", 1, lambda h: h.replace(";Score;", ";Scor;"))
    with pytest.raises(SourceDataError, match=r"rsf_2012.csv row 1: missing column 'Score'"):
        _build(tmp_path, raw, make_params)


def test_unparseable_number(tmp_path, raw, make_params):
    _edit_line(raw / "rsf_wpfi" / "rsf_2012.csv", 5, lambda r: ";".join([r.split(";")[0], "n.a.x", *r.split(";")[2:]]))
    with pytest.raises(SourceDataError, match=r"rsf_2012.csv row 5: Score: 'n.a.x' is not a number"):
        _build(tmp_path, raw, make_params)


def test_unknown_country_name(tmp_path, raw, make_params):
    _edit_line(raw / "us_state_tip" / "tier_placements.csv", 7, lambda r: "Freedonia," + r.split(",", 1)[1])
    with pytest.raises(SourceDataError, match=r"tier_placements.csv row 7: unknown country 'Freedonia'"):
        _build(tmp_path, raw, make_params)


def test_duplicate_country_year(tmp_path, raw, make_params):
    path = raw / "us_state_tip" / "tier_placements.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([*lines, lines[3]]) + "\n", encoding="utf-8")
    with pytest.raises(SourceDataError, match=rf"tier_placements.csv row {len(lines) + 1}: duplicate country-year X"):
        _build(tmp_path, raw, make_params)


def test_empty_file(tmp_path, raw, make_params):
    (raw / "border_crossings" / "crossings_2005.csv").write_text("")
    with pytest.raises(SourceDataError, match=r"crossings_2005.csv: file is empty"):
        _build(tmp_path, raw, make_params)


def _nexus(*args, cwd):
    return subprocess.run([sys.executable, "-c", "from nexus.cli import cli; cli()", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_cli_prints_one_line_exits_nonzero_and_keeps_previous_artifact(tmp_path, raw, make_params):
    good = _build(tmp_path, raw, make_params)
    before = good.panel_path.read_bytes()
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    _edit_line(raw / "rsf_wpfi" / "rsf_2012.csv", 5, lambda r: ";".join([r.split(";")[0], "abc", *r.split(";")[2:]]))
    sets = ["--set", f"paths.raw={raw}", "--set", f"paths.artifacts={tmp_path / 'artifacts'}"]
    result = _nexus(*sets, "features", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "rsf_2012.csv row 5: Score: 'abc' is not a number" in result.stderr
    assert "Traceback" not in result.stderr
    assert good.panel_path.read_bytes() == before

    typo = _nexus(*sets, "--set", "training.xgb.max_dept=3", "features", cwd=tmp_path)
    assert typo.returncode == 2
    assert "training.xgb.max_dept: unknown key" in typo.stderr and "Traceback" not in typo.stderr
