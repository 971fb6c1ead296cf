"""`nexus data fetch` against a real HTTP server on loopback serving ../shared/data/raw.

No test reaches the internet: every address is replaced by the loopback server's.
"""

from __future__ import annotations

import functools
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from features.fetch import VerifyError, downloads, fetch, sniff
from nexus.manifest import sha256_file

DOWNLOADS = downloads()  # every file the sources declare


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture
def serve():
    """serve(folder) → base URL of a loopback server for that folder; stopped after the test."""
    servers = []

    def start(folder: Path) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_fetches_every_file_verifies_it_and_skips_it_the_second_time(tmp_path, serve, shared_data):
    raw = shared_data / "raw"
    base = serve(raw)
    results = fetch(tmp_path, base_url=base)
    assert [r.status for r in results] == ["fetched"] * len(DOWNLOADS)
    assert all(r.detail.endswith("documented vintage") for r in results)
    for entry in DOWNLOADS:
        assert sha256_file(tmp_path / entry.target) == sha256_file(raw / entry.target)
    again = fetch(tmp_path, base_url=base, only=["ti_cpi/"])
    assert [r.status for r in again] == ["present", "present"]


def test_a_pinned_file_with_other_bytes_is_refused_and_the_old_one_kept(tmp_path, serve, shared_data):
    mirror = tmp_path / "mirror"
    shutil.copytree(shared_data / "raw" / "ti_cpi", mirror / "ti_cpi")
    (mirror / "ti_cpi" / "cpi.csv").write_text(
        "country,year,cpi,cpi_se\nNamibia,2011,44,2\n", encoding="utf-8"
    )
    target = tmp_path / "raw" / "ti_cpi" / "cpi.csv"
    target.parent.mkdir(parents=True)
    target.write_text("previous copy\n", encoding="utf-8")
    [result] = fetch(tmp_path / "raw", base_url=serve(mirror), only=["cpi.csv"])
    assert result.status == "failed" and "is not the documented" in result.detail
    assert target.read_text(encoding="utf-8") == "previous copy\n"
    assert not list(target.parent.glob(".*.tmp"))


def test_an_error_page_or_a_missing_file_is_reported_not_saved(tmp_path, serve):
    mirror = tmp_path / "mirror"
    (mirror / "wb_wgi").mkdir(parents=True)
    (mirror / "wb_wgi" / "wgidataset.xlsx").write_text("<!DOCTYPE html><html>moved</html>", encoding="utf-8")
    results = {
        r.target: r for r in fetch(tmp_path / "raw", base_url=serve(mirror), only=["wgidataset", "CLASS"])
    }
    assert "HTML page" in results["wb_wgi/wgidataset.xlsx"].detail
    assert "HTTP 404" in results["reference/CLASS.xlsx"].detail
    assert not (tmp_path / "raw" / "wb_wgi" / "wgidataset.xlsx").exists()


def test_a_file_without_a_stable_address_says_where_to_get_it(tmp_path):
    [result] = fetch(tmp_path, only=["transcribed"])  # its url is None: nothing is requested
    assert result.status == "by hand" and "state.gov" in result.detail


def test_format_sniffing():
    with pytest.raises(VerifyError, match="not an xlsx"):
        sniff(b"PK\x03\x04 not really", "a.xlsx")
    with pytest.raises(VerifyError, match="no OLE2 signature"):
        sniff(b"hello", "a.xls")
    with pytest.raises(VerifyError, match="no header line naming ISO, Year"):
        sniff(b"a;b\n1;2\n", "a.csv", ("ISO", "Year (N)"))
    assert (
        sniff(b'"Data Source","WDI"\n\n"Country Name","Country Code"\n', "a.csv", ("Country Name",)) == "csv"
    )


def test_cli_reports_and_exits_nonzero_on_failure(tmp_path, serve, shared_data, monkeypatch):
    from typer.testing import CliRunner

    from nexus.cli import app

    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    base = serve(shared_data / "raw")
    ok = CliRunner().invoke(
        app, ["data", "fetch", "--raw", str(tmp_path), "--base-url", base, "--only", "vdem/dv_data"]
    )
    assert ok.exit_code == 0, ok.output
    assert "fetched" in ok.output and "1 of 1 files in place" in ok.output
    bad = CliRunner().invoke(
        app,
        [
            "data",
            "fetch",
            "--raw",
            str(tmp_path),
            "--base-url",
            base + "/nowhere",
            "--only",
            "population.csv",
            "--force",
        ],
    )
    assert bad.exit_code == 1 and "1 failed" in bad.output


def test_the_data_page_names_every_file_of_the_table():
    page = (Path(__file__).resolve().parents[2] / "docs" / "data.md").read_text(encoding="utf-8")
    for entry in DOWNLOADS:
        assert Path(entry.target).name in page, entry.target


def test_a_zipped_download_gives_the_file_inside(tmp_path, serve, shared_data):
    import zipfile

    target = "wb_wdi/API_ST.INT.ARVL_DS2_en_csv_v2_10139871.csv"
    mirror = tmp_path / "mirror" / target
    mirror.parent.mkdir(parents=True)
    with zipfile.ZipFile(mirror, "w") as archive:  # as the World Bank API serves it
        archive.write(shared_data / "raw" / target, "API_ST.INT.ARVL_DS2_en_csv_v2_10139871.csv")
        archive.writestr("Metadata_Country_API_ST.INT.ARVL_DS2_en_csv_v2_1.csv", "Country Code,Region\n")
    [result] = fetch(tmp_path / "raw", base_url=serve(tmp_path / "mirror"), only=["ST.INT.ARVL"])
    assert result.status == "fetched" and result.detail == "csv, documented vintage"
    assert sha256_file(tmp_path / "raw" / target) == sha256_file(shared_data / "raw" / target)
