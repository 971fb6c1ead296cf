"""Which model versions the service answers with: aliases resolved in the registry, versions in memory.

The registry is read at startup and then in the background (`refresh`), never on a request's
fast path: a request for the default alias or an already-loaded version is a dictionary
look-up. When an alias moves, the new version is loaded before the alias is switched, so no
request waits for it. A pinned version (`?version=3`) is loaded on first use and kept, with
the default, among the few most recently used. Aliases, versions and model cards are read
through `training.registry` only; a version whose card is missing a field or names an unknown
method is not servable (503, and `/v1/ready` says which version and field), never served raw.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from nexus.config import Params, PathsParams
from nexus.errors import ModelNotFoundError, NexusError
from scoring.served import ServedVersion
from training import registry
from training.registry import ModelCardError, ModelRef

MAX_LOADED_VERSIONS = 4
log = logging.getLogger("nexus.service")


class ModelUnavailable(NexusError):
    """The service's model cannot be served (alias points nowhere, still loading, broken artifact): 503."""


class UnknownModel(NexusError):
    """A requested alias or version the registry does not have: 404, naming what it has."""


@dataclass
class AliasState:
    version: str | None     # the version served for the alias (None: not servable)
    reason: str | None
    checked: float
    pointed: str | None = None  # the version the alias points to, servable or not


class ModelCatalog:
    """Aliases → versions → in-memory ServedVersions, with readiness for the default alias."""

    def __init__(self, params: Params, paths: PathsParams, progress: Callable[[str], None] | None = None):
        self.params, self.paths = params, paths
        self.name = params.scoring.model_name
        self.default_alias = params.scoring.model_alias
        self.progress = progress or (lambda msg: None)
        self._aliases: dict[str, AliasState] = {}
        self._versions: OrderedDict[str, ServedVersion] = OrderedDict()
        self._load_lock = threading.RLock()
        self._ready = threading.Event()
        self._started = threading.Event()  # set once the first load finished, ready or not
        self.reason: str | None = "loading the model and its stored scores"

    # -- the request path -------------------------------------------------------------------

    def peek(self, alias: str | None = None,
             version: int | str | None = None) -> tuple[ServedVersion, str | None] | None:
        """The served version for a request if it is already in memory (no I/O), else None."""
        if version is not None:
            served = self._versions.get(str(version))
            return (served, None) if served is not None else None
        state = self._aliases.get(alias or self.default_alias)
        if state is None or state.version is None:
            return None
        served = self._versions.get(state.version)
        return (served, alias or self.default_alias) if served is not None else None

    def get(self, alias: str | None = None,
            version: int | str | None = None) -> tuple[ServedVersion, str | None]:
        """The served version for a request, loading it if needed (blocking: call from a worker thread).

        Raises UnknownModel (404) for an alias or version the registry never had, and
        ModelUnavailable (503) when the default alias points nowhere or cannot be loaded.
        """
        found = self.peek(alias, version)
        if found is not None:
            return found
        if version is not None:
            return self._load(self._resolve(version=str(version))), None
        alias = alias or self.default_alias
        state = self._aliases.get(alias)
        if alias == self.default_alias and state is not None and state.version is None:
            raise ModelUnavailable(state.reason or "the model is not loaded")
        if alias == self.default_alias and not self._ready.is_set() and state is None:
            raise ModelUnavailable(self.reason or "loading")
        ref = self._resolve(alias=alias)
        served = self._load(ref)
        self._aliases[alias] = AliasState(ref.version, None, time.monotonic())
        return served, alias

    # -- startup and background ------------------------------------------------------------

    def start(self) -> None:
        """Resolve and load the default alias; readiness follows (the reason is kept if it fails).

        The quick way first: the alias's version from the store's alias table and that version's
        serving artifact (scoring/prepared.py), no MLflow import; else through the registry.
        """
        ref = None
        try:
            version = self._start_prepared()
            if version is None:
                ref = self._resolve(alias=self.default_alias)
                self._load(ref)
                version = ref.version
            self._aliases[self.default_alias] = AliasState(version, None, time.monotonic(), version)
            self.reason = None
            self._ready.set()
        except NexusError as exc:
            self.reason = str(exc)
            self._aliases[self.default_alias] = AliasState(None, self.reason, time.monotonic(),
                                                           ref.version if ref else None)
            self._ready.clear()
        finally:
            self._started.set()

    def _start_prepared(self) -> str | None:
        """The default alias's version, loaded from its serving artifact; None when either is not found."""
        from scoring.prepared import load, prepared_dir

        version = registry.alias_version(self.paths, self.name, self.default_alias)
        if version is None:
            return None
        try:
            served = load(self.params, prepared_dir(self.params, self.paths, self.name, version))
        except Exception:  # noqa: BLE001 - a broken prepared artifact: the long way rebuilds it
            log.warning("serving artifact of %s v%s unreadable; loading it the long way", self.name, version,
                        exc_info=True)
            return None
        if served is None:
            return None
        self.progress(f"loaded {self.name} v{version} from its serving artifact")
        with self._load_lock:
            self._versions[version] = served
        return version

    def refresh(self) -> None:
        """Re-resolve every alias served so far; load a moved alias's version before switching to it.

        An alias the store's table says still points to the version served is left as is without
        asking MLflow (so a running service imports it only when something moved).
        """
        for alias in list(self._aliases):
            ref = None
            served = self._aliases[alias].version
            if served is not None and registry.alias_version(self.paths, self.name, alias) == served:
                self._aliases[alias].checked = time.monotonic()
                continue
            try:
                ref = self._resolve(alias=alias)
                if ref.version != self._aliases[alias].version:
                    self._load(ref)
                self._aliases[alias] = AliasState(ref.version, None, time.monotonic(), ref.version)
                if alias == self.default_alias:
                    self.reason = None
                    self._ready.set()
            except NexusError as exc:
                self._aliases[alias] = AliasState(None, str(exc), time.monotonic(),
                                                  ref.version if ref else None)
                if alias == self.default_alias:
                    self.reason = str(exc)
                    self._ready.clear()

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def wait_ready(self, timeout: float) -> bool:
        """Wait for the first load to finish; True if the default alias is being served."""
        self._started.wait(timeout)
        return self._ready.is_set()

    def default_version(self) -> str | None:
        """The version the default alias points to (served, or named by /v1/ready's reason)."""
        state = self._aliases.get(self.default_alias)
        return (state.version or state.pointed) if state else None

    # -- the registry ----------------------------------------------------------------------

    def _resolve(self, alias: str | None = None, version: str | None = None) -> ModelRef:
        try:
            return registry.resolve(self.paths, self.name, alias=alias, version=version)
        except ModelNotFoundError as exc:
            if alias == self.default_alias:
                raise ModelUnavailable(f"alias {alias!r} of {self.name!r} points nowhere: {exc}") from None
            what = f"version {version}" if version else f"alias {alias!r}"
            raise UnknownModel(f"model {self.name!r} has no {what}; {self._known()}") from None

    def _known(self) -> str:
        try:
            aliases, versions = self.registry_entries()
        except NexusError:
            return "the registry cannot be read"
        return (f"aliases: {', '.join(f'{a}→v{v}' for a, v in sorted(aliases.items())) or 'none'}; "
                f"versions: {', '.join(versions) or 'none'}")

    def registry_entries(self) -> tuple[dict[str, str], list[str]]:
        """(alias → version, every version) of the model, from the registry."""
        versions = registry.versions(self.paths, self.name)
        if not versions:
            raise ModelUnavailable(f"the registry at {self.paths.tracking_uri} has no model {self.name!r}; "
                                   "run 'nexus train' first")
        return registry.aliases(self.paths, self.name), sorted({v.version for v in versions}, key=int)

    def ref(self, version: str) -> ModelRef:
        """A version's registry entry (for /v1/models on versions not loaded)."""
        return self._resolve(version=version)

    def backtest(self, ref: ModelRef) -> dict:
        """The run's pooled development-origin metrics with their intervals ({} when the run is gone).

        Run metrics, not model-version tags: the registry module owns tags and aliases only.
        """
        from scoring.prepared import run_backtest

        return run_backtest(self.paths, ref)

    def _load(self, ref: ModelRef) -> ServedVersion:
        with self._load_lock:
            served = self._versions.get(ref.version)
            if served is None:
                self.progress(f"loading {ref.name} v{ref.version}")
                try:
                    served = self._load_long_way(ref)
                except ModelCardError as exc:  # already one line naming the version and the field
                    raise ModelUnavailable(str(exc)) from None
                except Exception as exc:  # noqa: BLE001 - a broken artifact is a 503 with its reason, not a 500
                    reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
                    raise ModelUnavailable(f"{ref.name} v{ref.version} cannot be served: {reason}") from None
                self._versions[ref.version] = served
            self._versions.move_to_end(ref.version)
            keep = {s.version for s in self._aliases.values() if s.version} | {ref.version}
            evictable = [v for v in self._versions if v not in keep]  # least recently used first
            for old in evictable[: max(0, len(self._versions) - MAX_LOADED_VERSIONS)]:
                del self._versions[old]
            return served

    def _load_long_way(self, ref: ModelRef) -> ServedVersion:
        """Load through the registry and write the version's serving artifact for the next start."""
        from scoring.prepared import prepared_dir, save
        from scoring.served import load_version

        served = load_version(self.params, self.paths, ref, self.backtest(ref), self.progress)
        try:
            save(served, ref.tags, prepared_dir(self.params, self.paths, ref.name, ref.version))
        except Exception:  # noqa: BLE001 - serving does not need it; the next start takes the long way again
            log.warning("could not write the serving artifact of %s v%s", ref.name, ref.version, exc_info=True)
        return served

    def loaded(self) -> dict[str, ServedVersion]:
        return dict(self._versions)
