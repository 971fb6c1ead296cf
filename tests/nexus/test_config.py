"""params.yaml: typos, missing keys and bad values fail naming the file and the key path."""

from pathlib import Path

import pytest
import yaml

from nexus.config import load_params
from nexus.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_shipped_params_validate():
    params = load_params(REPO / "params.yaml")
    assert params.training.backtest.last_origin - params.training.backtest.first_origin + 1 >= 8


def _write(tmp_path, mutate) -> Path:
    tree = yaml.safe_load((REPO / "params.yaml").read_text())
    mutate(tree)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


def test_typo_names_file_key_and_suggestion(tmp_path):
    path = _write(tmp_path, lambda t: t["training"]["xgb"].update({"max_dept": 3}))
    with pytest.raises(ConfigError, match=r"params.yaml: training.xgb.max_dept: unknown key; did you mean 'max_depth'"):
        load_params(path)


def test_missing_key_is_named(tmp_path):
    path = _write(tmp_path, lambda t: t["scoring"].pop("model_alias"))
    with pytest.raises(ConfigError, match=r"scoring.model_alias: required key is missing"):
        load_params(path)


def test_out_of_range_value_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"training.xgb.learning_rate: .*less than or equal to 1"):
        load_params(REPO / "params.yaml", ["training.xgb.learning_rate=3"])


def test_invalid_yaml_names_line(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("seed: 1\npaths: [unclosed\n")
    with pytest.raises(ConfigError, match=r"params.yaml: line \d+: not valid YAML"):
        load_params(path)


def test_override_parses_yaml_values():
    params = load_params(REPO / "params.yaml", ["training.exclude_features=[border, procurement]"])
    assert params.training.exclude_features == ["border", "procurement"]


def test_params_are_frozen():
    params = load_params(REPO / "params.yaml")
    with pytest.raises(Exception):
        params.seed = 3
