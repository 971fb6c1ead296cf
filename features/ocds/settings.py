"""Cardinal's `indicators` settings (settings.ini), with Cardinal's defaults: which red flags run and
with which thresholds, method lists and codelist re-mappings. Shared by the Python port
(`features.ocds.indicators`) and the columnar engine (`features.ocds.columnar_sql`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType

from nexus.errors import ConfigError

INDICATORS = ("R003", "R018", "R024", "R025", "R028", "R030", "R035", "R036", "R038", "R048", "R058")


def _pipe_set(value) -> frozenset[str]:
    """A Cardinal pipe-separated list (`open|selective`) or a list of strings."""
    items = value.split("|") if isinstance(value, str) else list(value)
    return frozenset(str(item).strip() for item in items if str(item).strip())


def _int_map(value) -> Mapping[str, int]:
    return {str(key): int(days) for key, days in dict(value).items()}


_GLOBAL_KEYS = {
    "currency": ("currency", str),
    "price_comparison_procurement_methods": ("price_comparison_procurement_methods", _pipe_set),
    "no_price_comparison_procurement_methods": ("no_price_comparison_procurement_methods", _pipe_set),
}
_SECTION_KEYS: dict[str, dict[str, tuple[str, object]]] = {
    "exclusions": {"procurement_method_details": ("excluded_procurement_method_details", _pipe_set)},
    "codelists": {"bid_status": ("bid_status_map", dict), "award_status": ("award_status_map", dict)},
    "R003": {"threshold": ("r003_threshold", int),
             "procurement_methods": ("r003_procurement_methods", _pipe_set),
             "procurement_method_details": ("r003_procurement_method_details", _int_map)},
    "R018": {"procurement_methods": ("r018_procurement_methods", _pipe_set)},
    "R024": {"threshold": ("r024_threshold", float)},
    "R025": {"percentile": ("r025_percentile", float), "threshold": ("r025_threshold", float)},
    "R028": {}, "R030": {}, "R036": {},
    "R035": {"threshold": ("r035_threshold", int)},
    "R038": {"threshold": ("r038_threshold", float),
             "minimum_submitted_bids": ("r038_minimum_submitted_bids", int),
             "minimum_contracting_processes": ("r038_minimum_contracting_processes", int)},
    "R048": {"digits": ("r048_digits", int), "threshold": ("r048_threshold", int),
             "minimum_contracting_processes": ("r048_minimum_contracting_processes", int)},
    "R058": {"threshold": ("r058_threshold", float)},
}


@dataclass(frozen=True)
class RedFlagSettings:
    """Cardinal's `indicators` settings with Cardinal's defaults; only the codes in `indicators` run.

    A `*_threshold` of None means "use the computed fence". `bid_status_map` / `award_status_map`
    are Cardinal's `prepare` re-mapping (`[codelists.bid_status] qualified = valid`), without which
    Armenian and ProZorro bids are never `valid`.
    """

    indicators: frozenset[str] = frozenset(INDICATORS)
    currency: str | None = None
    price_comparison_procurement_methods: frozenset[str] = frozenset()
    no_price_comparison_procurement_methods: frozenset[str] = frozenset()
    excluded_procurement_method_details: frozenset[str] = frozenset()
    r003_threshold: int = 15
    r003_procurement_methods: frozenset[str] = frozenset()
    r003_procurement_method_details: Mapping[str, int] = field(default_factory=dict)
    r018_procurement_methods: frozenset[str] = frozenset({"open", "selective"})
    r024_threshold: float | None = None
    r025_percentile: float = 75
    r025_threshold: float | None = None
    r035_threshold: int = 1
    r038_threshold: float | None = None
    r038_minimum_submitted_bids: int = 2
    r038_minimum_contracting_processes: int = 2
    r048_digits: int = 2
    r048_threshold: int | None = None
    r048_minimum_contracting_processes: int = 20
    r058_threshold: float | None = None
    bid_status_map: Mapping[str, str] = field(default_factory=dict)
    award_status_map: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        unknown = set(self.indicators) - set(INDICATORS)
        if unknown:
            raise ConfigError("red-flag settings", "indicators", f"unknown codes {sorted(unknown)}")
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, dict):
                object.__setattr__(self, f.name, MappingProxyType(dict(value)))
            elif isinstance(value, set):
                object.__setattr__(self, f.name, frozenset(value))

    @classmethod
    def from_dict(cls, settings: Mapping) -> RedFlagSettings:
        """Settings laid out like Cardinal's settings.ini: global keys, `[exclusions]`, `[codelists.*]`,
        and one `[R0xx]` section per indicator to run (an indicator without a section does not run)."""
        values: dict[str, object] = {"indicators": frozenset(k for k in settings if k in INDICATORS)}
        for key, raw in settings.items():
            if key in _GLOBAL_KEYS:
                name, convert = _GLOBAL_KEYS[key]
                values[name] = _converted(convert, raw, key)
            elif key in _SECTION_KEYS:
                for sub, sub_raw in dict(raw or {}).items():
                    if sub not in _SECTION_KEYS[key]:
                        raise ConfigError("red-flag settings", f"{key}.{sub}", "unknown setting")
                    name, convert = _SECTION_KEYS[key][sub]
                    values[name] = _converted(convert, sub_raw, f"{key}.{sub}")
            else:
                raise ConfigError("red-flag settings", key, "unknown setting")
        return cls(**values)

    @classmethod
    def from_fixture_name(cls, name: str | Path) -> RedFlagSettings:
        """The settings Cardinal's test harness (build.rs) derives from a fixture's file name.

        `R003-threshold-10` → `[R003] threshold = 10`; `+` stands for `|`;
        `R003-procurement_method_details-x-5-y-10` → per-details thresholds x = 5, y = 10; a single
        suffix (`R038-tenderer`) only names the case. Like the harness, every fixture also gets
        `no_price_comparison_procurement_methods = NPC` and `[exclusions] procurement_method_details = EXC`.
        """
        stem = Path(name).name.removesuffix(".jsonl").removesuffix(".expected")
        code, *suffix = stem.split("-")
        section: dict[str, object] = {}
        if len(suffix) >= 2:
            key, parts = suffix[0], suffix[1:]
            if key == "procurement_method_details":
                section[key] = dict(zip(parts[::2], parts[1::2], strict=True))
            else:
                section[key] = "-".join(parts).replace("+", "|")
        return cls.from_dict({"no_price_comparison_procurement_methods": "NPC",
                              "exclusions": {"procurement_method_details": "EXC"}, code: section})


def _converted(convert, raw, key: str):
    try:
        return convert(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError("red-flag settings", key, f"cannot use {raw!r}: {exc}") from None
