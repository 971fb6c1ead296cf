"""Sections 7–9 of the page: the labels (listed, inferred, excluded report years), the data-timing
caveats that remain (single vintage, publication calendars) and what the label measures."""

from __future__ import annotations

import pandas as pd

from experiments.results.inputs import ResultsInputs
from experiments.results.markdown import markdown_table, with_interval, year_span
from experiments.results.models import ERA, MODEL_LABEL, NO_SINGLE_VINTAGE, PAIRED, PRODUCT, SHOWN
from experiments.results.sentences import Sentence, sentences_versus
from experiments.results.tables import inferred_usage, label_table
from experiments.results.view import EvaluationView


def labels_section(inputs: ResultsInputs) -> list[str]:
    p = inputs.profile
    table = label_table(inputs.panel, p["first_report_year"])
    total = table.drop(columns=["report year", "binary target"]).sum()
    shown = pd.concat(
        [
            table.astype({"report year": str}),
            pd.DataFrame([{"report year": "all", "binary target": "", **total.to_dict()}]),
        ],
        ignore_index=True,
    )
    inferred_years = table.loc[table["unlisted (inferred)"] > 0, "report year"].tolist()
    early = table[table["report year"] < p["first_report_year"]]
    usage = inferred_usage(inputs.predictions, inputs.panel)
    usage_rows = pd.DataFrame(
        [
            {
                "horizon": int(r.horizon),
                "era": ERA[bool(r.holdout)],
                "backtest rows": int(r.rows),
                "target inferred": int(r.target_inferred),
                "current status inferred": int(r.current_inferred),
            }
            for r in usage.itertuples()
        ]
    )
    inferred_text = (
        "Inferred negatives (`features.sources.tier_placements.infer_unlisted`) complete the binary label "
        f"of report years {', '.join(map(str, inferred_years))} ({int(table['unlisted (inferred)'].sum())} "
        "rows), whose Watch List and Tier 3 lists are complete but whose Tier 1/2 lists are not: a "
        "government ranked in the neighbouring complete report years, not listed and not a special case "
        "counts as unlisted; its ordinal tier stays missing. They enter the binary target of the rows h "
        "years earlier and the current status (`current_listed`) of their own year, which persistence and "
        "the product model read; their `current_tier` is the declared value \"Tier 1 or 2, unknown which\" "
        "(`training.targets.UNLISTED_TIER_UNKNOWN`), a group of its own for persistence. Backtest rows of "
        "the product model that use them:"
        if inferred_years
        else "No report year needed inferred negatives."
    )
    return [
        "## 7. Labels",
        "",
        "Country-years with a tier placement per report year (listed = Tier 2 Watch List or Tier 3) and "
        "per evidence rank (4 official table or stated in that year's narrative, 3 inferred from a later "
        "narrative or by rule, 2 a secondary page, 1 the Wikipedia table only):",
        "",
        markdown_table(shown),
        "",
        inferred_text,
        "",
        *([markdown_table(usage_rows), ""] if inferred_years else []),
        f"Report years before {p['first_report_year']} "
        f"({year_span(early['report year']) if len(early) else 'none'}, "
        f"{int(early[['listed', 'unlisted (stated)', 'unlisted (inferred)']].sum().sum())} placements) are "
        "excluded from the binary target (`training.label.first_report_year`): the Tier 2 Watch List "
        'category did not exist before the 2004 report, so those years cannot say "Watch List or Tier 3" '
        "the way later years do. They still give the current placement of their own rows."
        + (
            f" Targets transcribed below evidence rank {p['min_evidence']:g} are dropped "
            "(`training.label.min_evidence`)."
            if p["min_evidence"]
            else ""
        ),
        "",
    ]


def timing_section(inputs: ResultsInputs, view: EvaluationView) -> tuple[list[str], list[Sentence]]:
    p = inputs.profile
    h = p["horizon"]
    sentences: list[Sentence] = []
    lines = ["## 8. Data-timing caveats that remain", ""]
    sources = p["single_vintage"]
    if NO_SINGLE_VINTAGE in view.models.get((h, True), []):
        rows = []
        for holdout in (True, False):
            for model in (PRODUCT, NO_SINGLE_VINTAGE):
                rows.append(
                    {
                        "era": ERA[holdout],
                        "model": MODEL_LABEL[model],
                        **{SHOWN[m]: with_interval(*view.get(h, holdout, model, "all", m)) for m in PAIRED},
                        "onset AUC": with_interval(*view.get(h, holdout, model, "onset", "auc")),
                    }
                )
        sentences = sentences_versus(
            view,
            "product",
            h,
            True,
            (NO_SINGLE_VINTAGE,),
            PRODUCT,
            [("all", m) for m in PAIRED] + [("onset", "auc")],
        )
        lines += [
            f"**Single vintage.** {', '.join(sources)} are stored as one vintage, coded retrospectively: a "
            "row of an early year reads today's estimate of that year, not what was published then. The "
            "ablation below drops them from the product model and reports the result on the holdout "
            "(reported, never chosen on); development origins are shown for reference.",
            "",
            markdown_table(pd.DataFrame(rows)),
            "",
            *[f"- holdout: {s.text}" for s in sentences],
            "",
        ]
    elif NO_SINGLE_VINTAGE in p["variants"]:
        lines += ["**Single vintage.** Neither V-Dem nor WGI is in this panel: no ablation to run.", ""]
    cal = {}
    for info in inputs.catalog.values():
        if info["source"] in cal:
            continue
        c = info.get("calendar", {})
        editions = c.get("editions", {}) if c.get("mode") == "editions" else {}
        first = min(editions, key=int) if editions else None
        last = max(editions, key=int) if editions else None
        cal[info["source"]] = {
            "source": info["source"],
            "calendar": c.get("mode", ""),
            "lag (years)": info["lag_years"],
            "editions": (
                f"{len(editions)}: {first} → {editions[first]}, …, {last} → {editions[last]}"
                if editions
                else "–"
            ),
            "stale after (years)": c.get("max_age_years", ""),
        }
    lines += [
        f"**Publication calendars** (`features.calendar: {p['calendar']}`): a value describing year y "
        "enters a row only from the year it was public (the constant lag, or the declared release date of "
        "the edition that first published it), and is missing once older than the staleness limit, never "
        "carried further.",
        "",
        markdown_table(pd.DataFrame(sorted(cal.values(), key=lambda r: r["source"]))),
        "",
        "Still not as it was known: WGI, WDI, UN DESA and V-Dem re-estimate past years in every release "
        "and one vintage of each is stored (the ablation above bounds what that is worth for V-Dem and "
        "WGI); migrant stock between the five-yearly estimates is not interpolated towards a later "
        "estimate, but the estimates themselves are today's.",
        "",
    ]
    return lines, sentences


LABEL_MEANING = """## 9. What the label measures, and what that means for the scores

The label is the US State Department's tier placement in its annual *Trafficking in Persons
Report*. A tier grades a **government's effort** against trafficking, judged by the US
government against US minimum standards (prosecution, protection, prevention); it is **not a
measure of how much trafficking or corruption there is**. Placements are also political:
research on the report (Kelley, *Scorecard Diplomacy*, 2017, whose data give the 2001–2015
tiers here) documents that relations with the United States and diplomatic pressure shape
them, and the Watch List has its own rules (time limits, automatic downgrades). Tiers change
slowly, which is why persistence is hard to beat.

So a score is the estimated probability that the report of year t + {horizon} places the country
on the **{target_label}** (`{target}`), given the public signals and the current placement known
by the end of year t. Read a high score as "countries with signals and placements like these
were often judged this way", a prompt for review, never as evidence of trafficking or of a
government's complicity. Countries the State Department does not rank, or ranks as special
cases, have no label; their scores are extrapolations.
"""
