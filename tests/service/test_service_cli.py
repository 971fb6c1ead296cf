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


@pytest.mark.slow
def test_token_serve_fetch_revoke(params_file, latest_year):
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
    server = subprocess.Popen([*NEXUS, "--params", str(params_file), "serve", "--port", str(port),
                               "--log-level", "warning"], cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.stderr.read().decode()
            try:
                if httpx.get(f"{base}/v1/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "nexus serve not ready in 120 s"
            time.sleep(0.3)
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
