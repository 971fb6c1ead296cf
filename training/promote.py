"""Champion/challenger: the `champion` alias moves only when the challenger earns it on development origins.

Earned means both: (1) the challenger beats persistence (its model card's development-origin
paired difference on `promotion.metric` is at least `promotion.margin` better, interval
excluding zero), and (2) where a champion exists, on identical development folds and rows its
paired difference from the champion passes the same test. The holdout origins are never read:
the forecasts compared are filtered to development origins first. A first registration no
longer takes the alias by default. `--force` moves it anyway and records who did it and why.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
from dataclasses import dataclass

import pandas as pd

from nexus.config import Params, PathsParams
from nexus.errors import ModelNotFoundError, NexusError
from training import registry
from training.metrics import HIGHER_IS_BETTER, paired_bootstrap
from training.runs import comparability_problem, load_run

CHAMPION = registry.CHAMPION


@dataclass(frozen=True)
class Decision:
    promoted: bool
    forced: bool
    challenger: str                 # model version
    champion: str | None            # model version that held the alias before
    reason: str
    comparison: pd.DataFrame | None  # every metric: value [low, high] and paired difference


def resolve_version(paths: PathsParams, model_name: str, ref: str) -> tuple[str, str]:
    """(version, run id) for a version number, or a run id (or its first 8+ characters)."""
    if ref.isdigit() and len(ref) < 8:
        mv = registry.resolve(paths, model_name, version=ref)
        return mv.version, mv.run_id
    if len(ref) < 8:
        raise NexusError(f"{ref!r} is neither a version number nor a run id (8 or more characters)")
    matches = [mv for mv in registry.versions(paths, model_name) if mv.run_id.startswith(ref)]
    if not matches and ref.isdigit():   # all digits and 8+ long: a run id prefix first, else a version
        mv = registry.resolve(paths, model_name, version=ref)
        return mv.version, mv.run_id
    if len(matches) != 1:
        found = "no" if not matches else f"{len(matches)}"
        raise ModelNotFoundError(f"{found} version of {model_name!r} was registered by run {ref!r}")
    return matches[0].version, matches[0].run_id


def _champion(paths: PathsParams, model_name: str) -> tuple[str, str] | None:
    mv = registry.holder(paths, model_name, CHAMPION)
    return (mv.version, mv.run_id) if mv else None


def beats_persistence(paths: PathsParams, model_name: str, version: str) -> tuple[bool, str]:
    """From the version's card: does it beat persistence on development origins by the margin?"""
    card = registry.resolve(paths, model_name, version=version).card
    entry = card.beats.get("persistence")
    if entry is None:
        return False, "its backtest has no persistence baseline to beat"
    dev = card.folds.get("origins", [])
    span = f"{dev[0]}–{dev[-1]}" if dev else "?"
    parts = [f"{m} {v['diff']:+.4f} [{v['low']:+.4f}, {v['high']:+.4f}]" for m, v in entry.items()
             if isinstance(v, dict)]
    verdict = "beats" if entry["beats"] else "does not beat"
    return bool(entry["beats"]), (f"{verdict} persistence on development origins {span} (differences "
                                  "challenger − persistence, 90% block bootstrap): " + "; ".join(parts))


def judge(params: Params, paths: PathsParams, challenger_run: str, champion_run: str,
          labels: tuple[str, str] = ("challenger", "champion")) -> tuple[bool, str, pd.DataFrame | None]:
    """(earned, why, comparison table) for a challenger run against a champion run."""
    a = load_run(paths, challenger_run, label=labels[0], development_only=True)
    b = load_run(paths, champion_run, label=labels[1], development_only=True)
    if problem := comparability_problem(a, b):
        return False, problem, None
    tp, pp = params.training, params.promotion
    table = paired_bootstrap({labels[1]: b.xgb, labels[0]: a.xgb}, labels[1], tp.top_k,
                             tp.bootstrap.n_resamples, tp.bootstrap.level, params.seed)
    row = table[(table["entry"] == labels[0]) & (table["metric"] == pp.metric)].iloc[0]
    sign = 1 if HIGHER_IS_BETTER[pp.metric] else -1
    gain = sign * row["diff"]
    gain_low = min(sign * row["diff_low"], sign * row["diff_high"])
    gain_high = max(sign * row["diff_low"], sign * row["diff_high"])
    direction = "higher" if sign > 0 else "lower"
    detail = (f"{pp.metric} ({direction} is better): challenger {row['value']:.4f}, champion "
              f"{row['value'] - row['diff']:.4f}; improvement {gain:+.4f} [{gain_low:+.4f}, "
              f"{gain_high:+.4f}] ({tp.bootstrap.level:.0%} paired bootstrap, development origins), required "
              f"≥ {pp.margin} with the interval above 0")
    earned = gain >= pp.margin and gain_low > 0
    return earned, ("earned: " if earned else "not earned: ") + detail, table


def promote(params: Params, paths: PathsParams, ref: str, *, force: bool = False, reason: str | None = None,
            user: str | None = None) -> Decision:
    """Move `champion` to the challenger if it beats persistence and the champion; with force, record why."""
    if force and not (reason or "").strip():
        raise NexusError("--force needs --reason: the model version records who forced it and why")
    name = params.scoring.model_name
    version, run_id = resolve_version(paths, name, ref)
    current = _champion(paths, name)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    who = user or getpass.getuser()
    if current is not None and current[0] == version:
        return Decision(False, False, version, version, f"version {version} already holds '{CHAMPION}'", None)
    try:
        earned, why = beats_persistence(paths, name, version)
    except NexusError as exc:  # a version registered before model cards
        earned, why = False, f"no model card to judge: {exc}"
    table = None
    if earned and current is not None:
        try:
            earned, why_champion, table = judge(params, paths, run_id, current[1],
                                                labels=(f"challenger v{version}", f"champion v{current[0]}"))
        except NexusError as exc:  # e.g. the champion's run predates logged backtests
            earned, why_champion = False, f"no comparison with the champion possible: {exc}"
        why = f"{why}; {why_champion}"
    elif current is None:
        why = f"{why}; there is no champion yet"
    if not earned and not force:
        return Decision(False, False, version, current[0] if current else None, why, table)
    record = {"from_version": current[0] if current else None, "at": now, "by": who,
              "metric": params.promotion.metric, "margin": params.promotion.margin, "verdict": why}
    tags = {"promotion": json.dumps(record)}
    if not earned:
        tags |= {"forced_by": who, "forced_reason": reason.strip()}
    registry.record(paths, name, version, tags)
    registry.set_alias(paths, name, CHAMPION, version)
    return Decision(True, not earned, version, current[0] if current else None, why, table)


def consider(params: Params, paths: PathsParams, version: str) -> Decision:
    """After training: the new version takes `champion` only if it earns it (never forced)."""
    return promote(params, paths, version)
