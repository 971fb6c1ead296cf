"""Screenshots of the reviewer's country page at 390 px (a phone) and 1280 px (a laptop), for the README.

Serves the champion under uvicorn on a free loopback port with a throw-away review database and
reviewer token, signs in with Debian's chromium (Playwright, no browser download), and writes
`country-390.png` and `country-1280.png` beside this file (the top of the page). Prints each
page's width against the window's, so an overflow shows in the output too.

    python docs/screenshots/shoot.py [--params params.yaml] [--set key=value ...] [--iso3 XAB] [--year 2024]

Needs a champion (`nexus run` first).
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CHROMIUM = "/usr/bin/chromium"
MAX_HEIGHT = 5200  # px: down to the charts; the value-by-value sources table below is left out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=str(REPO / "params.yaml"))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--iso3", default="XAB")
    parser.add_argument("--year", type=int, default=None, help="default: the newest scored year")
    args = parser.parse_args()

    import uvicorn
    from playwright.sync_api import sync_playwright

    from nexus.config import load_params
    from service.app import create_app

    params_file = Path(args.params).resolve()
    params = load_params(params_file, dict(kv.split("=", 1) for kv in args.set))
    paths = params.resolved_paths(params_file.parent)
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(params, paths, database_url=f"sqlite:///{Path(tmp) / 'reviews.db'}")
        token = app.state.tokens.create("Screenshot Reviewer", "reviewer").secret
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 300
            while True:
                try:
                    if httpx.get(f"{base}/v1/ready", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the service did not become ready in 300 s")
                time.sleep(0.3)
            year = args.year or app.state.catalog.get()[0].years[-1]
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                            args=["--no-sandbox", "--disable-gpu"])
                for width in (390, 1280):
                    context = browser.new_context(viewport={"width": width, "height": 900})
                    page = context.new_page()
                    page.request.post(f"{base}/review/login", form={"token": token})
                    page.goto(f"{base}/review/{args.iso3}/{year}")
                    out = HERE / f"country-{width}.png"
                    height = page.evaluate("document.documentElement.scrollHeight")
                    page.screenshot(path=str(out), full_page=True,  # the score, trend, drivers and charts
                                    clip={"x": 0, "y": 0, "width": width, "height": min(height, MAX_HEIGHT)})
                    scroll = page.evaluate("document.documentElement.scrollWidth")
                    print(f"{out.relative_to(REPO)}: page {scroll} px wide in a {width} px window")
                    context.close()
                browser.close()
        finally:
            server.should_exit = True
            thread.join(timeout=15)


if __name__ == "__main__":
    main()
