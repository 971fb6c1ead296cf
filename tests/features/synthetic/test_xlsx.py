"""The synthetic workbooks: cells as given (no string read as a formula or URL), blanks empty, and the
same tables give the same file bytes."""

import pandas as pd

from features.synthetic.files import _write_xlsx

FRAME = pd.DataFrame({"name": ["Zustune", "A & B <c>", "=1+1", "http://x.example"],
                      "year": [2000, 2024, 2001, 2002], "score": [-0.0337, 50.0, 1 / 3, None],
                      "note": [None, "  padded ", "..", "007"]})


def test_cells_read_back_as_written_with_titles_above(tmp_path):
    path = tmp_path / "book.xlsx"
    _write_xlsx(path, {"Data": FRAME, "Second": FRAME.head(1)}, title_rows=2)
    for engine in ("calamine", "openpyxl"):
        back = pd.read_excel(path, sheet_name=None, header=2, engine=engine)
        assert list(back) == ["Data", "Second"]
        pd.testing.assert_frame_equal(back["Data"], FRAME, check_dtype=False)
        titles = pd.read_excel(path, sheet_name="Data", header=None, nrows=1, engine=engine)
        assert titles.iloc[0, 0] == "Data (synthetic world; fictional countries)"


def test_same_tables_same_file_bytes(tmp_path):
    _write_xlsx(tmp_path / "a.xlsx", {"S": FRAME})
    _write_xlsx(tmp_path / "b.xlsx", {"S": FRAME})
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()
