"""Press freedom: decimal commas, RSF's own codes, N-1 scores, and the damaged 2025/2026 exports."""

from pathlib import Path

import numpy as np
import pytest

from features.build_context import BuildContext
from features.panel import validate_source_frame
from features.registry import get_source
from nexus.errors import SourceDataError

HEADER = "ISO;Score;Rank;Political Context;Safety;Country_EN;Year (N);Score N-1;Score evolution"


def write(raw: Path, name: str, lines: list[str], header: str = HEADER, encoding: str = "utf-8-sig") -> Path:
    path = raw / "rsf_wpfi" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *lines]) + "\n", encoding=encoding)
    return path


def build(raw: Path, name: str = "press_freedom"):
    source = get_source(name)
    built = source.build(source.find_files(raw), BuildContext.for_policy("refuse"))
    return validate_source_frame(source, built).set_index(["iso3", "year"])


def edition_2024(raw: Path) -> None:
    write(
        raw,
        "rsf2024 2.csv",
        [
            "NOR;91,89;1;94,87;94,74;Norway;2024;95,18;-3,29",
            "USA;66,59;55;69,03;56,31;United States;2024;71,22;-4,63",
            "CTU;50,00;90;50;50;Northern Cyprus;2024;51;-1",
            "CSS;70,00;40;70;70;OECS;2024;71;-1",
        ],
    )


DAMAGED = "ISO;Score 2025;Rank;Political Context;Safety;Country_EN;Year (N);Score N-1;Score evolution"


def test_decimal_commas_rsf_codes_and_previous_edition(tmp_path):
    edition_2024(tmp_path)
    pf = build(tmp_path)
    assert pf.loc[("NOR", 2023), "press_freedom_score"] == pytest.approx(91.89)  # edition 2024 describes 2023
    assert pf.loc[("NOR", 2022), "press_freedom_score"] == pytest.approx(95.18)  # its N-1 column
    assert np.isnan(pf.loc[("NOR", 2022), "press_freedom_safety"])  # N-1 carries no sub-scores
    assert not {"CTU", "CSS"} & set(pf.index.get_level_values("iso3"))


def test_damaged_scores_are_repaired_from_previous_score_and_evolution(tmp_path):
    edition_2024(tmp_path)
    write(
        tmp_path,
        "rwb2025.csv",
        ["NOR;9231;1;9000;9400;Norway;2025;9189;0,42", "USA;65487;57;6238;7803;United States;2025;6659;-1,1"],
        header=DAMAGED,
        encoding="cp1252",
    )
    pf = build(tmp_path)
    assert pf.loc[("NOR", 2024), "press_freedom_score"] == pytest.approx(92.31)
    assert pf.loc[("USA", 2024), "press_freedom_score"] == pytest.approx(65.487)  # RSF printed three decimals
    assert np.isnan(pf.loc[("NOR", 2024), "press_freedom_political"])  # two readings: not repaired


def test_damaged_edition_without_its_predecessor_is_refused(tmp_path):
    write(
        tmp_path,
        "rwb2025.csv",
        ["NOR;9231;1;9000;9400;Norway;2025;9189;0,42"],
        header=DAMAGED,
        encoding="cp1252",
    )
    with pytest.raises(
        SourceDataError,
        match=r"rwb2025.csv row 2: score '9231' lost its decimal comma .* needs the "
        r"edition describing 2023",
    ):
        build(tmp_path)


def test_damaged_score_the_rule_cannot_place_is_refused(tmp_path):
    edition_2024(tmp_path)
    write(
        tmp_path,
        "rwb2025.csv",
        ["NOR;9231;1;9000;9400;Norway;2025;9189;0,42", "USA;7000;57;6238;7803;United States;2025;6659;-1,1"],
        header=DAMAGED,
    )
    with pytest.raises(
        SourceDataError,
        match=r"rwb2025.csv row 3: score '7000' lost its decimal comma and previous "
        r"score \+ evolution \(65.49\) does not place its decimal point",
    ):
        build(tmp_path)


def test_old_method_is_its_own_reversed_score(tmp_path):
    write(
        tmp_path,
        "World Press Freedom Index - Reporters sans Frontieres (2022).csv",
        [
            "Norway,2013,6.52,0",
            "Northern Cyprus,2013,20.1,1",
            "Cyprus,2013,13.83,0",
            "Eastern Caribbean States,2013,22,1",
        ],
        header="Entity,Year,Press Freedom Score,Press Freedom Status",
    )
    old = build(tmp_path, "press_freedom_old_method")
    assert old.loc[("NOR", 2012), "press_freedom_old_score"] == pytest.approx(6.52)
    assert old.loc[("CYP", 2012), "press_freedom_old_score"] == pytest.approx(13.83)  # not Northern Cyprus
    assert len(old) == 2
