"""Country names and codes to ISO3, for real publishers' files and the synthetic world.

Real names go through country_converter (a kept library) plus one explicit table of
overrides for codes publishers use that are not ISO 3166 (legacy World Bank codes, RSF's
own codes, Kosovo's three spellings). A name that could mean several countries ("Korea",
"Congo") is refused unless a file's entry in FILE_NAME_OVERRIDES says which. The synthetic
world uses ISO's user-assigned range XAA–XZZ, so its countries can never be mistaken for real
ones; their names are derived from the code by a fixed rule, so every builder can resolve
them without reading a file.
"""

from __future__ import annotations

import functools
import random
import re
import string
from pathlib import Path

import pandas as pd

# The one table of overrides (docs: README "Country codes"). Codes publishers use that ISO
# 3166 does not, mapped to the code nexus keys on; each entry says who uses it.
CODE_OVERRIDES: dict[str, str] = {
    "XKX": "XKX",  # Kosovo: World Bank WDI, RSF, V-Dem (not in ISO 3166; kept as XKX)
    "KSV": "XKX",  # Kosovo: World Bank WGI legacy code, TI's CPI workbook
    "KOS": "XKX",  # Kosovo: Kelley/Heiss TIP tiers
    "ROM": "ROU",  # Romania: World Bank legacy code (WGI)
    "ZAR": "COD",  # DR Congo: World Bank legacy code (WGI)
    "TMP": "TLS",  # Timor-Leste: World Bank legacy code (WGI)
    "ADO": "AND",  # Andorra: World Bank legacy code (WGI)
    "WBG": "PSE",  # West Bank and Gaza: World Bank code for Palestine
}
# Two-letter codes whose reading is fragile: Namibia's ISO alpha-2 "NA" is read as missing by
# pandas (and R) unless told otherwise, so it is mapped here explicitly.
ISO2_OVERRIDES: dict[str, str] = {"NA": "NAM"}
# Codes that name no single present-day country. Sources drop these rows (and tests count
# them); nexus never guesses a country for them.
NON_COUNTRY_CODES: dict[str, str] = {
    "CTU": "Northern Cyprus (RSF code; not an ISO 3166 country)",
    "CSS": "Organisation of Eastern Caribbean States (RSF code; several countries in one row)",
    "ANT": "Netherlands Antilles (dissolved in 2010; no successor code)",
    "CHI": "Channel Islands (World Bank; Jersey and Guernsey together)",
    "INX": "World Bank 'Not classified' placeholder row",
    "DDR": "German Democratic Republic (V-Dem; dissolved 1990)",
    "VDR": "Republic of Vietnam (V-Dem; dissolved 1975)",
    "YMD": "South Yemen (V-Dem; merged 1990)",
    "CSK": "Czechoslovakia (World Bank income history; dissolved 1993)",
    "SUN": "USSR (World Bank income history; dissolved 1991)",
    "YUG": "Serbia and Montenegro (World Bank income history; dissolved 2006)",
    "YUGF": "Yugoslavia (World Bank income history; dissolved 1992)",
}
# UN M49 area codes with no ISO 3166 country (UN DESA keys its tables on M49).
NON_COUNTRY_M49: dict[int, str] = {830: "Channel Islands (UN DESA; Jersey and Guernsey together)"}
# Spellings the library does not match (or matches wrongly), in lower case.
NAME_OVERRIDES: dict[str, str] = {
    "kosovo": "XKX",
    "namibia": "NAM",
    "usa": "USA",          # transcribed TIP tiers
    "congo (roc)": "COG",  # transcribed TIP tiers (gvnet)
    "timor": "TLS",        # Our World in Data's RSF entity name
}
# Names that are not one present-day country, in lower case. Checked before the library,
# whose patterns would otherwise match some of them to a country ("Northern Cyprus" → CYP).
NON_COUNTRY_NAMES: dict[str, str] = {
    "northern cyprus": "Northern Cyprus (RSF via Our World in Data)",
    "eastern caribbean states": "OECS as one row (RSF via Our World in Data)",
    "serbia and montenegro": "dissolved 2006 (TI CPI compilation)",
    "yugoslavia": "dissolved (TI CPI compilation)",
    "sark": "part of the Bailiwick of Guernsey, no ISO 3166 code (UNODC)",
}
# Names that could mean several countries, in lower case (a leading "the" is ignored), with
# their candidates. The library picks one silently ("Korea" → KOR, "Congo" → COG, "the Congo"
# → COD), so these are refused unless FILE_NAME_OVERRIDES says which one a file means.
# Considered and not listed: "Sudan" (SDN in every year; before 2011 its rows also cover what is
# now South Sudan, a coverage note, not a naming one), "Micronesia" (FSM is the only country of
# that name), "Dominica", "Niger", "Samoa" (each one country; their neighbours carry a qualifier).
AMBIGUOUS_NAMES: dict[str, dict[str, str]] = {
    "korea": {"KOR": "South Korea", "PRK": "North Korea"},
    "congo": {"COG": "Congo-Brazzaville", "COD": "DR Congo"},
    "guinea": {"GIN": "Guinea-Conakry", "GNB": "Guinea-Bissau", "GNQ": "Equatorial Guinea"},
    "virgin islands": {"VGB": "British Virgin Islands", "VIR": "US Virgin Islands"},
    "saint martin": {"MAF": "Saint-Martin (French part)", "SXM": "Sint Maarten (Dutch part)"},
    "st. martin": {"MAF": "Saint-Martin (French part)", "SXM": "Sint Maarten (Dutch part)"},
    "st martin": {"MAF": "Saint-Martin (French part)", "SXM": "Sint Maarten (Dutch part)"},
}
# Which country an ambiguous name means in one publisher's file (keyed by file name, as found
# under paths.raw), with the evidence from that file.
FILE_NAME_OVERRIDES: dict[str, dict[str, str]] = {
    # TI's CPI compilation: lists Guinea-Bissau, Equatorial Guinea and Papua New Guinea by name.
    "cpi.csv": {"guinea": "GIN"},
    # GI-TOC's index: lists Guinea-Bissau and Equatorial Guinea by name (and both Congos in full).
    "global_oc_index.xlsx": {"guinea": "GIN"},
    # Our World in Data's RSF entities: DR Congo is "Democratic Republic of Congo", so "Congo" is
    # Brazzaville; Guinea-Bissau and Equatorial Guinea are listed by name.
    "World Press Freedom Index - Reporters sans Frontieres (2022).csv": {"congo": "COG", "guinea": "GIN"},
    # Transcribed TIP tiers: Guinea-Bissau and Equatorial Guinea are listed by name.
    "tip_tiers_2016_2025_transcribed.csv": {"guinea": "GIN"},
    # Walk Free's Global Slavery Index: Guinea-Bissau and Equatorial Guinea are listed by name; the
    # 2018 workbook's DR Congo is "Congo, Democratic Republic of the", so its "Congo" is Brazzaville.
    "slavery_2016.xlsx": {"guinea": "GIN"},
    "slavery_2018.xlsx": {"guinea": "GIN", "congo": "COG"},
    "slavery_2023.xlsx": {"guinea": "GIN"},
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
    """A publisher's 3-letter (or ISO 2-letter) code as ISO3, or None if it is not a country code."""
    code = code.strip().upper()
    if code in CODE_OVERRIDES:
        return CODE_OVERRIDES[code]
    if len(code) == 2:
        return ISO2_OVERRIDES.get(code) or _iso2_codes().get(code)
    if is_synthetic(code) or code in _iso3_codes():
        return code
    return None


@functools.cache
def _iso2_codes() -> dict[str, str]:
    """ISO2 → ISO3; the library writes a few as patterns ("^GR$|^EL$", "^GB$|^UK$")."""
    data = _converter().data
    out = {}
    for pattern, iso3 in zip(data["ISO2"], data["ISO3"], strict=True):
        for code in re.findall(r"[A-Z]{2}", pattern or ""):
            out.setdefault(code, iso3)
    return out


@functools.cache
def _m49_codes() -> dict[int, str]:
    data = _converter().data
    return {int(n): c for n, c in zip(data["ISOnumeric"], data["ISO3"], strict=True) if pd.notna(n) and c}


def m49_to_iso3(code: int) -> str | None:
    """A UN M49 numeric area code as ISO3, or None (aggregates, non-country areas, unknown)."""
    if code in NON_COUNTRY_M49:
        return None
    return _m49_codes().get(int(code))


def is_non_country_name(name: str) -> bool:
    return name.strip().casefold() in NON_COUNTRY_NAMES


def _ambiguity_key(name: str) -> str:
    folded = re.sub(r"\s+", " ", name.strip().casefold())
    return folded.removeprefix("the ")


def ambiguous_candidates(name: str) -> dict[str, str] | None:
    """The countries an ambiguous name could mean (ISO3 → which one), or None if it is not ambiguous."""
    return AMBIGUOUS_NAMES.get(_ambiguity_key(name))


def country_name_problem(name: str, file: str | Path | None = None) -> str:
    """Why a name resolves to no country, in words: ambiguous (naming the candidates) or unknown."""
    candidates = ambiguous_candidates(name)
    if candidates is None:
        return f"unknown country {name!r}"
    listed = " or ".join(f"{code} ({what})" for code, what in candidates.items())
    entry = f"[{Path(file).name!r}]" if file is not None else ""
    return (f"ambiguous country {name!r}: {listed}; say which one the file means in "
            f"nexus/countries.py FILE_NAME_OVERRIDES{entry}")


@functools.cache
def name_to_iso3(name: str, file: str | Path | None = None) -> str | None:
    """A country name (any common spelling) as ISO3, or None if nothing matches.

    An ambiguous name ("Korea", "Congo") is None too, unless FILE_NAME_OVERRIDES says which
    country `file` means by it: nexus never guesses (`country_name_problem` says why).
    """
    key = name.strip()
    if not key:
        return None
    folded = key.casefold()
    if folded in NON_COUNTRY_NAMES:
        return None
    if folded in NAME_OVERRIDES:
        return NAME_OVERRIDES[folded]
    if folded in _synthetic_names():
        return _synthetic_names()[folded]
    if ambiguous_candidates(key) is not None:
        chosen = FILE_NAME_OVERRIDES.get(Path(file).name, {}) if file is not None else {}
        return chosen.get(_ambiguity_key(key))
    result = _converter().convert(key, to="ISO3", not_found=None)
    if isinstance(result, list):  # ambiguous regex match: refuse to guess
        return None
    return result if isinstance(result, str) and result != key else None


def un_regions(codes: list[str]) -> dict[str, str]:
    """The UN region of each real ISO3 code that country_converter knows (synthetic codes have none)."""
    real = [c for c in codes if not is_synthetic(c)]
    if not real:
        return {}
    found = _converter().convert(real, src="ISO3", to="UNregion", not_found="")
    found = [found] if isinstance(found, str) else found
    return {c: r for c, r in zip(real, found, strict=True) if r}


def short_name(iso3: str) -> str:
    """A country's short English name (the invented one for an X-code); the code itself if unknown."""
    if is_synthetic(iso3):
        return synthetic_name(iso3)
    name = _converter().convert(iso3, src="ISO3", to="name_short", not_found=None)
    return name if isinstance(name, str) else iso3
