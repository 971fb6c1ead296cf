"""Champion/challenger on the synthetic world, where the better model is known.

Known answers: five depth-1 trees cannot match the default model, and a model without the
procurement and border families (the two strongest planted drivers) cannot match one with them.
"""

import json

import pytest

from nexus.errors import NexusError
from training.promote import CHAMPION, promote
from training.runs import client
from training.train import train

CRIPPLED = {"training.xgb.max_depth": 1, "training.xgb.n_estimators": 5}
WITHOUT_STRONGEST = {"training.exclude_features": ["procurement", "border"]}


@pytest.fixture(scope="module")
def lab(small_params, small_features, tmp_path_factory):
    root = tmp_path_factory.mktemp("promote")
    versions = {}
    for name, overrides in [("crippled", CRIPPLED), ("default", {}), ("weak", WITHOUT_STRONGEST),
                            ("other_folds", {"training.backtest.first_origin": 2020})]:
        params, paths = small_params(root, overrides)
        versions[name] = train(params, paths, small_features).manifest.extra["model_version"]
    params, paths = small_params(root)
    return params, paths, versions


def _crown(lab, name):
    params, paths, versions = lab
    client(paths).set_registered_model_alias(params.scoring.model_name, CHAMPION, versions[name])


def _champion(lab):
    params, paths, _ = lab
    return client(paths).get_model_version_by_alias(params.scoring.model_name, CHAMPION)


def test_the_first_registered_version_became_champion_and_later_ones_did_not(lab):
    _, _, versions = lab
    assert str(_champion(lab).version) == versions["crippled"]


def test_a_better_challenger_is_promoted_with_its_comparison_recorded(lab):
    params, paths, versions = lab
    _crown(lab, "crippled")
    decision = promote(params, paths, versions["default"], user="analyst")
    assert decision.promoted and not decision.forced, decision.reason
    assert str(_champion(lab).version) == versions["default"]
    record = json.loads(_champion(lab).tags["nexus.promotion"])
    assert record["from_version"] == versions["crippled"] and record["by"] == "analyst"
    assert record["verdict"].startswith("earned: log_loss")


def test_a_worse_challenger_is_refused_and_the_comparison_shown(lab):
    params, paths, versions = lab
    _crown(lab, "default")
    decision = promote(params, paths, versions["weak"])
    assert not decision.promoted
    assert str(_champion(lab).version) == versions["default"]
    assert decision.reason.startswith("not earned: log_loss (lower is better)")
    diff = decision.comparison.set_index(["entry", "metric"]).loc[(f"challenger v{versions['weak']}", "auc")]
    assert diff["diff_high"] < 0  # the interval says it is worse, not merely not better


def test_a_challenger_judged_on_other_folds_is_refused_with_the_reason(lab):
    params, paths, versions = lab
    _crown(lab, "crippled")
    decision = promote(params, paths, versions["other_folds"])
    assert not decision.promoted and decision.comparison is None
    assert "not judged on identical folds and rows: origins 2020–2023 vs 2019–2023" in decision.reason


def test_force_records_who_forced_it_and_why(lab):
    params, paths, versions = lab
    _crown(lab, "default")
    with pytest.raises(NexusError, match="--force needs --reason"):
        promote(params, paths, versions["weak"], force=True)
    decision = promote(params, paths, versions["weak"], force=True, reason="drill: rollback test",
                       user="lead")
    assert decision.promoted and decision.forced
    tags = _champion(lab).tags
    assert (tags["nexus.forced_by"], tags["nexus.forced_reason"]) == ("lead", "drill: rollback test")
    assert str(_champion(lab).version) == versions["weak"]


def test_a_run_id_prefix_names_the_same_challenger_as_its_version(lab):
    from training.promote import resolve_version

    params, paths, versions = lab
    version = client(paths).get_model_version(params.scoring.model_name, versions["default"])
    run_id = version.tags["nexus.run_id"]
    assert resolve_version(paths, params.scoring.model_name, run_id[:8]) == (versions["default"], run_id)


def test_the_cli_prints_the_comparison_and_exits_non_zero_on_refusal(lab, small_overrides):
    import json as _json
    from pathlib import Path

    from typer.testing import CliRunner

    from nexus.cli import app

    params, paths, versions = lab
    _crown(lab, "default")
    args = ["--params", str(Path(__file__).resolve().parents[2] / "params.yaml")]
    for key, value in {"paths.raw": str(paths.raw), "paths.artifacts": str(paths.artifacts),
                       "paths.tracking_uri": paths.tracking_uri, **small_overrides}.items():
        args += ["--set", f"{key}={_json.dumps(value) if not isinstance(value, str) else value}"]
    result = CliRunner().invoke(app, [*args, "promote", versions["weak"]])
    assert isinstance(result.exception, NexusError)
    assert "promotion refused" in str(result.exception)
    assert "difference" in result.output and "log_loss" in result.output
    assert str(_champion(lab).version) == versions["default"]
