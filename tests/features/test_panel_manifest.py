"""The panel is read only through its manifest: a damaged copy of the session's panel is refused by name.

The skip/rebuild rules themselves are the spine's, tested on a ten-line stage in tests/nexus/test_manifest.py.
"""

import shutil

import pytest

from features.panel import load_panel
from nexus.errors import StaleArtifactError


def test_damaged_panel_is_refused(tmp_path, small_features):
    copy = tmp_path / "features"
    shutil.copytree(small_features.directory, copy)
    load_panel(copy)  # the intact copy verifies
    with open(copy / "panel.parquet", "ab") as f:
        f.write(b"junk")
    with pytest.raises(StaleArtifactError, match=r"panel.parquet does not match its manifest; run 'nexus features --force'"):
        load_panel(copy)
