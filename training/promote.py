"""Champion/challenger: the `champion` alias moves only when the challenger earns it on the same backtest.

Earned means: on identical folds and rows, the challenger's paired difference from the
champion on `promotion.metric` is at least `promotion.margin` in the better direction, and
its country-bootstrap interval excludes zero. Otherwise the alias stays and the comparison
is shown. `--force` moves it anyway and records who did it and why on the model version.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
from dataclasses import dataclass

import pandas as pd

from nexus.config import Params, PathsParams
from nexus.errors import ModelNotFoundError, NexusError
from training.metrics import HIGHER_IS_BETTER, paired_bootstrap
from training.runs import client, comparability_problem, load_run

CHAMPION = "champion"


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
    c = client(paths)
    if ref.isdigit():
        try:
            mv = c.get_model_version(model_name, ref)
        except Exception:  # noqa: BLE001 - no such version
            raise ModelNotFoundError(f"model {model_name!r} has no version {ref}") from None
        return str(mv.version), mv.tags.get("nexus.run_id") or mv.run_id
    if len(ref) < 8:
        raise NexusError(f"{ref!r} is neither a version number nor a run id (8 or more characters)")
    matches = [mv for mv in c.search_model_versions(f"name='{model_name}'")
               if (mv.tags.get("nexus.run_id") or mv.run_id or "").startswith(ref)]
    if len(matches) != 1:
        found = "no" if not matches else f"{len(matches)}"
        raise ModelNotFoundError(f"{found} version of {model_name!r} was registered by run {ref!r}")
    return str(matches[0].version), matches[0].tags.get("nexus.run_id") or matches[0].run_id


def _champion(paths: PathsParams, model_name: str) -> tuple[str, str] | None:
    try:
        mv = client(paths).get_model_version_by_alias(model_name, CHAMPION)
    except Exception:  # noqa: BLE001 - no champion yet
        return None
    return str(mv.version), mv.tags.get("nexus.run_id") or mv.run_id


def judge(params: Params, paths: PathsParams, challenger_run: str, champion_run: str,
          labels: tuple[str, str] = ("challenger", "champion")) -> tuple[bool, str, pd.DataFrame | None]:
    """(earned, why, comparison table) for a challenger run against a champion run."""
    a = load_run(paths, challenger_run, label=labels[0])
    b = load_run(paths, champion_run, label=labels[1])
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
              f"{gain_high:+.4f}] ({tp.bootstrap.level:.0%} paired country bootstrap), required "
              f"≥ {pp.margin} with the interval above 0")
    earned = gain >= pp.margin and gain_low > 0
    return earned, ("earned: " if earned else "not earned: ") + detail, table


def promote(params: Params, paths: PathsParams, ref: str, *, force: bool = False, reason: str | None = None,
            user: str | None = None) -> Decision:
    """Move `champion` to the challenger if it beats the champion; with force, record who and why."""
    if force and not (reason or "").strip():
        raise NexusError("--force needs --reason: the model version records who forced it and why")
    name = params.scoring.model_name
    version, run_id = resolve_version(paths, name, ref)
    current = _champion(paths, name)
    c = client(paths)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    who = user or getpass.getuser()
    if current is None:
        c.set_registered_model_alias(name, CHAMPION, version)
        record = {"from_version": None, "at": now, "by": who, "why": "no champion yet"}
        c.set_model_version_tag(name, version, "nexus.promotion", json.dumps(record))
        return Decision(True, False, version, None, "there was no champion: the challenger takes the alias",
                        None)
    if current[0] == version:
        return Decision(False, False, version, version, f"version {version} already holds '{CHAMPION}'", None)
    try:
        earned, why, table = judge(params, paths, run_id, current[1],
                                   labels=(f"challenger v{version}", f"champion v{current[0]}"))
    except NexusError as exc:  # e.g. the champion's run predates logged backtests
        earned, why, table = False, f"no comparison possible: {exc}", None
    if not earned and not force:
        return Decision(False, False, version, current[0], why, table)
    record = {"from_version": current[0], "at": now, "by": who, "metric": params.promotion.metric,
              "margin": params.promotion.margin, "verdict": why}
    c.set_model_version_tag(name, version, "nexus.promotion", json.dumps(record))
    if not earned:
        c.set_model_version_tag(name, version, "nexus.forced_by", who)
        c.set_model_version_tag(name, version, "nexus.forced_reason", reason.strip())
    c.set_registered_model_alias(name, CHAMPION, version)
    return Decision(True, not earned, version, current[0], why, table)
