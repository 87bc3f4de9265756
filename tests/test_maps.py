"""Maps of an index by unit: a choropleth on a boundary file the test makes, and points."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from sipas.errors import ReadError, SpecError
from sipas.report.maps import index_map, read_boundaries

TABLE = pd.DataFrame({"commune": [101, 102, 201], "estimate": [0.81, 0.74, 0.90],
                      "flag": ["", "", "df<8"]})


def squares(path, codes=(101, 102, 201)):
    """A GeoJSON of unit squares side by side, one per code (the last with a hole)."""
    feats = []
    for i, code in enumerate(codes):
        ring = [[i, 0], [i + 1, 0], [i + 1, 1], [i, 1], [i, 0]]
        rings = [ring, [[i + .4, .4], [i + .6, .4], [i + .6, .6], [i + .4, .6], [i + .4, .4]]] \
            if i == len(codes) - 1 else [ring]
        feats.append({"type": "Feature", "properties": {"ma_xa": code},
                      "geometry": {"type": "Polygon", "coordinates": rings}})
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}),
                    encoding="utf-8")
    return path


def test_choropleth_fills_by_index_and_hatches_flagged_units(tmp_path):
    fig = index_map(TABLE, "commune", boundaries=squares(tmp_path / "x.geojson"),
                    boundary_key="ma_xa", lang="en")
    patches = fig.axes[0].patches
    assert len(patches) == 3
    assert [p.get_hatch() for p in patches] == [None, None, "///"]
    assert patches[0].get_facecolor() != patches[1].get_facecolor()
    assert patches[2].get_facecolor()[:3] == (1.0, 1.0, 1.0)
    assert len(patches[2].get_path().codes) == 10          # the hole is kept
    texts = [t.get_text() for t in fig.findobj(lambda o: hasattr(o, "get_text"))]
    assert "hatched / hollow: reliability flag (see the table)" in texts


def test_points_are_hollow_where_a_rule_fired():
    where = pd.DataFrame({"commune": [101, 102, 201], "lon": [106.1, 106.2, 106.3],
                          "lat": [22.6, 22.7, 22.8]})
    fig = index_map(TABLE, "commune", points=where)
    dots = fig.axes[0].collections[0]
    assert dots.get_facecolors()[2][3] == 0 and dots.get_facecolors()[0][3] == 1


def test_bad_map_inputs(tmp_path):
    with pytest.raises(SpecError, match="no boundaries for unit"):
        index_map(TABLE, "commune", boundaries=squares(tmp_path / "y.geojson", (101, 102)),
                  boundary_key="ma_xa")
    with pytest.raises(ReadError, match="has no property 'code'"):
        read_boundaries(squares(tmp_path / "z.geojson"), "code")
    with pytest.raises(SpecError, match="one of the two"):
        index_map(TABLE, "commune")
