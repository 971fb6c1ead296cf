"""Country harmonization: the override table, non-country names, and agreement with the ISO/M49 reference."""

from pathlib import Path

import pandas as pd
import pytest

from nexus.countries import (
    CODE_OVERRIDES,
    NON_COUNTRY_CODES,
    NON_COUNTRY_NAMES,
    code_to_iso3,
    m49_to_iso3,
    name_to_iso3,
)

REFERENCE = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "raw" / "reference" / "country-codes.csv"
)


@pytest.mark.parametrize(("code", "iso3"), sorted(CODE_OVERRIDES.items()))
def test_override_codes(code, iso3):
    assert code_to_iso3(code) == iso3


def test_namibia_na_and_non_country_entries():
    assert code_to_iso3("NA") == "NAM" and name_to_iso3("Namibia") == "NAM"
    assert all(code_to_iso3(code) is None for code in NON_COUNTRY_CODES)
    assert all(name_to_iso3(name) is None for name in NON_COUNTRY_NAMES)
    assert name_to_iso3("Northern Cyprus") is None and name_to_iso3("Cyprus") == "CYP"
    assert name_to_iso3("Freedonia") is None
    assert m49_to_iso3(516) == "NAM" and m49_to_iso3(830) is None and m49_to_iso3(900) is None


@pytest.mark.skipif(not REFERENCE.exists(), reason=f"{REFERENCE} is absent")
def test_every_reference_country_maps_to_itself_by_alpha3_alpha2_and_m49():
    ref = pd.read_csv(REFERENCE, dtype=str, keep_default_na=False)  # keeps Namibia's "NA"
    ref = ref[ref["ISO3166-1-Alpha-3"] != ""]
    assert len(ref) >= 249
    for a3, a2, m49 in zip(ref["ISO3166-1-Alpha-3"], ref["ISO3166-1-Alpha-2"], ref["M49"], strict=True):
        assert code_to_iso3(a3) == a3
        assert code_to_iso3(a2) == a3, a2
        if m49:
            assert m49_to_iso3(int(m49)) == a3, m49
