"""Maps in the pipeline (``[maps]``): the point map at the units' coordinates from the units
package, and a choropleth on a boundary file made here (when geopandas is installed).

The survey is the bundled SYNTHETIC 2026 demo with one column added, ``xa``: the twelve
sampled communes renamed after twelve real communes and wards of Cao Bằng (new era), so that
the units package can place them. The estimates stay synthetic.
"""

from __future__ import annotations

import importlib.util
import json
import sys

import docx
import pytest

import sipas
from sipas.cli import main
from sipas.datasets import load_demo2026
from sipas.pipeline import load_pipeline, run, validate, write
from sipas.report import plots
from sipas.units import communes

HAS_GEOPANDAS = importlib.util.find_spec("geopandas") is not None
PIPELINE = """[pipeline]
name = "maps"

[input]
data = "data.csv"
spec = "demo2026"

[[weighting.steps]]
method = "nonresponse"
status = "response"
respondent = [1]
nonrespondent = [2]
classes = ["commune_type"]

[indices]
by = ["xa"]

[maps]
by = "xa"
province = "Cao Bằng"
{extra}
[report]
formats = ["png", "docx"]
"""


def unit_names():
    return communes("new", province="Cao Bằng").head(12)


def make_survey(folder, extra="", rename=None):
    """data.csv (the demo with the ``xa`` column) and pipeline.toml in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = load_demo2026().frame
    names = dict(zip(sorted(frame["commune"].unique()), unit_names()["full_name"]))
    names.update(rename or {})
    frame.assign(xa=frame["commune"].map(names)).to_csv(folder / "data.csv", index=False)
    (folder / "pipeline.toml").write_text(PIPELINE.format(extra=extra), encoding="utf-8")
    return folder / "pipeline.toml"


def squares(path, units, prop="ten", half=0.02):
    """A GeoJSON of a square around each unit (named without its type), and one more."""
    feats = [{"type": "Feature", "properties": {prop: name},
              "geometry": {"type": "Polygon", "coordinates": [[
                  [lon - half, lat - half], [lon + half, lat - half], [lon + half, lat + half],
                  [lon - half, lat + half], [lon - half, lat - half]]]}}
             for name, lon, lat in zip(units["name"], units["lon"], units["lat"])]
    feats.append({"type": "Feature", "properties": {prop: "Somewhere else"},
                  "geometry": {"type": "Polygon", "coordinates": [[
                      [106.5, 22.0], [106.6, 22.0], [106.6, 22.1], [106.5, 22.0]]]}})
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}),
                    encoding="utf-8")


@pytest.fixture(scope="module")
def points_run(tmp_path_factory):
    """The point-map run, with every figure kept."""
    base = tmp_path_factory.mktemp("maps")
    pipeline = load_pipeline(make_survey(base / "job"))
    figures = {}
    save = plots.save_figure

    def keep(fig, stem, formats=("png", "svg"), dpi=150):
        figures[stem.name] = fig
        return save(fig, stem, formats, dpi)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(plots, "save_figure", keep)
        result = run(pipeline)
        out = write(result, base / "out")
    return result, out, figures


def test_the_run_draws_the_units_at_their_coordinates(points_run):
    result, out, figures = points_run
    units = result.results["map_units"]
    registry = unit_names().set_index("full_name")
    assert set(units["full_name"]) == set(registry.index)
    for _, row in units.iterrows():
        assert (row["lat"], row["lon"]) == (registry.loc[row["full_name"], "lat"],
                                            registry.loc[row["full_name"], "lon"])
    fig = figures["map_xa"]
    dots = fig.axes[0].collections[0].get_offsets()
    estimates = result.tables["index_by_xa"].query("index_level == 'overall'")
    assert len(dots) == estimates["estimate"].notna().sum() == 12
    assert {(round(x, 4), round(y, 4)) for x, y in dots} == \
        {(round(x, 4), round(y, 4)) for x, y in zip(units["lon"], units["lat"])}
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert set(units["name"]) <= set(texts)            # each point is named
    caption = next(t.get_text() for t in fig.texts if t.get_gid() == "caption")
    assert "2026" in caption and "Nguồn:" in caption
    # the chart is in the charts folder and the Word report
    pngs = sorted((out / "charts").glob("*.png"))
    assert out / "charts" / "map_xa.png" in pngs
    assert len(docx.Document(str(out / "sipas-report.docx")).inline_shapes) == len(pngs)
    assert not (out / "charts" / "map_xa_boundaries.png").exists()


def test_validate_locates_the_units(points_run):
    checked = validate(points_run[0].pipeline)
    assert "map units (12 communes located)" in checked


def test_a_name_that_is_no_unit_is_a_clear_error(tmp_path):
    first = sorted(load_demo2026().frame["commune"].unique())[0]
    path = make_survey(tmp_path, rename={first: "Xã Không Có Thật"})
    with pytest.raises(sipas.UnitError, match="'Xã Không Có Thật' matches no unit; it must "
                                             "be a commune of the new era in 'Cao Bằng'"):
        validate(load_pipeline(path))


def test_maps_by_must_be_a_domain_of_the_indices(tmp_path):
    path = make_survey(tmp_path)
    path.write_text(path.read_text("utf-8").replace('by = "xa"', 'by = "commune"'), "utf-8")
    with pytest.raises(sipas.SpecError, match=r"\[maps\].*by.*one of \[indices\] by"):
        load_pipeline(path)


def test_boundaries_without_geopandas_say_to_install_the_maps_extra(tmp_path, monkeypatch,
                                                                    capsys):
    squares(tmp_path / "xa.geojson", unit_names())
    path = make_survey(tmp_path, extra='boundaries = "xa.geojson"\nboundary_key = "ten"\n')
    monkeypatch.setitem(sys.modules, "geopandas", None)    # as if it were not installed
    with pytest.raises(sipas.SpecError) as info:
        load_pipeline(path)
    message = str(info.value)
    assert "\n" not in message
    assert "boundaries = 'xa.geojson' needs geopandas" in message
    assert 'pip install "sipas[maps]"' in message
    assert main(["validate", str(path)]) == 2
    assert "sipas[maps]" in capsys.readouterr().err


@pytest.mark.skipif(not HAS_GEOPANDAS, reason="geopandas (the maps extra) is not installed")
def test_the_run_draws_a_choropleth_on_the_boundaries(tmp_path):
    units = unit_names()
    (tmp_path / "job").mkdir()
    squares(tmp_path / "job" / "xa.geojson", units)
    path = make_survey(tmp_path / "job",
                       extra='boundaries = "xa.geojson"\nboundary_key = "ten"\n')
    figures = {}

    def keep(fig, stem, formats=("png", "svg"), dpi=150):
        figures[stem.name] = fig
        return []

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(plots, "save_figure", keep)
        result = run(load_pipeline(path))
        write(result, tmp_path / "out")
    ax = figures["map_xa_boundaries"].axes[0]
    assert len(ax.patches) == len(units) + 1                 # every unit, and the context
    overall = result.tables["index_by_xa"].query("index_level == 'overall'")
    flagged = (overall["flag"].fillna("") != "").sum()
    assert sum(p.get_hatch() == "///" for p in ax.patches) == flagged
    grey = [p for p in ax.patches if p.get_facecolor()[:3] == (0.93, 0.93, 0.93)]
    assert len(grey) == 1                                     # "Somewhere else"


@pytest.mark.skipif(not HAS_GEOPANDAS, reason="geopandas (the maps extra) is not installed")
def test_a_unit_without_a_boundary_is_named(tmp_path):
    (tmp_path / "job").mkdir()
    squares(tmp_path / "job" / "xa.geojson", unit_names().head(11))
    path = make_survey(tmp_path / "job",
                       extra='boundaries = "xa.geojson"\nboundary_key = "ten"\n')
    with pytest.raises(sipas.SpecError, match=r"xa.geojson: no feature whose 'ten' names "
                                             r"unit\(s\) \['Xã"):
        write(run(load_pipeline(path)), tmp_path / "out")
