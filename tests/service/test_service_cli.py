"""The README's path, through the real CLI: create a token, `nexus serve` on a free loopback port,
fetch scores over HTTP like curl would, list and revoke the token."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
NEXUS = [sys.executable, "-c", "from nexus.cli import cli; cli()"]  # this interpreter's nexus, not PATH's


def _nexus(params_file: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*NEXUS, "--params", str(params_file), *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120, **kwargs)


@pytest.fixture(scope="module")
def params_file(pipeline, tmp_path_factory) -> Path:
    """The pipeline's params as a file, with the review database in a temp folder."""
    root = tmp_path_factory.mktemp("cli")
    tree = pipeline.params.model_dump(mode="json")
    tree["paths"] = {k: str(v) for k, v in pipeline.paths.model_dump(mode="json").items()}
    tree["scoring"]["service"]["database_url"] = f"sqlite:///{root / 'reviews.db'}"
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(tree), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def prepared(pipeline) -> Path:
    """The champion's serving artifact, as `nexus run` and `nexus score` leave it (scoring/cli.py)."""
    from scoring.prepared import ensure_prepared
    from training import registry

    name = pipeline.params.scoring.model_name
    version = registry.alias_version(pipeline.paths, name, pipeline.params.scoring.model_alias)
    return ensure_prepared(pipeline.params, pipeline.paths, name, version)


@pytest.mark.slow
def test_token_serve_fetch_revoke(params_file, latest_year, pipeline, prepared):
    created = _nexus(params_file, "token", "create", "--role", "program", "--name", "Program team")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("nxs_") and "shown only now" in created.stderr
    listed = _nexus(params_file, "token", "list")
    assert "Program team" in listed.stdout and secret not in listed.stdout
    token_id = listed.stdout.split()[0]

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = params_file.parent / "serve.log"
    with open(log, "wb") as out:
        server = subprocess.Popen([*NEXUS, "--params", str(params_file), "serve", "--port", str(port),
                                   "--log-level", "warning"], cwd=REPO,
                                  stdout=subprocess.DEVNULL, stderr=out, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, log.read_text()
            try:
                if httpx.get(f"{base}/v1/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "nexus serve not ready in 120 s"
            time.sleep(0.3)
        # started from the champion's serving artifact, not through MLflow and the registry
        assert f"loaded {pipeline.params.scoring.model_name} v" in log.read_text(), log.read_text()
        assert "from its serving artifact" in log.read_text()
        headers = {"Authorization": f"Bearer {secret}"}
        top = httpx.get(f"{base}/v1/scores/{latest_year}", headers=headers).json()["scores"][0]
        assert top["probability"] >= 0.5 and top["provenance"]["model_alias"] == "champion"
        assert httpx.get(f"{base}/v1/scores/{latest_year}").status_code == 401
        assert httpx.get(f"{base}/docs").status_code == 200

        revoked = _nexus(params_file, "token", "revoke", token_id)
        assert revoked.returncode == 0 and "revoked" in revoked.stdout
        deadline = time.monotonic() + 10  # another process revoked it: the service's token cache expires
        while httpx.get(f"{base}/v1/scores/{latest_year}/XAA", headers=headers).status_code != 401:
            assert time.monotonic() < deadline, "a revoked token still works after 10 s"
            time.sleep(0.5)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)


def test_unknown_role_and_unknown_id_are_one_line_errors(params_file):
    bad_role = _nexus(params_file, "token", "create", "--role", "root", "--name", "x")
    assert bad_role.returncode == 1
    assert "unknown role 'root'; roles: program, reviewer, admin" in bad_role.stderr
    bad_id = _nexus(params_file, "token", "revoke", "nope")
    assert bad_id.returncode == 1 and "no token with id 'nope'" in bad_id.stderr
    assert "Traceback" not in bad_role.stderr + bad_id.stderr


def test_token_list_shows_control_characters_in_names_escaped(params_file, pipeline):
    """A name holding terminal escapes reaches the admin's terminal as text; the store keeps it as given."""
    from service.db import make_engine
    from service.tokens import TokenStore

    url = yaml.safe_load(params_file.read_text())["scoring"]["service"]["database_url"]
    store = TokenStore(make_engine(url))
    sneaky = store.create("ops\x1b[2J\x1b]0;owned\x07 bot\u202e", "program")
    listed = _nexus(params_file, "token", "list")
    assert listed.returncode == 0, listed.stderr
    assert "\x1b" not in listed.stdout and "\x07" not in listed.stdout and "\u202e" not in listed.stdout
    assert f"{sneaky.info.id}  program   ops\\x1b[2J\\x1b]0;owned\\x07 bot\\u202e" in listed.stdout
    assert store.get(sneaky.info.id).name == "ops\x1b[2J\x1b]0;owned\x07 bot\u202e"


def test_the_serving_artifact_holds_what_the_long_way_loads(pipeline, prepared):
    """What `nexus serve` starts from equals what it would load through the registry, field by field."""
    import numpy as np

    from scoring.prepared import load, prepared_dir, run_backtest
    from scoring.served import load_version
    from training import registry

    name = pipeline.params.scoring.model_name
    ref = registry.resolve(pipeline.paths, name, alias=pipeline.params.scoring.model_alias)
    assert registry.alias_version(pipeline.paths, name, pipeline.params.scoring.model_alias) == ref.version
    assert registry.alias_version(pipeline.paths, name, "no-such-alias") is None
    assert prepared == prepared_dir(pipeline.params, pipeline.paths, name, ref.version)
    quick = load(pipeline.params, prepared)
    assert quick is not None
    slow = load_version(pipeline.params, pipeline.paths, ref, run_backtest(pipeline.paths, ref))
    for field in ("model_name", "version", "card", "summary", "directory", "features", "catalog", "provenance",
                  "items", "rows", "families", "countries", "regions", "years", "by_year", "by_country",
                  "data_years", "origins", "backtest"):
        assert getattr(quick, field) == getattr(slow, field), field
    for field in ("shap", "base", "values", "raw"):
        np.testing.assert_array_equal(getattr(quick, field), getattr(slow, field), err_msg=field)
    assert slow.backtest and quick.explanation_hash(0) == slow.explanation_hash(0)


def test_a_serving_artifact_of_scores_since_replaced_is_refused(pipeline, prepared, tmp_path):
    import json
    import shutil

    from scoring.prepared import load

    copy = tmp_path / "serving"
    shutil.copytree(prepared, copy)
    assert load(pipeline.params, copy) is not None
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["extra"]["score_outputs"]["scores.parquet"] = "sha256:0"  # as if re-scored since it was prepared
    (copy / "manifest.json").write_text(json.dumps(manifest))
    assert load(pipeline.params, copy) is None
    (copy / "served.json").write_text("{}")  # and a damaged one is refused by its manifest
    assert load(pipeline.params, copy) is None


def test_a_quick_start_still_follows_the_alias_without_a_restart(pipeline, prepared):
    """Started from the serving artifact, the catalog still re-resolves its alias in the registry."""
    from service.catalog import ModelCatalog
    from training import registry

    name, alias = pipeline.params.scoring.model_name, pipeline.params.scoring.model_alias
    version = registry.alias_version(pipeline.paths, name, alias)
    said = []
    catalog = ModelCatalog(pipeline.params, pipeline.paths, progress=said.append)
    catalog.start()
    assert catalog.ready and catalog.default_version() == version
    assert said == [f"loaded {name} v{version} from its serving artifact"]
    client = registry.tracking.client(pipeline.paths)
    try:
        client.delete_registered_model_alias(name, alias)
        catalog.refresh()  # the alias is gone: the running catalog says so
        assert not catalog.ready and "points nowhere" in catalog.reason
    finally:
        registry.set_alias(pipeline.paths, name, alias, version)
    catalog.refresh()  # and serves it again once it points somewhere, without a restart
    assert catalog.ready and catalog.default_version() == version
