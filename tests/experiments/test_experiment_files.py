"""Declared experiments: every shipped file validates; a typo fails before anything runs, naming the file."""

from pathlib import Path

import pytest

from experiments.runner import list_experiments, load_experiment, resolve
from nexus.config import load_params
from nexus.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
FAMILIES = ("press", "border", "judicial", "procurement", "governance")


@pytest.fixture(scope="module")
def params():
    return load_params(REPO / "params.yaml")


@pytest.mark.parametrize("name", list_experiments())
def test_every_shipped_experiment_validates(name, params):
    experiment = load_experiment(name)
    resolved = resolve(experiment, params)
    assert experiment.description
    assert experiment.compare_to is None or experiment.compare_to in list_experiments()
    assert resolved.paths == params.paths


def test_the_experiments_the_issue_asks_for_are_shipped_and_do_what_they_say(params):
    shipped = set(list_experiments())
    asked = {"baseline", "independent_sources", "horizon_2y", "proxy_only",
             *(f"drop_{f}" for f in FAMILIES)}
    assert asked <= shipped
    for family in FAMILIES:
        assert resolve(load_experiment(f"drop_{family}"), params).training.exclude_features == [family]
    assert resolve(load_experiment("independent_sources"), params).training.independent_sources_only
    assert resolve(load_experiment("horizon_2y"), params).training.horizon_years == 2
    assert params.training.include_label_history   # the product model is the default
    assert not resolve(load_experiment("proxy_only"), params).training.include_label_history
    assert not resolve(load_experiment("independent_sources"), params).training.include_label_history
    assert resolve(load_experiment("baseline"), params) == params


def _write(tmp_path, text):
    (tmp_path / "bad.yaml").write_text(text)
    return tmp_path


def test_unknown_experiment_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"nosuch: unknown experiment; known: .*baseline.*drop_press"):
        load_experiment("nosuch")


def test_a_typo_in_an_override_key_names_the_file_the_key_and_a_suggestion(tmp_path, params):
    d = _write(tmp_path, "description: x\noverrides:\n  training.exclude_feature: [press]\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: training.exclude_feature: unknown key; "
                                          r"did you mean 'exclude_features'"):
        resolve(load_experiment("bad", d), params)


def test_an_unknown_top_level_key_lists_what_an_experiment_file_holds(tmp_path):
    d = _write(tmp_path, "description: x\noverides: {}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: overides: unknown key \(an experiment file holds: "
                                          r"description, overrides, compare_to, overrides_from\)"):
        load_experiment("bad", d)


def test_a_value_out_of_range_and_an_unknown_family_fail_naming_the_file(tmp_path, params):
    d = _write(tmp_path, "description: x\noverrides:\n  training.horizon_years: 9\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: training.horizon_years: .*less than or equal to 5"):
        resolve(load_experiment("bad", d), params)
    d = _write(tmp_path, "description: x\noverrides:\n  training.exclude_features: [procurment]\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: training.exclude_features: 'procurment' is no family"):
        resolve(load_experiment("bad", d), params)


def test_an_experiment_cannot_move_paths_or_compare_to_an_unknown_one(tmp_path, params):
    d = _write(tmp_path, "description: x\noverrides:\n  paths.artifacts: /elsewhere\n")
    with pytest.raises(ConfigError, match=r"paths.artifacts: an experiment cannot move paths"):
        resolve(load_experiment("bad", d), params)
    d = _write(tmp_path, "description: x\noverrides: {}\ncompare_to: baseline\n")
    with pytest.raises(ConfigError, match=r"compare_to: unknown experiment 'baseline'; known: bad"):
        load_experiment("bad", d)


def test_cli_lists_experiments_and_refuses_an_unknown_one():
    from typer.testing import CliRunner

    from nexus.cli import app

    runner = CliRunner()
    listed = runner.invoke(app, ["--params", str(REPO / "params.yaml"), "experiment", "list"])
    assert listed.exit_code == 0, listed.output
    assert all(name in listed.output for name in list_experiments())
    unknown = runner.invoke(app, ["--params", str(REPO / "params.yaml"), "experiment", "run", "drop_pres"])
    assert isinstance(unknown.exception, ConfigError)
    assert "drop_pres: unknown experiment; known: " in str(unknown.exception)
