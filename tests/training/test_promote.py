"""Champion/challenger on the synthetic world, where the better model is known.

Known answers: five depth-1 trees cannot match the default model (nor persistence), and a
model without the procurement and border families (the two strongest planted drivers) cannot
match one with them. In the default world tiers follow the signals with inertia, so the
default product model beats persistence; a version becomes champion only when it does.
"""

import json

import pytest

from nexus.errors import NexusError
from nexus.tracking import client
from training.promote import CHAMPION, promote
from training.runs import load_run
from training.train import train

CRIPPLED = {"training.xgb.max_depth": 1, "training.xgb.n_estimators": 5}
WITHOUT_STRONGEST = {"training.exclude_features": ["procurement", "border"]}


@pytest.fixture(scope="module")
def lab(small_params, small_features, tmp_path_factory):
    root = tmp_path_factory.mktemp("promote")
    versions = {}
    for name, overrides in [("crippled", CRIPPLED), ("default", {}), ("weak", WITHOUT_STRONGEST),
                            ("other_folds", {"training.backtest.first_origin": 2019})]:
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


def test_a_version_that_loses_to_persistence_never_became_champion_and_the_default_did(lab):
    params, paths, versions = lab
    from training.promote import beats_persistence

    crippled, why = beats_persistence(paths, params.scoring.model_name, versions["crippled"])
    assert not crippled and why.startswith("does not beat persistence on development origins 2018–2020")
    default, why = beats_persistence(paths, params.scoring.model_name, versions["default"])
    assert default, why
    # the crippled model was registered first and got nothing; the default earned the alias at training
    assert str(_champion(lab).version) == versions["default"]


def test_promotion_reads_development_origins_only(lab):
    params, paths, versions = lab
    run = load_run(paths, client(paths).get_model_version(params.scoring.model_name, versions["default"])
                   .tags["nexus.run_id"])
    assert not run.predictions["holdout"].any()
    assert sorted(run.predictions["origin"].unique()) == [2018, 2019, 2020]
    everything = load_run(paths, run.run_id, development_only=False)
    assert sorted(everything.predictions["origin"].unique()) == list(range(2018, 2024))


def test_a_better_challenger_is_promoted_with_its_comparison_recorded(lab):
    params, paths, versions = lab
    _crown(lab, "crippled")
    decision = promote(params, paths, versions["default"], user="analyst")
    assert decision.promoted and not decision.forced, decision.reason
    assert str(_champion(lab).version) == versions["default"]
    record = json.loads(_champion(lab).tags["nexus.promotion"])
    assert record["from_version"] == versions["crippled"] and record["by"] == "analyst"
    assert record["verdict"].startswith("beats persistence on development origins")
    assert "earned: log_loss" in record["verdict"]


def test_a_worse_challenger_is_refused_and_the_comparison_shown(lab):
    params, paths, versions = lab
    _crown(lab, "default")
    decision = promote(params, paths, versions["weak"])
    assert not decision.promoted
    assert str(_champion(lab).version) == versions["default"]
    assert "not earned: log_loss (lower is better)" in decision.reason or "does not beat persistence" in decision.reason
    if decision.comparison is not None:
        diff = decision.comparison.set_index(["entry", "metric"]).loc[(f"challenger v{versions['weak']}", "auc")]
        assert diff["diff_high"] < 0  # the interval says it is worse, not merely not better


def test_a_challenger_judged_on_other_folds_is_refused_with_the_reason(lab):
    params, paths, versions = lab
    _crown(lab, "crippled")
    decision = promote(params, paths, versions["other_folds"])
    assert not decision.promoted and decision.comparison is None
    assert "not judged on identical folds and rows: origins 2019–2020 vs 2018–2020" in decision.reason


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
    assert "persistence" in result.output and "log_loss" in result.output
    assert str(_champion(lab).version) == versions["default"]
