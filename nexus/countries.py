"""Country names and codes to ISO3, for real publishers' files and the synthetic world.

Real names go through country_converter (a kept library) plus one explicit table of
overrides for codes publishers use that are not ISO 3166 (legacy World Bank codes, RSF's
own codes, Kosovo's three spellings). The synthetic world uses ISO's user-assigned range
XAA–XZZ, so its countries can never be mistaken for real ones; their names are derived
from the code by a fixed rule, so every builder can resolve them without reading a file.
"""

from __future__ import annotations

import functools
import random
import string
from collections.abc import Iterable

import pandas as pd

# Codes publishers use that ISO 3166 does not, mapped to the code nexus keys on.
# Each entry says who uses it; keep this the only such table in the project.
CODE_OVERRIDES: dict[str, str] = {
    "XKX": "XKX",  # Kosovo: World Bank WDI, RSF, V-Dem (not in ISO 3166; kept as XKX)
    "KSV": "XKX",  # Kosovo: World Bank WGI legacy code
    "KOS": "XKX",  # Kosovo: Kelley/Heiss TIP tiers
    "ROM": "ROU",  # Romania: World Bank legacy code (WGI)
    "ZAR": "COD",  # DR Congo: World Bank legacy code (WGI)
    "TMP": "TLS",  # Timor-Leste: World Bank legacy code (WGI)
    "ADO": "AND",  # Andorra: World Bank legacy code (WGI)
    "WBG": "PSE",  # West Bank and Gaza: World Bank code for Palestine
}
# Codes that name no single country: RSF's Northern Cyprus and OECS rows, the dissolved
# Netherlands Antilles. Sources drop these rows and count them, never guess a country.
NON_COUNTRY_CODES: dict[str, str] = {
    "CTU": "Northern Cyprus (RSF code; not an ISO 3166 country)",
    "CSS": "Organisation of Eastern Caribbean States (RSF code; several countries in one row)",
    "ANT": "Netherlands Antilles (dissolved in 2010; no successor code)",
}
NAME_OVERRIDES: dict[str, str] = {
    "kosovo": "XKX",
    "namibia": "NAM",
}

_ONSETS = ["B", "C", "D", "F", "G", "K", "L", "M", "N", "P", "R", "S", "T", "V", "Z", "Br", "Tr", "Kal"]
_VOWELS = ["a", "e", "i", "o", "u", "ia", "ea"]
_CODAS = ["n", "r", "l", "s", "th", "v", "nd", "st", ""]
_ENDINGS = ["ia", "and", "istan", "ora", "esh", "ovia", "ar", "enia", "ica", "une", "ost", "avia", "ino", "eth"]


def synthetic_codes(n: int) -> list[str]:
    """The first `n` user-assigned ISO3 codes XAA, XAB, … (XKX, taken by Kosovo, is skipped)."""
    letters = string.ascii_uppercase
    codes = [f"X{a}{b}" for a in letters for b in letters if f"X{a}{b}" != "XKX"]
    if not 0 < n <= len(codes):
        raise ValueError(f"the synthetic world holds 1 to {len(codes)} countries, not {n}")
    return codes[:n]


@functools.cache
def _synthetic_table() -> dict[str, str]:
    """code -> fictional name, fixed for ever (a seeded draw, independent of any world seed)."""
    rng = random.Random(1066)
    table: dict[str, str] = {}
    taken: set[str] = set()
    for code in synthetic_codes(675):
        while True:
            name = rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) + rng.choice(_ENDINGS)
            if name not in taken:
                break
        taken.add(name)
        table[code] = name
    return table


def synthetic_name(code: str) -> str:
    """The fictional country name of a code in XAA–XZZ."""
    if not is_synthetic(code):
        raise ValueError(f"{code!r} is not a synthetic (XAA–XZZ) code")
    return _synthetic_table()[code]


def is_synthetic(code: str) -> bool:
    return len(code) == 3 and code[0] == "X" and code.isalpha() and code.isupper() and code != "XKX"


@functools.cache
def _synthetic_names() -> dict[str, str]:
    return {name.casefold(): code for code, name in _synthetic_table().items()}


@functools.cache
def _converter():
    """country_converter's table, loaded so it works on pandas 3 (see ../shared/STACK.md §2e)."""
    import country_converter as coco
    from pandas._libs.parsers import STR_NA_VALUES

    df = pd.read_csv(
        coco.country_converter.COUNTRY_DATA_FILE,
        sep="\t",
        encoding="utf-8",
        na_values=STR_NA_VALUES - {"NA"},
        keep_default_na=False,
    )
    for c in ["name_short", "name_official", "regex", "ISO2", "ISO3", "continent", "UNregion",
              "EXIO1", "EXIO2", "EXIO3", "WIOD"]:
        if c in df:
            df[c] = df[c].fillna("").astype(object)
    for c in ["ISOnumeric", "UNcode", "FAOcode", "GBDcode"]:
        if c in df:
            df[c] = df[c].astype("Int64")
    import logging

    logging.getLogger("country_converter").setLevel(logging.ERROR)
    return coco.CountryConverter(country_data=df)


@functools.cache
def _iso3_codes() -> frozenset[str]:
    return frozenset(c for c in _converter().data["ISO3"] if c)


def code_to_iso3(code: str) -> str | None:
    """A publisher's 3-letter code as ISO3, or None if it is not a known country code."""
    code = code.strip().upper()
    if code in CODE_OVERRIDES:
        return CODE_OVERRIDES[code]
    if is_synthetic(code) or code in _iso3_codes():
        return code
    return None


@functools.cache
def name_to_iso3(name: str) -> str | None:
    """A country name (any common spelling) as ISO3, or None if nothing matches."""
    key = name.strip()
    if not key:
        return None
    folded = key.casefold()
    if folded in NAME_OVERRIDES:
        return NAME_OVERRIDES[folded]
    if folded in _synthetic_names():
        return _synthetic_names()[folded]
    result = _converter().convert(key, to="ISO3", not_found=None)
    if isinstance(result, list):  # ambiguous regex match: refuse to guess
        return None
    return result if isinstance(result, str) and result != key else None


def names_to_iso3(names: Iterable[str]) -> list[str | None]:
    """Vectorised `name_to_iso3`; each distinct name is matched once."""
    return [name_to_iso3(str(n)) for n in names]
