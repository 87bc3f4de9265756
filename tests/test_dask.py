"""The Dask back end gives the in-memory results (to 1e-12) on a distributed LocalCluster.

References: the in-memory engine on the same data (itself checked against R), and the R
oracle's cluster designs directly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sipas

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=3, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def demo(client):
    sd = sipas.datasets.load_demo()
    frame = sd.frame[sd.frame.response == 1].reset_index(drop=True)
    args = {"ids": "commune", "strata": "district", "weights": "w_design", "nest": True}
    return sd, sipas.Design(frame, **args), sipas.Design(dd.from_pandas(frame, npartitions=5),
                                                         **args)


def same(a: pd.DataFrame, b: pd.DataFrame, rtol: float = 1e-12) -> None:
    num = [c for c in a.select_dtypes("number").columns if c in b]
    np.testing.assert_allclose(b[num].to_numpy(float), a[num].to_numpy(float), rtol=rtol,
                               atol=1e-14, equal_nan=True)
    other = [c for c in a.columns if c not in num]
    assert a[other].astype(str).equals(b[other].astype(str))


@pytest.mark.parametrize("call", [
    lambda d: sipas.mean(d, ["p03", "q23"], by="urban"),
    lambda d: sipas.total(d, "p03", by="district"),
    lambda d: sipas.proportion(d, ["q01", "q02"], value=[4, 5], by="service"),
    lambda d: sipas.proportion(d, "p01", value=1, ci="beta"),
    lambda d: sipas.ratio(d, "q23", "p03", by="urban"),
    lambda d: sipas.factor_index(d, ["q01", "q02", "q03"], by="district"),
    lambda d: sipas.factor_index(d, ["q19", "q20"], aggregate="respondents", by="urban"),
], ids=["mean", "total", "proportion", "beta", "ratio", "index_items", "index_respondents"])
def test_estimators_equal_in_memory(demo, call):
    _, mem, dsk = demo
    same(call(mem).to_frame(), call(dsk).to_frame())


def test_satisfaction_index_equal_in_memory(demo):
    sd, mem, dsk = demo
    a, b = (sipas.satisfaction_index(d, sd.spec, by="district") for d in (mem, dsk))
    for table in ("items", "factors", "overall"):
        same(getattr(a, table), getattr(b, table))


def test_poststratify_and_rake_equal_in_memory(demo):
    sd, mem, dsk = demo
    pop = {k[0]: v for k, v in sd.spec.margin("district").targets.items()}
    for step in (lambda d: sipas.poststratify(d, "district", pop),
                 lambda d: sipas.rake(d, sd.spec.margins, tol=1e-12)):
        a, b = step(mem), step(dsk)
        same(sipas.mean(a, "p03", by="urban").to_frame(),
             sipas.mean(b, "p03", by="urban").to_frame(), rtol=1e-12)
        same(sipas.satisfaction_index(a, sd.spec).factors,
             sipas.satisfaction_index(b, sd.spec).factors, rtol=1e-12)
        achieved = pd.DataFrame(b.history[-1].summary["margins"])
        np.testing.assert_allclose(achieved["achieved"], achieved["target"], rtol=1e-9)


def test_replicates_generated_per_psu(demo):
    _, mem, dsk = demo
    for method, extra in (("jkn", {}), ("bootstrap", {"replicates": 60, "rng": 5})):
        a = sipas.replicate(mem, method, **extra)
        b = sipas.replicate(dsk, method, **extra)
        assert b._rep is None  # factors per PSU, never a weight per row and replicate
        same(sipas.mean(a, "p03", by="urban").to_frame(),
             sipas.mean(b, "p03", by="urban").to_frame())


@pytest.mark.parametrize("key", ["clus1", "clus2"])
def test_oracle_cluster_designs_on_dask(client, key):
    from oracle_cases import cases, close, dataset, expected

    chosen = [c for c in cases() if c["design_key"] == key and c["design"]["type"] == "taylor"
              and c["weighting"] is None and c["estimator"] in ("mean", "total")
              and isinstance(c["variable"], str)]
    assert chosen
    for case in chosen:
        spec = case["design"]
        frame = dd.from_pandas(dataset(case["dataset"]), npartitions=4)
        design = sipas.Design(frame, ids=spec["ids"], strata=spec["strata"],
                              weights=spec["weights"], fpc=spec["fpc"], nest=spec["nest"])
        fn = sipas.mean if case["estimator"] == "mean" else sipas.total
        by = case["domain"]["by"] if case["domain"] else None
        got = fn(design, case["variable"], by=by, df=case["options"]["df"]).to_frame()
        for i, row in expected(case).iterrows():
            for field in ("estimate", "se", "ci_low", "ci_high"):
                assert close(got[field].iloc[i], row[field]), (case["id"], field)


def test_partitioned_parquet(demo, tmp_path):
    sd, mem, _ = demo
    frame = mem.frame.copy()
    frame["resp_id"] = frame["resp_id"].astype(str)
    dd.from_pandas(frame, npartitions=4).to_parquet(tmp_path / "survey")
    design = sipas.Design(dd.read_parquet(tmp_path / "survey"), ids="commune",
                          strata="district", weights="w_design", nest=True)
    same(sipas.proportion(mem, "q05", value=[4, 5], by="urban").to_frame(),
         sipas.proportion(design, "q05", value=[4, 5], by="urban").to_frame())


def test_partitioned_csv(demo, tmp_path):
    """CSV files (one per partition) read by dask: string domain labels, int64 ids."""
    sd, mem, _ = demo
    frame = mem.frame[["commune", "district", "w_design", "q05", "p03", "urban"]]
    folder = tmp_path / "survey"
    folder.mkdir()
    for i, chunk in enumerate(np.array_split(np.arange(len(frame)), 3)):
        frame.iloc[chunk].to_csv(folder / f"part{i}.csv", index=False)
    design = sipas.Design(dd.read_csv(str(folder / "*.csv")), ids="commune",
                          strata="district", weights="w_design", nest=True)
    same(sipas.proportion(mem, "q05", value=[4, 5], by="district").to_frame(),
         sipas.proportion(design, "q05", value=[4, 5], by="district").to_frame())
    same(sipas.mean(mem, "p03", by="urban").to_frame(),
         sipas.mean(design, "p03", by="urban").to_frame())


def test_what_needs_rows_in_memory_says_so(demo):
    _, _, dsk = demo
    with pytest.raises(sipas.EstimationError, match="in memory"):
        sipas.quantile(dsk, "p03", 0.5)
    with pytest.raises(sipas.EstimationError, match="likelihood"):
        sipas.proportion(dsk, "p01", value=1, ci="likelihood")
    element = dd.from_pandas(pd.DataFrame({"w": [1.0, 2.0], "y": [1.0, 2.0]}), npartitions=1)
    with pytest.raises(sipas.DesignError, match="cluster ids"):
        sipas.Design(element, weights="w")


@pytest.mark.parametrize("dtype", ["int16", "int64", "uint8", "float64", "object"])
def test_key_index_lookup_equals_a_merge(dtype):
    from sipas.backends.keys import KeyIndex

    rng = np.random.default_rng(3)
    combos = pd.DataFrame({"h": rng.integers(5, 40, 60), "psu": rng.integers(10, 90, 60)})
    combos = combos.drop_duplicates().reset_index(drop=True).astype(dtype)
    keys = KeyIndex.build(combos)
    # ids listed, in range but not listed, below and above every listed id
    part = pd.DataFrame({"h": rng.integers(0, 50, 500), "psu": rng.integers(0, 100, 500)})
    part = pd.concat([part, combos]).astype(dtype).reset_index(drop=True)
    ref = part.merge(combos.reset_index(), how="left", on=["h", "psu"])["index"]
    np.testing.assert_array_equal(keys.get(part), ref.fillna(-1).to_numpy(np.int64))
    # one column: integer ids find their row through a single table
    ids = combos[["psu"]].drop_duplicates().reset_index(drop=True)
    one = KeyIndex.build(ids)
    ref = part[["psu"]].merge(ids.reset_index(), how="left", on="psu")["index"]
    np.testing.assert_array_equal(one.get(part), ref.fillna(-1).to_numpy(np.int64))


@pytest.mark.parametrize("dtype", ["int8", "int16", "uint16", "int64"])
@pytest.mark.parametrize("window", ["inside", "all"])
def test_key_index_one_column_and_relabel(dtype, window):
    """Single integer ids: the offset path (ids within the table, offsets in the column's
    own dtype, including int8 ids whose span does not fit int8) and the padded path (ids
    outside), before and after relabelling."""
    from sipas.backends.keys import KeyIndex

    rng = np.random.default_rng(5)
    low = -100 if dtype.startswith("int") else 0
    listed = np.unique(rng.integers(low, 120, 80)).astype(dtype)
    ids = pd.DataFrame({"psu": listed})
    keys = KeyIndex.build(ids)
    span = (low - 5, 126) if window == "all" else (int(listed.min()), int(listed.max()) + 1)
    part = pd.DataFrame({"psu": rng.integers(*span, 2000).astype(dtype)})
    ref = part.merge(ids.reset_index(), how="left", on="psu")["index"].fillna(-1)
    np.testing.assert_array_equal(keys.get(part), ref.to_numpy(np.int64))
    labels = rng.permutation(len(listed)) * 7
    expect = np.where(ref >= 0, labels[ref.clip(lower=0).astype(int)], -1)
    np.testing.assert_array_equal(keys.relabel(labels).get(part), expect)
    # an empty partition
    assert keys.get(part.iloc[:0]).shape == (0,)


@pytest.mark.parametrize("space", ["table", "hashed"])
def test_key_index_two_columns_relabel(space):
    from sipas.backends.keys import KeyIndex

    rng = np.random.default_rng(8)
    n = 60 if space == "table" else 5000  # 5000 x 5000 levels: above the dense table limit
    combos = pd.DataFrame({"h": rng.permutation(n), "psu": rng.permutation(n) * 3})
    keys = KeyIndex.build(combos)
    assert (keys.table is None) == (space == "hashed")
    part = pd.concat([combos.sample(300, replace=True, random_state=1),
                      pd.DataFrame({"h": [0, n + 1], "psu": [1, 0]})]).reset_index(drop=True)
    ref = part.merge(combos.reset_index(), how="left", on=["h", "psu"])["index"].fillna(-1)
    ref = ref.to_numpy(np.int64)
    labels = np.arange(len(combos))[::-1] + 10
    np.testing.assert_array_equal(keys.get(part), ref)
    np.testing.assert_array_equal(keys.relabel(labels).get(part),
                                  np.where(ref >= 0, labels[np.maximum(ref, 0)], -1))


def test_cluster_ids_repeated_across_strata(client):
    """PSU ids 1..k restart in every stratum (nest=True): a row's unit needs both columns,
    the two-column look-up relabelled to final and first-stage units; two stages."""
    rng = np.random.default_rng(11)
    rows = []
    for h in range(4):
        for psu in range(1, 4 + h):
            for ssu in range(1, 3):
                m = int(rng.integers(3, 9))
                rows.append(pd.DataFrame({"h": h, "psu": psu, "ssu": ssu,
                                          "w": rng.uniform(1, 4, m),
                                          "y": rng.normal(3, 1, m),
                                          "g": rng.integers(0, 3, m)}))
    frame = pd.concat(rows, ignore_index=True)
    args = {"ids": ["psu", "ssu"], "strata": "h", "weights": "w", "nest": True}
    mem = sipas.Design(frame, **args)
    dsk = sipas.Design(dd.from_pandas(frame, npartitions=4), **args)
    assert dsk.backend._layout.key_columns == ("h", "psu", "ssu")
    for call in (lambda d: sipas.mean(d, "y", by="g"),
                 lambda d: sipas.total(d, "y"),
                 lambda d: sipas.proportion(d, "g", value=[1, 2])):
        same(call(mem).to_frame(), call(dsk).to_frame())


def test_design_and_domains_without_a_shuffle(client, caplog):
    """The unit table and the domain labels are small: found by a tree of per-partition
    ``drop_duplicates``, not by dask's default split output, which shuffles every row
    between the workers and logs a warning per shuffle."""
    import logging

    frame = sipas.datasets.load_demo().frame
    frame = frame[frame.response == 1].reset_index(drop=True)
    log = logging.getLogger("distributed.shuffle")
    log.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger="distributed.shuffle"):
            d = sipas.Design(dd.from_pandas(frame, npartitions=6), ids="commune",
                             strata="district", weights="w_design", nest=True)
            est = sipas.proportion(d, "q01", value=[4, 5], by="district")
    finally:
        log.removeHandler(caplog.handler)
    assert not [r for r in caplog.records if "huffle" in r.getMessage()]
    assert est.to_frame()["district"].tolist() == sorted(frame["district"].unique())
