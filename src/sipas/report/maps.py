"""Indices on a map: a choropleth from boundaries the user supplies, or points at coordinates.

A province or commune table (one row per unit: ``estimate``, ``flag``) is drawn either on
boundaries (GeoJSON read here with shapely; a shapefile or any other format through
geopandas, the optional ``maps`` extra), each unit filled by its index and hatched and
unfilled where a reliability rule fired, or as points at the units' coordinates (a table with
the unit key, ``lon`` and ``lat``), coloured by the index and hollow where a rule fired.

Examples
--------
>>> import pandas as pd
>>> table = pd.DataFrame({"commune": [1, 2], "estimate": [0.8, 0.7], "flag": ["", "n<30"]})
>>> where = pd.DataFrame({"commune": [1, 2], "lon": [106.2, 106.3], "lat": [22.6, 22.7]})
>>> fig = index_map(table, "commune", points=where)
>>> len(fig.axes[0].collections[0].get_offsets())
2
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch
from matplotlib.path import Path as MplPath

from sipas.errors import ReadError, SpecError
from sipas.report.plots import MUTED, _figure, _finish

__all__ = ["index_map", "read_boundaries"]

TITLE = {"vi": "Chỉ số hài lòng theo đơn vị", "en": "Satisfaction index by unit"}
HOLLOW = {"vi": "gạch chéo / rỗng: cảnh báo độ tin cậy (xem bảng)",
          "en": "hatched / hollow: reliability flag (see the table)"}


def read_boundaries(path: str | Path, key: str) -> dict[Any, Any]:
    """Unit key -> shapely geometry, from a GeoJSON file (or any file geopandas reads).

    Parameters
    ----------
    path : str or Path
        ``.geojson`` / ``.json`` (read with shapely), or a shapefile or another format
        (read with geopandas: ``pip install geopandas``).
    key : str
        The feature property holding the unit's code or name (as in the table).

    Returns
    -------
    dict

    Raises
    ------
    ReadError
        The file is missing or not a feature collection; a feature lacks ``key``; geopandas
        is needed but not installed.
    """
    from shapely.geometry import shape

    path = Path(path)
    if not path.is_file():
        raise ReadError(f"boundary file {str(path)!r} does not exist. Check the path.")
    if path.suffix.lower() in (".geojson", ".json"):
        try:
            features = json.loads(path.read_text(encoding="utf-8"))["features"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ReadError(f"{path.name}: not a GeoJSON feature collection ({exc}).") from None
        out = {}
        for i, feat in enumerate(features):
            props = feat.get("properties") or {}
            if key not in props:
                raise ReadError(f"{path.name}: feature {i + 1} has no property {key!r}; "
                                f"it has {sorted(props)}.")
            out[props[key]] = shape(feat["geometry"])
        return out
    try:
        import geopandas
    except ImportError:
        raise ReadError(f"{path.name}: reading {path.suffix} boundaries needs geopandas "
                        "(pip install geopandas), or convert the file to GeoJSON.") from None
    frame = geopandas.read_file(path)
    if key not in frame.columns:
        raise ReadError(f"{path.name}: no column {key!r}; it has {list(frame.columns)}.")
    return dict(zip(frame[key], frame.geometry))


def index_map(table: pd.DataFrame, key: str, *, boundaries: str | Path | Mapping | None = None,
              boundary_key: str | None = None, points: pd.DataFrame | None = None,
              value: str = "estimate", lang: str = "vi", title: str | None = None,
              synthetic: bool = False,
                 caption: str = "") -> Figure:
    """Map of an index by unit: a choropleth on ``boundaries`` or points at ``points``.

    Parameters
    ----------
    table : DataFrame
        One row per unit: ``key``, ``value`` (shares in [0, 1] are shown as %) and
        ``flag`` (non-empty: a reliability rule fired).
    key : str
        The unit column of ``table``.
    boundaries : path or mapping, optional
        A boundary file (see :func:`read_boundaries`) or a mapping key -> geometry.
    boundary_key : str, optional
        The feature property matching ``table[key]`` (default ``key``).
    points : DataFrame, optional
        ``key``, ``lon``, ``lat`` of each unit (e.g. from an administrative-units registry).
    value : str
        The column drawn.
    lang : {"vi", "en"}
    title : str, optional
    synthetic : bool
        Print the synthetic-data footer.
    caption : str
        Survey, year and source (:func:`sipas.report.plots.caption_text`); default the sipas
        version only.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    SpecError
        Neither or both of ``boundaries`` and ``points``; units of ``table`` with no
        boundary or no coordinates (the message lists them).
    """
    if (boundaries is None) == (points is None):
        raise SpecError("index_map needs boundaries= (a choropleth) or points= (coordinates), "
                        "one of the two.")
    rows = table.set_index(key)
    shares = bool(rows[value].dropna().between(0, 1).all())
    values = rows[value].astype(float) * (100 if shares else 1)
    flagged = rows.get("flag", pd.Series("", index=rows.index)).fillna("").astype(str) != ""
    norm = Normalize(float(np.nanmin(values)), float(np.nanmax(values)))
    cmap = colormaps["Blues"]
    fig = _figure(7.5, 6.5)
    ax = fig.add_subplot()
    if points is not None:
        where = points.set_index(key).reindex(rows.index)
        _check_all(where["lon"].isna(), rows.index, "coordinates")
        colours = cmap(norm(values.to_numpy()))
        faces = np.where(flagged.to_numpy()[:, None], np.array([[1, 1, 1, 0]]), colours)
        ax.scatter(where["lon"], where["lat"], s=140, c=faces, edgecolors=colours,
                   linewidths=2)
    else:
        if boundaries is None:
            raise ValueError("boundaries are needed for a choropleth")
        shapes = boundaries if isinstance(boundaries, Mapping) else \
            read_boundaries(boundaries, boundary_key or key)
        missing = pd.Series([k not in shapes for k in rows.index], index=rows.index)
        _check_all(missing, rows.index, "boundaries")
        for unit, geom in shapes.items():
            known = unit in rows.index and not np.isnan(values.get(unit, np.nan))
            colour = cmap(norm(values[unit])) if known else (0.93, 0.93, 0.93, 1)
            hollow = known and bool(flagged[unit])
            ax.add_patch(PathPatch(_path(geom), facecolor="white" if hollow else colour,
                                   edgecolor=colour if hollow else MUTED,
                                   hatch="///" if hollow else None, linewidth=0.8))
        ax.autoscale_view()
    ax.set_aspect("equal")
    ax.set_axis_off()
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.7)
    bar.set_label("%" if shares else value)
    ax.set_title(title or TITLE[lang], loc="left", fontsize=11)
    return _finish(fig, synthetic, caption, HOLLOW[lang] if flagged.any() else "")


def _check_all(missing: pd.Series, units: pd.Index, what: str) -> None:
    lost = [u for u, m in zip(units, missing) if m]
    if lost:
        raise SpecError(f"index_map: no {what} for unit(s) {lost[:10]}; every unit of the "
                        f"table needs {what}.")


def _path(geom: Any) -> MplPath:
    """A (multi)polygon as one matplotlib path, holes included."""
    polygons = getattr(geom, "geoms", [geom])
    verts, codes = [], []
    for poly in polygons:
        for ring in (poly.exterior, *poly.interiors):
            xy = np.asarray(ring.coords)
            verts.append(xy)
            codes += [MplPath.MOVETO] + [MplPath.LINETO] * (len(xy) - 2) + [MplPath.CLOSEPOLY]
    return MplPath(np.concatenate(verts), codes)
