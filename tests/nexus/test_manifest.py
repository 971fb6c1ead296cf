"""Manifests: unchanged inputs skip, a changed input rebuilds with new values, a damaged
artifact is detected, and an interrupted write leaves the previous file intact."""

from pathlib import Path

import pandas as pd
import pytest

from nexus.errors import StaleArtifactError
from nexus.manifest import Manifest, atomic_path, is_complete, sha256_file, short, source_code_hash


def fake_stage(raw: Path, artifacts: Path, factor: float, force: bool = False):
    """The spine as every stage uses it, in ten lines: key from inputs, params and code; manifest last."""
    inputs = {p.name: sha256_file(p) for p in sorted(raw.glob("*.csv"))}
    key = Manifest.compute_key("fake", inputs, {"factor": factor}, {}, source_code_hash([Path(__file__)]))
    directory = artifacts / "fake" / short(key)
    if not force and is_complete(directory):
        return directory, Manifest.read(directory), False
    directory.mkdir(parents=True, exist_ok=True)
    frame = pd.concat([pd.read_csv(p) for p in sorted(raw.glob("*.csv"))], ignore_index=True)
    with atomic_path(directory / "out.parquet") as tmp:
        frame.assign(value=frame["value"] * factor).to_parquet(tmp, index=False)
    manifest = Manifest("fake", key, inputs, {"factor": factor}, outputs={"out.parquet": ""})
    manifest.write(directory)
    return directory, manifest, True


def load_fake(directory: Path) -> pd.DataFrame:
    Manifest.read(directory).verify(directory, hint="run the stage with --force")
    return pd.read_parquet(directory / "out.parquet")


@pytest.fixture
def raw(tmp_path):
    folder = tmp_path / "raw"
    folder.mkdir()
    pd.DataFrame({"iso3": ["XAA", "XAB"], "value": [1.0, 2.0]}).to_csv(folder / "a_2011.csv", index=False)
    pd.DataFrame({"iso3": ["XAA", "XAB"], "value": [3.0, 4.0]}).to_csv(folder / "a_2012.csv", index=False)
    return folder


def test_rerun_skips_and_changed_input_rebuilds(tmp_path, raw):
    artifacts = tmp_path / "artifacts"
    first = fake_stage(raw, artifacts, 2.0)
    again = fake_stage(raw, artifacts, 2.0)
    assert first[2] and not again[2]
    assert again[1].outputs == first[1].outputs

    pd.DataFrame({"iso3": ["XAA", "XAB"], "value": [11.11, 2.0]}).to_csv(raw / "a_2011.csv", index=False)
    rebuilt = fake_stage(raw, artifacts, 2.0)
    assert rebuilt[2] and rebuilt[0] != first[0]
    out = load_fake(rebuilt[0])
    assert out.loc[out.iso3 == "XAA", "value"].iloc[0] == pytest.approx(22.22)
    assert (first[0] / "out.parquet").exists(), "the earlier artifact is kept, not overwritten"
    assert fake_stage(raw, artifacts, 3.0)[0] not in (first[0], rebuilt[0]), "a params change is a new key"


def test_damaged_artifact_is_refused(tmp_path, raw):
    artifacts = tmp_path / "artifacts"
    directory, _, _ = fake_stage(raw, artifacts, 2.0)
    with open(directory / "out.parquet", "ab") as f:
        f.write(b"junk")
    with pytest.raises(StaleArtifactError, match=r"out.parquet does not match its manifest; run the stage with --force"):
        load_fake(directory)
    assert fake_stage(raw, artifacts, 2.0)[2], "a damaged artifact is rebuilt, not trusted"


def test_a_directory_without_its_manifest_is_not_done(tmp_path, raw):
    artifacts = tmp_path / "artifacts"
    directory, _, _ = fake_stage(raw, artifacts, 2.0)
    (directory / "manifest.json").unlink()  # killed after the outputs, before the manifest
    assert not is_complete(directory)
    assert fake_stage(raw, artifacts, 2.0)[2]


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


def test_written_files_get_the_umask_mode_not_mkstemps_private_one(tmp_path):
    import os

    target = tmp_path / "page.md"
    with atomic_path(target) as tmp:
        tmp.write_text("a page others may read")
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
