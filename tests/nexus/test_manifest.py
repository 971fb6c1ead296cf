"""Manifests: unchanged inputs skip, a changed input rebuilds with new values, a damaged
artifact is detected, and an interrupted write leaves the previous file intact."""

import shutil

import pandas as pd
import pytest

from features.panel import build_features, load_panel
from nexus.errors import StaleArtifactError
from nexus.manifest import atomic_path


def test_rerun_skips_and_changed_input_rebuilds(tmp_path, world_dir, make_params):
    raw = tmp_path / "raw"
    shutil.copytree(world_dir, raw)
    params, paths = make_params(tmp_path, {"paths.raw": str(raw)})
    first = build_features(params.features, paths.raw, paths.artifacts)
    again = build_features(params.features, paths.raw, paths.artifacts)
    assert first.built and not again.built
    assert again.manifest.outputs == first.manifest.outputs

    edition = raw / "rsf_wpfi" / "rsf_2011.csv"
    lines = edition.read_text(encoding="utf-8").splitlines()
    cells = lines[1].split(";")
    iso3, cells[1] = cells[0], "11,11"
    lines[1] = ";".join(cells)
    edition.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rebuilt = build_features(params.features, paths.raw, paths.artifacts)
    assert rebuilt.built and rebuilt.directory != first.directory
    panel, _, _ = load_panel(rebuilt.directory)
    value = panel.loc[(panel.iso3 == iso3) & (panel.year == 2011), "press_freedom_score"].item()
    assert value == pytest.approx(11.11)
    assert first.panel_path.exists(), "the earlier artifact is kept, not overwritten"


def test_damaged_artifact_is_refused(tmp_path, world_dir, make_params):
    params, paths = make_params(tmp_path, {"paths.raw": str(world_dir)})
    build = build_features(params.features, paths.raw, paths.artifacts)
    with open(build.panel_path, "ab") as f:
        f.write(b"junk")
    with pytest.raises(StaleArtifactError, match=r"panel.parquet does not match its manifest; run 'nexus features --force'"):
        load_panel(build.directory)
    rebuilt = build_features(params.features, paths.raw, paths.artifacts)
    assert rebuilt.built, "a damaged artifact is rebuilt, not trusted"


def test_interrupted_write_keeps_previous_file(tmp_path):
    target = tmp_path / "scores.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(target)
    before = target.read_bytes()
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half a file")
            raise RuntimeError("killed mid-write")
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["scores.parquet"]
