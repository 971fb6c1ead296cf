"""`nexus data fetch`: each real source from its publisher's address into the raw folder, verified.

`DOWNLOADS` is the table: where each file of ../shared/data/SOURCES.md comes from, under the
name the builders expect. A download goes to a temp file beside its target and replaces it
only once verified, so an interrupted or refused download never damages what was there.
Verification: an address that names one fixed content (a repository at a commit) must give
the SHA-256 documented in SOURCES.md; a publisher address that serves the latest release
is checked by format (an xlsx is a zip with [Content_Types].xml, an xls an OLE2 file, a CSV
has the expected header, none is an HTML error page) and reported as the documented vintage
or a new one. Files with no stable address are listed with where to get them by hand.
`base_url` replaces every address with `<base_url>/<target>`, for a mirror of a raw folder.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from nexus.manifest import atomic_path, sha256_file

GITHUB = "https://raw.githubusercontent.com"
WDI = "https://api.worldbank.org/v2/en/indicator"
RSF = "https://rsf.org/sites/default/files/import_classement"


@dataclass(frozen=True)
class Download:
    """One raw file: where it comes from and how to tell it is the right file."""

    target: str  # path under the raw folder (the name the source's glob expects)
    publisher: str
    url: str | None  # official address; None: no stable address (see `by_hand`)
    sha256: str  # the vintage documented in SOURCES.md
    pinned: bool = False  # the address serves exactly that vintage: a mismatch is refused
    header: tuple[str, ...] = ()  # CSV: columns one of the first lines must name
    member: str | None = None  # the address returns a zip: the file inside it (glob)
    by_hand: str = ""


DOWNLOADS: tuple[Download, ...] = (
    Download(
        "us_state_tip/tip_tiers_orig.csv",
        "Kelley & Heiss (from the TIP Reports)",
        f"{GITHUB}/andrewheiss/From-the-Trenches-Anti-TIP-NGOs-and-US/"
        "475c15bab196e3584d3c089234efb53e5bf1c7b7/data/tip_tiers_orig.csv",
        "65909a7bd4053b8947a3b54c9c2d7619d0af708189e4fe5c1ac02ba770a8af75",
        pinned=True,
        header=("countryname", "iso", "year", "tier"),
    ),
    Download(
        "us_state_tip/tip_tiers_2016_2025_transcribed.csv",
        "transcribed from the TIP Reports",
        None,
        "d14928016494d6fb67d011aebe8dfc6a89527d65b751e5326197f611818ab13c",
        header=("country", "report_year", "tier"),
        by_hand="a transcription (SOURCES.md section 10), not a download: copy it from the shared data "
        "folder, or type the Tier Placements tables of state.gov/reports/<year>-trafficking-in-"
        "persons-report into the same columns",
    ),
    Download(
        "ti_cpi/CPI2023_Global_Results__Trends.xlsx",
        "Transparency International",
        "https://images.transparencycdn.org/images/CPI2023_Global_Results__Trends.xlsx",
        "11f61edd9186094a21820c25d5694c192a5af50c29b48d236a9da8411fbb6b81",
    ),
    Download(
        "ti_cpi/cpi.csv",
        "Frederick Solt (compiled from TI)",
        f"{GITHUB}/fsolt/transparency-international-cpi/675e1b588b869f25dbe1e02ae00925cf0f0b3e81/cpi.csv",
        "c55ae0015c6c1ba293e0e866f7b4baffcc29f55c043f6f43c8b7a529b3e7d2c8",
        pinned=True,
        header=("country", "year", "cpi"),
    ),
    Download(
        "rsf_wpfi/World Press Freedom Index - Reporters sans Frontieres (2022).csv",
        "RSF via Our World in Data",
        f"{GITHUB}/owid/owid-datasets/f13f07cc0d86c906868f607f03be8c3c894a2977/datasets/"
        + quote(
            "World Press Freedom Index - Reporters sans Frontieres (2022)/"
            "World Press Freedom Index - Reporters sans Frontieres (2022).csv"
        ),
        "568ab7371724a17c41a9a19ad8824a8f5c1b9c3577ecb91dd45056f13b58267f",
        pinned=True,
        header=("Entity", "Year", "Press Freedom Score"),
    ),
    Download(
        "rsf_wpfi/country_rsf_global_score_2023.csv",
        "Reporters sans frontières",
        f"{RSF}/2023.csv",
        "f1c31e5d8b539bb455ea5aad5e3210586219aeeb02d81cb43dbea70c3de896a6",
        header=("ISO", "Year (N)"),
    ),
    Download(
        "rsf_wpfi/rsf2024 2.csv",
        "Reporters sans frontières",
        f"{RSF}/2024.csv",
        "d81ee4fecaaf56f01fafeb0c55886c4302b7aad588f9fbcb1cd8418ea7ddd53f",
        header=("ISO", "Year (N)"),
    ),
    Download(
        "rsf_wpfi/rwb2025.csv",
        "Reporters sans frontières",
        f"{RSF}/2025.csv",
        "e82431d0cd4f1aa245ccb79d5f697f3e4c5ed174e0b8377da08eeea9a4f7c7f7",
        header=("ISO", "Year (N)"),
    ),
    Download(
        "rsf_wpfi/rwb2026.csv",
        "Reporters sans frontières",
        f"{RSF}/2026.csv",
        "3c6827070289e3409e98fb0f60ed40f79e8c29a6c8f00bd8984cdfdf7bd5cc24",
        header=("ISO", "Year (N)"),
    ),
    Download(
        "wb_wgi/wgidataset.xlsx",
        "World Bank (WGI)",
        "https://www.worldbank.org/content/dam/sites/govindicators/doc/wgidataset.xlsx",
        "df332a76c7da5e1c210950689acd23cc1d1ad07d4f53a7641fdc3c8d52abd922",
    ),
    Download(
        "wjp_roli/2025_wjp_rule_of_law_index_HISTORICAL_DATA_FILE.xlsx",
        "World Justice Project",
        "https://worldjusticeproject.org/rule-of-law-index/downloads/"
        "2025_wjp_rule_of_law_index_HISTORICAL_DATA_FILE.xlsx",
        "caad9192f24070e340b04b8e6820830665008e17f3d0eed3782bd3ad80b417d7",
    ),
    Download(
        "vdem/dv_data_1968_on.csv",
        "V-Dem Institute (demspaces)",
        f"{GITHUB}/vdeminstitute/demspaces/1012a66d590d2315c292f2ec745f168abbf84d05/"
        "create-data/output/dv_data_1968_on.csv",
        "d6c75baffce5486b5de414255bc56b1c97ab86d20175338dfad4b8fd28116374",
        pinned=True,
        header=("gwcode", "year", "country_text_id"),
    ),
    Download(
        "wb_wdi/API_ST.INT.ARVL_DS2_en_csv_v2_10139871.csv",
        "World Bank (WDI)",
        f"{WDI}/ST.INT.ARVL?downloadformat=csv",
        "8c37ff22dc9eff3cea2ce53ee2324ec959c5cc949d34cb536174688335225d6b",
        header=("Country Name", "Country Code"),
        member="API_ST.INT.ARVL_DS2_*.csv",
    ),
    Download(
        "wb_wdi/API_SM.POP.NETM_DS2_en_excel_v2_782.xls",
        "World Bank (WDI)",
        f"{WDI}/SM.POP.NETM?downloadformat=excel",
        "161836252ff130b5d12b2fb632a6e3e4e29cf72334d733fe5822730f1c45efcc",
    ),
    Download(
        "wb_wdi/API_NY.GDP.PCAP.CD_DS2_en_excel_v2_5871574.xls",
        "World Bank (WDI)",
        f"{WDI}/NY.GDP.PCAP.CD?downloadformat=excel",
        "9bcbd64c1d8b4b36ff8f4a45fe7dbc716830844eaa41138175390569c9dcd923",
    ),
    Download(
        "wb_wdi/population.csv",
        "World Bank WDI via datahub.io",
        f"{GITHUB}/datasets/population/425fc447a53a26c767a15a7de60c4cc2478a0595/data/population.csv",
        "7d2dd6a17f5ed7916de1f89a9c116791e64d207f2e2f6ce47c57e1ab46f0088a",
        pinned=True,
        header=("Country Name", "Country Code", "Year", "Value"),
    ),
    Download(
        "undesa_migrant_stock/undesa_pd_2020_ims_stock_by_sex_and_destination.xlsx",
        "UN DESA",
        "https://www.un.org/development/desa/pd/sites/www.un.org.development.desa.pd/files/"
        "undesa_pd_2020_ims_stock_by_sex_and_destination.xlsx",
        "2dff619eae05e6ae7e7178ea47cb07eb537959006f5c1e0ef9e2ace2d7a10903",
    ),
    Download(
        "unodc_glotip/data_glotip.xlsx",
        "UNODC",
        "https://dataunodc.un.org/sites/dataunodc.un.org/files/data_glotip.xlsx",
        "b0d5fcedaef86dcae33f74ef28f8e0cd25f49f12446d46642f05160159f15119",
    ),
    Download(
        "gitoc_ocindex/global_oc_index.xlsx",
        "GI-TOC",
        "https://ocindex.net/assets/downloads/global_oc_index.xlsx",
        "1edb12b3d7aefa2947c11b029264340a8b2cdc0450c17d551d6548cba83ea1fc",
    ),
    Download(
        "reference/country-codes.csv",
        "datahub.io (ISO 3166, UN M49)",
        f"{GITHUB}/datasets/country-codes/caa72d1e0e5af8876c170bb36a9e4d64a01bba88/data/country-codes.csv",
        "67b009b529330b0a6043551189f43faa785c9c3cc0011ad2bdb4eac876356c43",
        pinned=True,
        header=("ISO3166-1-Alpha-3", "ISO3166-1-Alpha-2"),
    ),
    Download(
        "reference/CLASS.xlsx",
        "World Bank",
        "https://datacatalogfiles.worldbank.org/ddh-published/0037712/DR0090755/CLASS.xlsx",
        "3090f483cad87e868fb2148b31f259dc4dff52e264066f634f3581365a98a134",
    ),
    Download(
        "reference/Historical_income_classification.xlsx",
        "World Bank (OGHIST)",
        "https://datacatalogfiles.worldbank.org/ddh-published/0037712/DR0090754/OGHIST.xlsx",
        "18c7f3904d9a0641e7017982c7a83e015f372ebea3fab8a9d10ba03557673273",
    ),
)


@dataclass(frozen=True)
class Fetched:
    """What happened to one file: fetched, present (already the documented vintage), by hand, failed."""

    target: str
    status: str
    detail: str = ""
    sha256: str = ""
    size: int = 0

    @property
    def ok(self) -> bool:
        return self.status in {"fetched", "present"}


class VerifyError(Exception):
    """The bytes are not the file the table promises."""


def sniff(content: bytes, target: str, header: Iterable[str] = ()) -> str:
    """The format check; returns a short description or raises VerifyError."""
    if content[:200].lstrip().lower().startswith((b"<!doctype html", b"<html")):
        raise VerifyError("got an HTML page, not the file (moved address or error page)")
    suffix = Path(target).suffix.lower()
    if suffix == ".xlsx":
        if (
            not zipfile.is_zipfile(io.BytesIO(content))
            or "[Content_Types].xml" not in zipfile.ZipFile(io.BytesIO(content)).namelist()
        ):
            raise VerifyError("not an xlsx workbook (no zip with [Content_Types].xml)")
        return "xlsx"
    if suffix == ".xls":
        if content[:8] != bytes.fromhex("d0cf11e0a1b11ae1"):
            raise VerifyError("not an xls workbook (no OLE2 signature)")
        return "xls"
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            lines = content[:20_000].decode(encoding).splitlines()[:10]
            break
        except UnicodeDecodeError:
            continue
    else:
        raise VerifyError("not text")
    wanted = list(header)
    if wanted and not any(all(w in line for w in wanted) for line in lines):
        raise VerifyError(f"no header line naming {', '.join(wanted)}")
    return "csv"


def _unzip(content: bytes, member: str) -> bytes:
    archive = zipfile.ZipFile(io.BytesIO(content))
    names = [n for n in archive.namelist() if fnmatch.fnmatch(Path(n).name, member)]
    if len(names) != 1:
        raise VerifyError(
            f"the zip holds {len(names)} files named {member} ({', '.join(archive.namelist()[:5])})"
        )
    return archive.read(names[0])


def fetch_one(
    entry: Download, raw: Path, client, *, base_url: str | None = None, force: bool = False
) -> Fetched:
    """Download, verify and put one file in place (or say why not)."""
    target = Path(raw) / entry.target
    if not force and target.exists() and sha256_file(target) == f"sha256:{entry.sha256}":
        return Fetched(entry.target, "present", "documented vintage", entry.sha256, target.stat().st_size)
    url = f"{base_url.rstrip('/')}/{quote(entry.target)}" if base_url else entry.url
    if url is None:
        return Fetched(entry.target, "by hand", entry.by_hand)
    try:
        with atomic_path(target) as tmp:
            with client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise VerifyError(f"HTTP {response.status_code} from {url}")
                with tmp.open("wb") as out:
                    for chunk in response.iter_bytes():
                        out.write(chunk)
            if entry.member and zipfile.is_zipfile(tmp):
                tmp.write_bytes(_unzip(tmp.read_bytes(), entry.member))
            content = tmp.read_bytes()
            kind = sniff(content, entry.target, entry.header)
            digest = hashlib.sha256(content).hexdigest()
            documented = digest == entry.sha256
            if entry.pinned and not documented:
                raise VerifyError(
                    f"sha256 {digest[:12]}… is not the documented {entry.sha256[:12]}… "
                    "(the address should serve one fixed file)"
                )
    except VerifyError as exc:
        return Fetched(entry.target, "failed", f"{exc}")
    except Exception as exc:  # noqa: BLE001 - network errors of any kind: report, try the next file
        return Fetched(
            entry.target, "failed", f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]} ({url})"
        )
    vintage = "documented vintage" if documented else "new vintage (sha256 differs from SOURCES.md)"
    return Fetched(entry.target, "fetched", f"{kind}, {vintage}", digest, len(content))


def fetch(
    raw: Path,
    *,
    base_url: str | None = None,
    only: Iterable[str] = (),
    force: bool = False,
    timeout: float = 120.0,
    progress: Callable[[str], None] | None = None,
) -> list[Fetched]:
    """Fetch every file of the table (or those whose target contains one of `only`)."""
    import httpx

    step = progress or (lambda msg: None)
    only = list(only)
    entries = [d for d in DOWNLOADS if not only or any(o in d.target for o in only)]
    results = []
    headers = {"User-Agent": "nexus-risk/0.1 (nexus data fetch; research use)"}
    with httpx.Client(timeout=timeout, follow_redirects=True, headers=headers) as client:
        for entry in entries:
            step(f"{entry.target}")
            results.append(fetch_one(entry, Path(raw), client, base_url=base_url, force=force))
    return results
