"""The current placement: a tier where the report gives one, the declared "Tier 1 or 2" where it only says unlisted."""

import numpy as np
import pandas as pd

from training.targets import UNLISTED_TIER_UNKNOWN, add_targets


def test_an_unlisted_government_of_an_incomplete_report_reads_tier_1_or_2_not_missing():
    nan = np.nan
    panel = pd.DataFrame({
        "iso3": ["XAA"] * 3 + ["XAB"] * 3 + ["XAC"] * 3,
        "year": [2022, 2023, 2024] * 3,
        "label_tier": [1, nan, nan, 2, 2, 3, nan, nan, nan],     # 0 Tier 1 … 3 Tier 3
        "label_listed": [0, 0, nan, 1, 1, 1, nan, nan, nan],     # 2023: an inferred negative; 2024: unknown
    })
    out = add_targets(panel, "t2wl_or_t3", 1).set_index(["iso3", "year"])
    assert out.loc[("XAA", 2023), "current_tier"] == UNLISTED_TIER_UNKNOWN
    assert out.loc[("XAA", 2024), "previous_tier"] == UNLISTED_TIER_UNKNOWN
    assert np.isnan(out.loc[("XAA", 2024), "current_tier"])        # nothing known: still missing
    assert out.loc[("XAA", 2022), "current_tier"] == 1 and out.loc[("XAB", 2024), "current_tier"] == 3
    assert out.loc[("XAC"), "current_tier"].isna().all()           # never ranked: missing
    assert 0 < UNLISTED_TIER_UNKNOWN < 1                            # between Tier 1 and Tier 2, below listed
    assert out.loc[("XAA", 2022), "target_t2wl_or_t3_h1"] == 0 and np.isnan(out.loc[("XAA", 2023),
                                                                                  "target_t2wl_or_t3_h1"])
