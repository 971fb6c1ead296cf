"""Usage errors are one line naming the command, exit 2, no traceback (typer bundles its own click)."""

import sys

import pytest

from nexus.cli import cli


@pytest.mark.parametrize("argv, says", [
    (["featurez"], "No such command 'featurez'. Did you mean 'features'?"),
    (["features", "--raw", "DIR"], "nexus features: No such option: --raw"),
    (["tune", "--trials", "abc"], "nexus tune: Invalid value for '--trials'"),
])
def test_a_usage_error_is_one_line_with_exit_2(argv, says, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["nexus", *argv])
    with pytest.raises(SystemExit) as exit_:
        cli()
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert says in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
