"""Errors users see as one line: what file, which row or key, what is wrong."""

from __future__ import annotations

from pathlib import Path


class NexusError(Exception):
    """Base of every error nexus reports to a user without a traceback."""

    exit_code = 1


class ConfigError(NexusError):
    """A params file or experiment file is wrong: names the file and the key path."""

    exit_code = 2

    def __init__(self, path: Path | str, key: str, problem: str):
        self.path, self.key, self.problem = str(path), key, problem
        where = f"{self.path}: {key}" if key else self.path
        super().__init__(f"{where}: {problem}")


class SourceDataError(NexusError):
    """A raw data file cannot be read as its source declares: names file, row and problem.

    `row` is the 1-based line or spreadsheet row as a user would find it in the file
    (header lines included), or None when the problem concerns the whole file.
    """

    def __init__(self, path: Path | str, row: int | None, problem: str):
        self.path, self.row, self.problem = str(path), row, problem
        where = f"{self.path} row {row}" if row is not None else str(self.path)
        super().__init__(f"{where}: {problem}")


class StaleArtifactError(NexusError):
    """An artifact on disk does not match its manifest (edited, truncated or half-written)."""


class ModelNotFoundError(NexusError):
    """The model registry has no version for the requested name, alias or version."""
