"""What `nexus train` prints beside its tables."""

from training.cli import unused_features


def test_features_no_backtest_origin_could_use_are_named():
    metrics = {"features": ["a", "b", "c", "d"],
               "features_by_origin": {"2010": ["a"], "2011": ["a", "c"]}}
    assert unused_features(metrics) == ["b", "d"]


def test_nothing_is_named_when_every_feature_was_used_somewhere():
    assert unused_features({"features": ["a"], "features_by_origin": {"2010": ["a"]}}) == []
