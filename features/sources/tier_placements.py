"""Tier placements (US State Department TIP Report): the label nexus learns to anticipate.

The tier measures a government's *effort* against trafficking as the US government judges it,
so it is politically influenced; nexus treats it as the available label, not as ground truth of
prevalence. A report appears in June or July of its report year (2025: late September), so its
tiers are known from that year on (lag 0; per-report dates in CALENDAR).

Three layouts are read (SOURCES.md sections 1, 10 and 13.1):
1. the Kelley/Heiss research extract `tip_tiers_orig.csv` (countryname, iso, year, ccode, tier;
   'Watchlist' with trailing spaces; NA = unranked or special case, which it cannot tell apart;
   Kosovo's code KOS), report years 2001–2015;
2. the transcribed table `tip_tiers_2016_2025_transcribed.csv` (country, report_year, tier,
   source_url), 2020–2025, which the synthetic world also writes;
3. the evidence tables in `transcribed-2016-2025/` (country, iso3, report_year, tier,
   evidence_level, …): `tip_tiers_2016_2019_transcribed.csv` and
   `tip_tiers_2020_2025_from_narratives.csv`, read deliberately by their own glob (the
   `evidence/` folder beside them is never read).

Columns (all float): `label_tier` 0–3 (Tier 1, Tier 2, Watch List, Tier 3; NaN when unranked,
a special case, or an inferred negative whose tier is unknown); `label_listed` 1 for Watch List
or Tier 3, 0 for Tier 1/2 stated or inferred, NaN for special cases; `label_special_case`;
`label_inferred` 1 where `label_listed` comes from `infer_unlisted`; `label_evidence`, the
evidence rank of the row:

    4  an official table or research extract (the Kelley/Heiss extract, the section-10 table),
       or evidence level A (that year's narrative states the tier)
    3  evidence level B (inferred from a later narrative's wording), and negatives inferred by
       `infer_unlisted` (an inference, like B)
    2  evidence level C (a news or secondary page states it)
    1  evidence level E (the Wikipedia table only)

A country-year absent from every file has no row (NaN everywhere in the panel). Each row keeps
its file and row, its evidence code, the other files that state the same placement (`also_in`),
a conflict the declared PRECEDENCE settled, and the rule that made it; the panel writes them to
`label_provenance.parquet`.

Two files giving one country-year different placements are refused naming both files and rows,
unless PRECEDENCE declares which file wins (SOURCES.md 13.1: the section-10 table over the
narratives file, e.g. Algeria 2024). Two rows for one country-year in one file are refused.

Partial report years. For 2022, 2024 and 2025 the section-10 table holds complete Watch List
and Tier 3 lists but only some Tier 1/2 governments (PARTIAL_LISTS; a file not declared there
makes a year partial when it places nobody on Tier 1 or 2). There the binary label is completed
by `infer_unlisted` and the ordinal tier of the inferred negatives stays missing. Report years
2001–2003 predate the Watch List and are kept as the data give them; training decides whether
they enter the binary target.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from features.build_context import BuildContext
from features.calendar import Calendar
from features.readers import FILE, ROW, iso3_from_codes, iso3_from_names, read_table, to_year
from features.registry import RESOLVED, Column, Download, register_source
from nexus.countries import code_to_iso3, country_name_problem, is_non_country_name, name_to_iso3
from nexus.errors import SourceDataError

TIERS = {"tier 1": 0, "tier 2": 1, "tier 2 watch list": 2, "watchlist": 2, "tier 2 watchlist": 2, "tier 3": 3}
SPECIAL = {"special case", "special category"}
TIER_NAMES = {0: "Tier 1", 1: "Tier 2", 2: "Tier 2 Watch List", 3: "Tier 3"}

OFFICIAL = "official_table"  # the evidence code of rows from a file without an evidence column
EVIDENCE_RANK = {OFFICIAL: 4.0, "A": 4.0, "B": 3.0, "C": 2.0, "E": 1.0}
INFERRED = "inferred"
EVIDENCE_RANK[INFERRED] = 3.0

# Files whose Watch List and Tier 3 lists are complete for these report years while their Tier 1
# and Tier 2 lists are not (SOURCES.md section 10, coverage table: "–" = not transcribed).
PARTIAL_LISTS: dict[str, tuple[int, ...]] = {"tip_tiers_2016_2025_transcribed.csv": (2022, 2024, 2025)}

# (winning file, losing file) → why. Only these pairs settle a conflicting placement.
PRECEDENCE: dict[tuple[str, str], str] = {
    ("tip_tiers_2016_2025_transcribed.csv", "tip_tiers_2020_2025_from_narratives.csv"):
        "SOURCES.md 13.1: prefer the section-10 table (its Watch List / Tier 3 lists are the Factbook's "
        "count-checked lists; the narratives file's one disagreement, Algeria 2024, rests on a partisan news page)",
}

# Report year → the day the State Department released it (all within the report year, so lag 0).
CALENDAR = Calendar(lag_years=0, max_age_years=0, editions={
    2001: "2001-07-12",  # first TIP report, July 2001
    2002: "2002-06-05",  # June 2002
    2003: "2003-06-11",  # June 2003
    2004: "2004-06-14",  # June 2004 (first report with the Tier 2 Watch List)
    2005: "2005-06-03",  # June 2005
    2006: "2006-06-05",  # June 2006
    2007: "2007-06-12",  # June 2007
    2008: "2008-06-04",  # June 2008
    2009: "2009-06-16",  # June 2009
    2010: "2010-06-14",  # June 2010
    2011: "2011-06-27",  # June 2011
    2012: "2012-06-19",  # June 2012 (UN.GIFT news item of the day after)
    2013: "2013-06-19",  # June 2013
    2014: "2014-06-20",  # June 2014
    2015: "2015-07-27",  # late July 2015
    2016: "2016-06-30",  # June 2016
    2017: "2017-06-27",  # June 2017
    2018: "2018-06-28",  # June 2018
    2019: "2019-06-20",  # June 2019
    2020: "2020-06-25",  # 25 June 2020 (the gvnet page's heading, SOURCES.md section 10)
    2021: "2021-07-01",  # July 2021
    2022: "2022-07-19",  # July 2022
    2023: "2023-06-15",  # June 2023 (gvnet heading "June 2023")
    2024: "2024-06-24",  # June 2024
    2025: "2025-09-29",  # 29 September 2025: three months late (State Department press statement)
})


@register_source(
    name="tier_placements",
    family="label",
    publisher="U.S. Department of State, Trafficking in Persons Report",
    raw_globs={"tables": "us_state_tip/*.csv",
               "transcribed": "us_state_tip/transcribed-2016-2025/tip_tiers_*.csv"},
    downloads=(
        Download(
            "us_state_tip/tip_tiers_orig.csv",
            "Kelley & Heiss (from the TIP Reports)",
            "https://raw.githubusercontent.com/andrewheiss/From-the-Trenches-Anti-TIP-NGOs-and-US/"
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
    ),
    optional_roles=("transcribed",),
    columns={
        "label_tier": Column(0, 3, "ordinal 0–3", "Tier 1 = 0, Tier 2 = 1, Tier 2 Watch List = 2, Tier 3 = 3"),
        "label_listed": Column(0, 1, "flag", "1 = Watch List or Tier 3, 0 = Tier 1 or 2 (stated or inferred)"),
        "label_special_case": Column(0, 1, "flag", "placed as a Special Case (no tier)"),
        "label_inferred": Column(0, 1, "flag", "1 = label_listed inferred by infer_unlisted (partial report year)"),
        "label_evidence": Column(1, 4, "rank 1–4", "4 official table or stated in that year's narrative, "
                                 "3 inferred, 2 secondary page, 1 Wikipedia table only"),
    },
    calendar=CALENDAR,
)
def build(files: Mapping[str, list[Path]], context: BuildContext) -> pd.DataFrame:
    paths = [*files["tables"], *files.get("transcribed", [])]
    rows = pd.concat([read_tiers(p) for p in paths], ignore_index=True)
    placed = resolve_conflicts(rows)
    partial = partial_years(placed, [Path(p).name for p in paths])
    inferred = infer_unlisted(placed, partial)
    out = pd.concat([placed, inferred], ignore_index=True) if len(inferred) else placed
    return out.sort_values(["year", "iso3"], kind="stable").reset_index(drop=True)


def read_tiers(path: Path) -> pd.DataFrame:
    """One file → iso3, year, label columns, evidence code, _row, _file (unranked rows dropped)."""
    head = read_table(path, required=[])
    if "iso" in head.columns:
        raw = read_table(path, required=["countryname", "iso", "year", "tier"])
        country, year_col, code_col = "countryname", "year", "iso"
    elif "evidence_level" in head.columns:
        raw = read_table(path, required=["country", "iso3", "report_year", "tier", "evidence_level"])
        country, year_col, code_col = "country", "report_year", "iso3"
    else:
        raw = read_table(path, required=["country", "report_year", "tier"])
        country, year_col, code_col = "country", "report_year", None
    text = raw["tier"].astype("string").str.strip().str.casefold()
    unranked = text.isna() | text.isin(["", "na"])
    known = text.isin(list(TIERS)) | text.isin(list(SPECIAL)) | unranked
    if not known.all():
        i = int(np.flatnonzero(~known.to_numpy())[0])
        name = str(raw[country].iat[i]).strip()
        code = str(raw[code_col].iat[i]).strip() if code_col else ""
        unknown_country = not is_non_country_name(name) and name_to_iso3(name, path) is None and \
            (not code or code_to_iso3(code) is None)
        problem = country_name_problem(name, path)
        known = problem.startswith("unknown")
        also = "" if not unknown_country else \
            f" (and country {name!r} is unknown)" if known else f" (and {problem})"
        raise SourceDataError(path, int(raw[ROW].iat[i]),
                              f"tier: {raw['tier'].iat[i]!r} is not a tier placement{also}")
    iso3 = iso3_from_codes(raw, code_col, name_column=country) if code_col else iso3_from_names(raw, country)
    evidence = evidence_codes(raw, path) if "evidence_level" in raw.columns else pd.Series(OFFICIAL, index=raw.index)
    tier = text.map(TIERS).astype("Float64").astype("float64")
    special = text.isin(list(SPECIAL)).astype("float64")
    frame = pd.DataFrame({
        "iso3": iso3,
        "year": to_year(raw, year_col),
        "label_tier": tier,
        "label_listed": np.where(tier.isna(), np.nan, (tier >= 2).astype("float64")),
        "label_special_case": special,
        "label_inferred": 0.0,
        "label_evidence": evidence.map(EVIDENCE_RANK).astype("float64"),
        "evidence": evidence.astype(str),
        "rule": "stated",
        ROW: raw[ROW],
        FILE: raw[FILE],
    })
    frame = frame[frame["iso3"].notna() & ~unranked.to_numpy()].reset_index(drop=True)
    dup = frame.duplicated(["iso3", "year"], keep="first")
    if dup.any():
        r = frame[dup].iloc[0]
        raise SourceDataError(path, int(r[ROW]), f"duplicate country-year {r['iso3']} {r['year']}")
    return frame


def evidence_codes(raw: pd.DataFrame, path: Path) -> pd.Series:
    """'A_narrative_stated' → 'A'; a level without a known letter is refused with file and row."""
    codes = raw["evidence_level"].astype("string").str.strip().str.split("_").str[0].str.upper()
    bad = ~codes.isin([c for c in EVIDENCE_RANK if len(c) == 1]).fillna(False)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise SourceDataError(path, int(raw[ROW].iat[i]),
                              f"evidence_level: {raw['evidence_level'].iat[i]!r} is not one of A, B, C, E")
    return codes.astype(str)


def _placement(row) -> str:
    return "Special Case" if row["label_special_case"] == 1 else TIER_NAMES[int(row["label_tier"])]


def _where(row) -> str:
    return f"{Path(row[FILE]).name} row {int(row[ROW])}"


def resolve_conflicts(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per country-year. Agreeing files merge (best evidence kept, the others in `also_in`);
    disagreeing files are refused unless PRECEDENCE names the winner (kept, the loser in RESOLVED)."""
    rows = rows.assign(also_in="", **{RESOLVED: ""})
    multi = rows.duplicated(["iso3", "year"], keep=False)
    keep = [rows[~multi]]
    for (_, _), group in rows[multi].groupby(["iso3", "year"], sort=True):
        placements = group.apply(_placement, axis=1)
        files = group[FILE].map(lambda p: Path(p).name)
        if placements.nunique() == 1:
            order = group.assign(_rank=-group["label_evidence"]).sort_values(["_rank", FILE], kind="stable")
            best = order.iloc[[0]].drop(columns="_rank").copy()
            best["also_in"] = "; ".join(_where(r) for _, r in order.iloc[1:].iterrows())
            keep.append(best)
            continue
        winner = None
        for i in group.index:
            beaten = [j for j in group.index if placements[j] != placements[i]]
            if all((files[i], files[j]) in PRECEDENCE for j in beaten):
                winner = i
        if winner is None:
            a, b = (group.loc[i] for i in placements.drop_duplicates().index[:2])
            raise SourceDataError(a[FILE], int(a[ROW]),
                                  f"{a['iso3']} {a['year']} is {_placement(a)} here but {_placement(b)} in "
                                  f"{b[FILE]} row {int(b[ROW])}, and no declared precedence settles it")
        best = group.loc[[winner]].copy()
        w = group.loc[winner]
        losers = [group.loc[j] for j in group.index if placements[j] != placements[winner]]
        agree = [group.loc[j] for j in group.index if j != winner and placements[j] == placements[winner]]
        best["also_in"] = "; ".join(_where(r) for r in agree)
        best[RESOLVED] = "; ".join(
            f"{_where(r)} says {_placement(r)}; {_where(w)} ({_placement(w)}) wins: "
            f"{PRECEDENCE[(files[winner], Path(r[FILE]).name)]}" for r in losers)
        keep.append(best)
    return pd.concat(keep, ignore_index=True)


def partial_years(placed: pd.DataFrame, file_names: Iterable[str] = ()) -> set[int]:
    """Report years whose Tier 1/2 lists are incomplete: declared in PARTIAL_LISTS for a file that is
    read, or (any file) a year that places nobody on Tier 1 or Tier 2."""
    years = {int(y) for y in placed["year"].unique()}
    declared = {y for name in file_names for y in PARTIAL_LISTS.get(name, ())} & years
    upper = placed[placed["label_tier"] <= 1].groupby("year").size()
    empty = {y for y in years if upper.get(y, 0) == 0 and placed.loc[placed["year"] == y, "label_tier"].notna().any()}
    return declared | empty


def neighbour_years(years: Iterable[int], partial: Iterable[int], year: int) -> list[int]:
    """The latest complete report year before `year` and the earliest complete one after it, where they exist."""
    complete = sorted(set(years) - set(partial))
    before = [y for y in complete if y < year]
    after = [y for y in complete if y > year]
    return ([before[-1]] if before else []) + ([after[0]] if after else [])


def infer_unlisted(placed: pd.DataFrame, partial: Iterable[int]) -> pd.DataFrame:
    """Negatives of the binary label for partial report years, whose Watch List and Tier 3 lists are complete.

    For a partial year P, with neighbours N = `neighbour_years` (2022: 2021 and 2023; 2024 and
    2025: 2023 only, as no complete report follows them), a government is an inferred negative
    (label_listed 0, label_tier unknown) when it holds a tier (Tier 1 to Tier 3) in every year of
    N, has no row of its own in P, and is a special case neither in P nor in any year of N.
    """
    years = {int(y) for y in placed["year"].unique()}
    ranked = placed[placed["label_tier"].notna()]
    special = placed[placed["label_special_case"] == 1]
    out = []
    for year in sorted(set(partial)):
        neighbours = neighbour_years(years, partial, year)
        if not neighbours:
            continue
        candidates = set.intersection(*(set(ranked.loc[ranked["year"] == n, "iso3"]) for n in neighbours))
        excluded = set(placed.loc[placed["year"] == year, "iso3"]) | \
            set(special.loc[special["year"].isin([year, *neighbours]), "iso3"])
        chosen = sorted(candidates - excluded)
        if not chosen:
            continue
        evidence = ranked[(ranked["year"] == neighbours[0]) & ranked["iso3"].isin(chosen)].set_index("iso3")
        shown = " and ".join(str(n) for n in neighbours)
        out.append(pd.DataFrame({
            "iso3": chosen, "year": year, "label_tier": np.nan, "label_listed": 0.0, "label_special_case": 0.0,
            "label_inferred": 1.0, "label_evidence": EVIDENCE_RANK[INFERRED], "evidence": INFERRED,
            "rule": f"inferred: ranked in {shown}, not on {year}'s complete Watch List / Tier 3 lists",
            ROW: evidence.loc[chosen, ROW].to_numpy(), FILE: evidence.loc[chosen, FILE].to_numpy(),
            "also_in": "", RESOLVED: "",
        }))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=[*placed.columns])


def label_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Per report year: listed, unlisted (stated), inferred negatives and special cases (for tests and pages)."""
    flags = pd.DataFrame({
        "year": frame["year"],
        "listed": frame["label_listed"] == 1,
        "unlisted_stated": (frame["label_listed"] == 0) & (frame["label_inferred"] == 0),
        "inferred": frame["label_inferred"] == 1,
        "special": frame["label_special_case"] == 1,
    })
    return flags.groupby("year").sum().astype(int)
