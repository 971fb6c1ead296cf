"""The publishers' file formats of the synthetic world: the OCDS lines are canonical JSON."""

import json

import numpy as np

from features.synthetic.files import write_procurement
from features.synthetic.latent import simulate


def test_procurement_lines_are_the_json_a_dump_writes_and_award_the_lowest_bid(tmp_path):
    world = simulate(7, 12, 2010, 2012)
    path = write_procurement(world, tmp_path, np.random.default_rng(8), per_cy=6)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 6 * int((world.years[None, :] >= world.entry_year[:, None]).sum())
    for line in lines:
        release = json.loads(line)
        assert json.dumps(release, separators=(",", ":")) == line
        bids = release["bids"]["details"]
        amounts = [b["value"]["amount"] for b in bids]
        lowest = bids[int(np.argmin(amounts))]
        assert release["awards"][0]["value"] == lowest["value"]
        assert release["awards"][0]["suppliers"] == lowest["tenderers"]
        assert release["tender"]["numberOfTenderers"] == len(bids)
        period = release["tender"]["tenderPeriod"]
        start, end = period["startDate"], period["endDate"]
        assert start[:4] == release["ocid"].split("-")[3] and start < end == release["date"]
