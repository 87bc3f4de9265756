"""Bundled demo survey (sipas.datasets): reproducible from its seed, and plainly synthetic.

The reference for the regenerated files is the bundled copy in src/sipas/datasets/data,
written by ``python -m sipas.datasets.generate src/sipas/datasets/data`` with pyreadstat
``generate.PYREADSTAT_VERSION``; the counts are recomputed from the raw file with pyreadstat,
independently of sipas.io.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest

import sipas
from sipas.datasets import SYNTHETIC_NOTICE, demo_path, demo_spec, generate, load_demo

DATA = Path(str(resources.files("sipas.datasets") / "data"))
MARGINS = ["sex", "age_group", "ethnicity", "district"]


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    written = generate.write_demo(out)
    return out, written


@pytest.fixture(scope="module")
def demo():
    return load_demo()


def test_regenerating_with_the_default_seed_reproduces_the_bundled_files(regenerated):
    out, written = regenerated
    assert sorted(p.name for p in written) == sorted(
        ["demo.sav", *(f"demo_margins_{m}.csv" for m in MARGINS)])
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in written)  # no temp
    for name in (f"demo_margins_{m}.csv" for m in MARGINS):
        assert (out / name).read_bytes() == (DATA / name).read_bytes(), name
    if pyreadstat.__version__ == generate.PYREADSTAT_VERSION:
        assert (out / "demo.sav").read_bytes() == (DATA / "demo.sav").read_bytes()
    else:  # another writer version may lay the file out differently: compare the content
        new, new_meta = pyreadstat.read_sav(str(out / "demo.sav"), user_missing=True)
        old, old_meta = pyreadstat.read_sav(str(DATA / "demo.sav"), user_missing=True)
        pd.testing.assert_frame_equal(new, old)
        assert new_meta.column_names_to_labels == old_meta.column_names_to_labels
        assert new_meta.variable_value_labels == old_meta.variable_value_labels
        assert new_meta.missing_ranges == old_meta.missing_ranges


def test_another_seed_gives_other_data():
    a, _ = generate.demo_tables(generate.SEED)
    b, _ = generate.demo_tables(generate.SEED + 1)
    assert a.shape == b.shape
    assert not a["q01"].equals(b["q01"])


def test_the_data_say_they_are_synthetic(demo):
    _, meta = pyreadstat.read_sav(str(demo_path()), metadataonly=True)
    assert "SYNTHETIC" in meta.file_label
    assert "SYNTHETIC" in meta.notes[0]
    assert "GIẢ LẬP" in meta.column_names_to_labels["resp_id"]
    assert demo.spec.synthetic is True
    assert "SYNTHETIC" in demo.spec.title["en"]
    assert "GIẢ LẬP" in demo.spec.title["vi"]
    assert "Synthetic" in SYNTHETIC_NOTICE
    assert "giả lập" in SYNTHETIC_NOTICE


def test_five_factors_of_twenty_two_satisfaction_items(demo):
    spec = demo.spec
    assert len(spec.factors) == 5
    in_factors = [i for f in spec.factors for i in f.items]
    assert len(in_factors) == 22 == len(set(in_factors))
    assert all(spec.item(i).kind == "satisfaction" for i in in_factors)
    assert spec.overall_item not in in_factors
    assert [len(f.items) for f in spec.factors] == [4, 5, 5, 4, 4]


def test_demo_file_is_small_and_complete(demo):
    assert demo_path().stat().st_size < 2 * 1024 * 1024
    n = (generate.COMMUNES_PER_DISTRICT * generate.USERS_PER_COMMUNE * len(generate.DISTRICTS))
    assert demo.meta.n_rows == n == 800
    assert demo.frame["resp_id"].is_unique
    raw, _ = pyreadstat.read_sav(str(demo_path()))
    assert set(demo.spec.item_names) <= set(raw.columns)


def test_design_weights_follow_the_two_stage_sample(demo):
    f = demo.frame
    expected = (f["N_communes"] / generate.COMMUNES_PER_DISTRICT
                * f["N_users"] / generate.USERS_PER_COMMUNE)
    pd.testing.assert_series_equal(f["w_design"], expected, check_names=False)
    assert (f.groupby("district")["commune"].nunique() == generate.COMMUNES_PER_DISTRICT).all()


def test_margins_sum_to_one_population_total(demo):
    totals = {m: pd.read_csv(DATA / f"demo_margins_{m}.csv")["population"].sum()
              for m in MARGINS}
    assert len(set(totals.values())) == 1, totals
    for m in MARGINS:
        assert sum(demo.spec.margin(m).targets.values()) == totals[m]
    assert set(demo.spec.margin("district").targets) == {(d,) for d, *_ in generate.DISTRICTS}


def test_codes_carried_only_as_value_labels_are_honoured(demo):
    """9 (not applicable) and 99 (not asked) are not declared user-missing in the file."""
    raw, meta = pyreadstat.read_sav(str(demo_path()), user_missing=True)
    assert meta.missing_ranges["q08"] == [{"lo": 8.0, "hi": 8.0}]
    assert meta.variable_value_labels["q08"][9] == "Không áp dụng"
    counts = demo.meta.missing_counts
    assert counts["q08"]["not_applicable"] == int((raw["q08"] == 9).sum()) > 0
    assert counts["p02"]["not_asked"] == int((raw["p02"] == 99).sum()) > 0
    assert counts["q23"]["refused"] == int((raw["q23"] == 7).sum()) > 0
    assert counts["q05"]["dont_know"] == int((raw["q05"] == 8).sum()) > 0
    assert counts["q01"]["system"] == int((raw["response"] != 1).sum())


def test_demo_spec_and_load_demo_agree():
    assert demo_spec() == sipas.load_spec("demo")
    assert load_demo().spec == demo_spec()
