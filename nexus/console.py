"""What every `nexus` subcommand shares: the params file, `--set` overrides, `--debug`, and progress.

The root command (`nexus/cli.py`) opens a session; the stage CLIs (`features/cli.py`,
`training/cli.py`, `scoring/cli.py`, `service/cli.py`, `experiments/cli.py`) read it from here,
so nothing imports the root and the root only composes them.
"""

from __future__ import annotations

import gc
import logging
import os
import shlex
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import typer


@dataclass
class Session:
    """One command line's choices; `load` reads the params afresh so overrides apply every time."""

    params_path: Path = Path("params.yaml")
    overrides: list[str] = field(default_factory=list)
    debug: bool = False

    @property
    def base_dir(self) -> Path:
        """The folder relative paths in the params file are resolved against."""
        return Path(self.params_path).resolve().parent

    def load(self, raw: Path | None = None, extra: Sequence[str] = ()):
        """(Params, resolved PathsParams); `raw` (relative to the cwd) replaces paths.raw when given."""
        from nexus.config import load_params

        overrides = [*self.overrides, *([f"paths.raw={Path(raw).resolve()}"] if raw is not None else []), *extra]
        params = load_params(self.params_path, overrides)
        return params, params.resolved_paths(self.base_dir)

    def shown_command(self, subcommand: str, raw: Path | None) -> str:
        """This command line as a generated page shows it (`command_line`)."""
        return command_line(self.params_path, raw, self.overrides, subcommand)


_session = Session()


# MLflow's own chatter that says nothing a nexus user can act on: our pyfunc is a Python object by
# design (training/pyfunc.py), and our dataset source resolves to the same class either way.
LIBRARY_NOISE = (
    ("mlflow.pyfunc", "Passing a Python object as `python_model`"),
)


def _drop_noise(record: logging.LogRecord) -> bool:
    return not any(record.name == name and record.getMessage().startswith(text) for name, text in LIBRARY_NOISE)


def quiet_libraries(debug: bool) -> None:
    """Progress lines only: MLflow's INFO lines (store creation, migrations) and known noise stay off
    unless --debug. MLFLOW_LOGGING_LEVEL set by the user wins."""
    if debug:
        return
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    logging.getLogger("mlflow.pyfunc").addFilter(_drop_noise)
    warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted in multiple ways")


def open_session(params_path: Path, overrides: Sequence[str], debug: bool) -> Session:
    """Called once per command line by the root callback."""
    global _session
    _session = Session(Path(params_path), list(overrides), debug)
    quiet_libraries(debug)
    return _session


def session() -> Session:
    return _session


def current_params():
    """(Params, resolved PathsParams) for the running command."""
    return _session.load()


def load_with_raw(raw: Path | None, extra: Sequence[str] = ()):
    """(Params, resolved paths) with paths.raw replaced by `raw` when given (relative to the cwd)."""
    return _session.load(raw, extra)


def settle_heap() -> None:
    """Stop the garbage collector re-walking what is alive now (imported libraries, finished stages).

    A command imports mlflow, shap, xgboost and scikit-learn: half a million objects that every
    full collection walks again (about 0.3 s each, 3 s over `nexus run`), and once more at exit.
    Frozen objects are never collected; what a stage leaves behind is small and the process ends.
    """
    gc.freeze()


def progress(msg: str) -> None:
    """Progress goes to stderr, results to stdout."""
    typer.echo(f"  · {msg}", err=True)


def command_line(params_path: Path, raw: Path | None, overrides: Sequence[str] = (),
                 subcommand: str = "results") -> str:
    """The command as a generated page shows it: the params file by name, raw relative to it, no path overrides."""
    # abspath, not resolve: a linked ../shared stays as named
    base = Path(os.path.abspath(params_path)).parent
    parts = ["nexus", "--params", Path(params_path).name]
    for text in overrides:
        if not text.split("=", 1)[0].strip().startswith("paths."):
            parts += ["--set", shlex.quote(text)]
    parts.append(subcommand)
    if raw is not None:
        parts += ["--raw", os.path.relpath(os.path.abspath(raw), base)]
    return " ".join(parts)
