"""One missing code of several kinds (``9 = "Không biết / Không áp dụng"``).

The bundled demo codes "not applicable" as 9. Re-declared as ``dont_know = [8, 9]`` and
``not_applicable = [9]`` (9 means either), every answer 9 must get the combined kind
``dont_know_or_not_applicable``, counted once: its share equals the demo's share of
``not_applicable``, the share of ``dont_know`` (code 8) is unchanged, and the estimates and
reliability do not move (9 is missing either way). Reports and ``sipas init`` name it.
"""

from __future__ import annotations

import tomllib

import numpy as np
import pandas as pd
import pyreadstat
import pytest

import sipas
from sipas.datasets import demo_path, load_demo
from sipas.describe import codebook, distributions
from sipas.indices.psychometrics import factor_reliability
from sipas.report.tables import TableContext, publication_table
from sipas.spec import parse_spec
from sipas.starter import starter

BOTH = "dont_know_or_not_applicable"


def demo_spec(**missing):
    """The bundled demo spec with its [missing] table replaced."""
    import importlib.resources

    path = importlib.resources.files("sipas.datasets") / "specs" / "demo.toml"
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    raw["missing"] = missing
    return parse_spec(raw, source=str(path))


@pytest.fixture(scope="module")
def both():
    spec = demo_spec(refused=[7], dont_know=[8, 9], not_applicable=[9], not_asked=[99])
    return sipas.read_survey(demo_path(), spec)


@pytest.fixture(scope="module")
def demo():
    return load_demo()


def test_the_spec_gives_the_code_the_combined_kind(both):
    spec = both.spec
    assert spec.missing_kinds("q08") == {7: "refused", 8: "dont_know", 9: BOTH,
                                         99: "not_asked"}
    assert spec.missing_kind_names[-1] == BOTH
    assert spec.missing_codes("q08")["not_applicable"] == (9,)


def test_reading_counts_each_answer_once_under_the_combined_kind(both, demo):
    raw, _ = pyreadstat.read_sav(str(demo_path()))
    kinds = both.missing["q08"].astype("object")
    assert int((kinds == BOTH).sum()) == int((raw["q08"] == 9).sum()) > 0
    assert int((kinds == "dont_know").sum()) == int((raw["q08"] == 8).sum())
    assert not (kinds == "not_applicable").any()
    assert both.meta.missing_counts["q08"][BOTH] == int((raw["q08"] == 9).sum())
    pd.testing.assert_frame_equal(both.frame, demo.frame)   # 9 is missing either way


def test_describe_names_the_combined_kind(both):
    book = codebook(both).set_index("variable")
    assert f"{BOTH}=" in book.loc["q08", "missing_by_kind"]
    dist = distributions(both, "q08", lang="en")
    row = dist[dist["code"] == BOTH]
    assert row["label"].item() == "(missing: Don't know / Not applicable)"
    vi = distributions(both, "q08", lang="vi")
    assert vi.loc[vi["code"] == BOTH, "label"].item() == "(thiếu: Không biết / Không áp dụng)"


def test_item_shares_have_one_column_for_the_combined_kind(both, demo):
    d_both = sipas.Design.from_spec(both).subset(both.frame["response"] == 1)
    d_demo = sipas.Design.from_spec(demo).subset(demo.frame["response"] == 1)
    got = sipas.satisfaction_index(d_both, both.spec, missing_kinds=both.missing).items
    ref = sipas.satisfaction_index(d_demo, demo.spec, missing_kinds=demo.missing).items
    np.testing.assert_allclose(got[f"share_{BOTH}"], ref["share_not_applicable"], atol=1e-15)
    np.testing.assert_allclose(got["share_dont_know"], ref["share_dont_know"], atol=1e-15)
    assert (got["share_not_applicable"] == 0).all()
    np.testing.assert_allclose(got["estimate"], ref["estimate"], rtol=1e-14)
    # reliability treats the code as missing, as before
    pd.testing.assert_frame_equal(factor_reliability(d_both, both.spec),
                                  factor_reliability(d_demo, demo.spec))
    # the publication table names it in each language, as a percentage
    for lang, header in (("vi", "Không biết / Không áp dụng"),
                         ("en", "Don't know / Not applicable")):
        pub = publication_table("index_items", got, TableContext(lang=lang))
        assert header in pub.frame.columns
        assert (pub.kinds[header] == "percent").all()


def test_init_lists_a_code_labelled_with_two_kinds_under_both(tmp_path):
    frame = pd.DataFrame({"id": np.arange(1.0, 9.0), "q1": [1.0, 2, 3, 9, 2, 1, 9, 3],
                          "q2": [3.0, 3, 9, 1, 2, 2, 1, 7]})
    labels = {1: "Không hài lòng", 2: "Bình thường", 3: "Hài lòng", 7: "Từ chối",
              9: "Không biết / Không áp dụng"}
    pyreadstat.write_sav(frame, str(tmp_path / "s.sav"),
                         variable_value_labels={"q1": labels, "q2": labels},
                         column_labels={"id": "Mã phiếu", "q1": "Câu 1", "q2": "Câu 2"})
    start = starter(tmp_path / "s.sav")
    assert 'code 9 ("Không biết / Không áp dụng") means dont_know or not_applicable' \
        in start.spec_text
    spec = parse_spec(tomllib.loads(start.spec_text))
    assert spec.missing_kinds("q1") == {7: "refused", 9: BOTH}
    data = sipas.read_survey(tmp_path / "s.sav", spec)
    assert data.meta.missing_counts["q1"] == {BOTH: 2}


def test_an_item_cannot_add_a_second_kind_to_a_survey_code():
    raw = {"survey": {"name": "t", "respondent_id": "id"},
           "scales": {"s": {"codes": [1, 2], "satisfied": [1]}},
           "missing": {"dont_know": [9]},
           "items": [{"name": "q1", "scale": "s", "missing": {"not_applicable": [9]}}]}
    with pytest.raises(sipas.SpecError, match="list it under both kinds in one table"):
        parse_spec(raw)
    raw["items"][0]["missing"] = {"dont_know": [9], "not_applicable": [9]}
    assert parse_spec(raw).missing_kinds("q1") == {9: BOTH}
