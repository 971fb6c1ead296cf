"""The tuning search space, read from `tuning.search`: checked before a trial runs, then sampled."""

from __future__ import annotations

from nexus.config import Params, XGBParams
from nexus.errors import ConfigError


def suggest(trial, search: dict) -> dict:
    """One point of the space: {xgb setting: value}, int or float (log-scaled where declared)."""
    return {name: trial.suggest_int(name, int(d.low), int(d.high), log=d.log) if d.type == "int"
            else trial.suggest_float(name, d.low, d.high, log=d.log) for name, d in search.items()}


def check_search_space(params: Params) -> None:
    """Both ends of every dimension must be valid xgb settings, before a single trial runs."""
    from pydantic import ValidationError

    for end in ("low", "high"):
        values = {k: (int(getattr(d, end)) if d.type == "int" else getattr(d, end))
                  for k, d in params.tuning.search.items()}
        try:
            XGBParams.model_validate(params.training.xgb.model_dump() | values)
        except ValidationError as exc:
            err = exc.errors()[0]
            raise ConfigError("params", f"tuning.search.{err['loc'][0]}.{end}", err["msg"]) from None
