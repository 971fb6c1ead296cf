"""Country codes: synthetic names resolve, real spellings resolve, unknown and ambiguous names do not."""

import pytest

from nexus.countries import (
    AMBIGUOUS_NAMES,
    FILE_NAME_OVERRIDES,
    ambiguous_candidates,
    code_to_iso3,
    country_name_problem,
    is_synthetic,
    name_to_iso3,
    synthetic_codes,
    synthetic_name,
)


def test_synthetic_codes_are_user_assigned_and_names_unique():
    codes = synthetic_codes(150)
    assert all(c.startswith("X") and is_synthetic(c) for c in codes)
    assert "XKX" not in codes  # Kosovo's code is not fictional
    names = [synthetic_name(c) for c in codes]
    assert len(set(names)) == len(names)
    assert all(name_to_iso3(n) == c for n, c in zip(names, codes, strict=True))


def test_real_spellings_and_overrides():
    assert name_to_iso3("Korea, South") == "KOR"
    assert name_to_iso3("Bolivia, Plurinational State of") == "BOL"
    assert name_to_iso3("Namibia") == "NAM"
    assert name_to_iso3("Kosovo") == "XKX"
    for legacy, iso in {"ROM": "ROU", "ZAR": "COD", "TMP": "TLS", "ADO": "AND", "KSV": "XKX", "KOS": "XKX",
                        "WBG": "PSE"}.items():
        assert code_to_iso3(legacy) == iso


def test_unknown_names_and_codes_do_not_match():
    assert name_to_iso3("Freedonia") is None
    assert code_to_iso3("QQQ") is None
    assert code_to_iso3("CSS") is None


@pytest.mark.parametrize(("name", "candidates"), [
    ("Korea", {"KOR", "PRK"}), ("Congo", {"COG", "COD"}), ("the Congo", {"COG", "COD"}),
    ("Guinea", {"GIN", "GNB", "GNQ"}), ("Virgin Islands", {"VGB", "VIR"}), ("St. Martin", {"MAF", "SXM"}),
])
def test_an_ambiguous_name_is_refused_with_its_candidates(name, candidates):
    assert set(ambiguous_candidates(name)) == candidates
    assert name_to_iso3(name) is None and name_to_iso3(name, "some/file.csv") is None
    problem = country_name_problem(name, "some/file.csv")
    assert problem.startswith(f"ambiguous country {name!r}") and "FILE_NAME_OVERRIDES['file.csv']" in problem
    assert all(code in problem for code in candidates)


def test_qualified_names_stay_unambiguous():
    for name, code in {"Korea, Rep.": "KOR", "North Korea": "PRK", "Congo, Dem. Rep.": "COD",
                       "Republic of the Congo": "COG", "Guinea-Bissau": "GNB", "Equatorial Guinea": "GNQ",
                       "Papua New Guinea": "PNG", "Sudan": "SDN", "South Sudan": "SSD", "Dominica": "DMA",
                       "Dominican Republic": "DOM", "British Virgin Islands": "VGB"}.items():
        assert ambiguous_candidates(name) is None and name_to_iso3(name) == code, name


def test_a_file_override_says_which_country_an_ambiguous_name_means(monkeypatch):
    monkeypatch.setitem(FILE_NAME_OVERRIDES, "korea-tiers.csv", {"korea": "PRK"})
    name_to_iso3.cache_clear()
    assert name_to_iso3("Korea", "/raw/x/korea-tiers.csv") == "PRK"
    assert name_to_iso3("Korea", "/raw/x/other.csv") is None  # only in the file it is declared for
    name_to_iso3.cache_clear()
    rsf = "/raw/rsf/World Press Freedom Index - Reporters sans Frontieres (2022).csv"
    assert name_to_iso3("Congo", rsf) == "COG" and name_to_iso3("Congo") is None
    assert all(set(chosen) <= set(AMBIGUOUS_NAMES) and
               all(code in AMBIGUOUS_NAMES[name] for name, code in chosen.items())
               for chosen in FILE_NAME_OVERRIDES.values())


def test_a_reader_refuses_an_ambiguous_name_naming_file_row_and_candidates():
    import pandas as pd

    from features.readers import FILE, ROW, iso3_from_names
    from nexus.errors import SourceDataError

    frame = pd.DataFrame({"country": ["Korea, Rep.", "Korea"], FILE: ["a.csv", "b.csv"], ROW: [2, 7]})
    with pytest.raises(SourceDataError, match=r"^b\.csv row 7: ambiguous country 'Korea': KOR .* or PRK"):
        iso3_from_names(frame, "country")
    guinea = pd.DataFrame({"country": ["Guinea", "Guinea-Bissau"], FILE: ["/raw/cpi.csv"] * 2, ROW: [3, 4]})
    assert iso3_from_names(guinea, "country").tolist() == ["GIN", "GNB"]
