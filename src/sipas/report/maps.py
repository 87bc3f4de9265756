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
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch
from matplotlib.path import Path as MplPath

from sipas.errors import ReadError, SpecError
from sipas.report.plots import MUTED, _figure, _finish

__all__ = ["index_map", "match_boundaries", "read_boundaries"]

TITLE = {"vi": "Chỉ số hài lòng theo đơn vị", "en": "Satisfaction index by unit"}
HOLLOW = {"vi": "gạch chéo / rỗng: cảnh báo độ tin cậy (xem bảng)",
          "en": "hatched / hollow: reliability flag (see the table)"}
NO_VALUE = {"vi": "dấu × / màu xám: không có ước lượng (đã ẩn)",
            "en": "× / grey: no estimate (suppressed)"}
BAR = {"vi": ("Chỉ số (%)", "Chỉ số"), "en": ("Index (%)", "Index")}


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
    try:
        from shapely.geometry import shape
    except ImportError:
        raise ReadError(f"{Path(path).name}: reading boundaries needs shapely and geopandas: "
                        'install the maps extra (pip install "sipas[maps]").') from None

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
        raise ReadError(f"{path.name}: reading {path.suffix} boundaries needs geopandas: "
                        'install the maps extra (pip install "sipas[maps]"), or convert the '
                        "file to GeoJSON.") from None
    frame = geopandas.read_file(path)
    if key not in frame.columns:
        raise ReadError(f"{path.name}: no column {key!r}; it has {list(frame.columns)}.")
    return dict(zip(frame[key], frame.geometry))


def index_map(table: pd.DataFrame, key: str, *, boundaries: str | Path | Mapping | None = None,
              boundary_key: str | None = None, points: pd.DataFrame | None = None,
              value: str = "estimate", names: Mapping[Any, str] | None = None,
              lang: str = "vi", title: str | None = None, synthetic: bool = False,
              caption: str = "") -> Figure:
    """Map of an index by unit: a choropleth on ``boundaries`` or points at ``points``.

    Parameters
    ----------
    table : DataFrame
        One row per unit: ``key``, ``value`` (shares in [0, 1] are shown as %) and
        ``flag`` (non-empty: a reliability rule fired). A unit without a value (suppressed)
        is drawn grey (a cross on a point map).
    key : str
        The unit column of ``table``.
    boundaries : path or mapping, optional
        A boundary file (see :func:`read_boundaries`) or a mapping key -> geometry; shapes
        of other keys are drawn grey, as context.
    boundary_key : str, optional
        The feature property matching ``table[key]`` (default ``key``).
    points : DataFrame, optional
        ``key``, ``lon``, ``lat`` of each unit (e.g. :func:`sipas.units.locate`).
    value : str
        The column drawn.
    names : mapping, optional
        Unit key -> name written beside its point or in its shape (up to 60 units).
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
    known = values.notna().to_numpy()
    norm = Normalize(float(np.nanmin(values)), float(np.nanmax(values))) if known.any() \
        else Normalize(0, 1)
    # Blues without its near-white end: the lowest unit stays visible (and hollow units too)
    cmap = ListedColormap(colormaps["Blues"](np.linspace(0.3, 1.0, 256)))
    fig = _figure(7.5, 6.5)
    ax = fig.add_subplot()
    label_at: dict[Any, tuple[float, float]] = {}
    if points is not None:
        where = points.set_index(key).reindex(rows.index)
        _check_all(where["lon"].isna(), rows.index, "coordinates")
        colours = cmap(norm(values.fillna(0).to_numpy()))
        faces = np.where(flagged.to_numpy()[:, None], np.array([[1, 1, 1, 0]]), colours)
        ax.scatter(where["lon"][known], where["lat"][known], s=140, c=faces[known],
                   edgecolors=colours[known], linewidths=2)
        ax.scatter(where["lon"][~known], where["lat"][~known], s=60, marker="x", c=MUTED)
        label_at = {u: (float(x), float(y)) for u, x, y in zip(rows.index, where["lon"],
                                                               where["lat"])}
        ax.margins(0.12)
        _geographic_aspect(ax, where["lon"], where["lat"])
    else:
        if boundaries is None:
            raise ValueError("boundaries are needed for a choropleth")
        shapes = boundaries if isinstance(boundaries, Mapping) else \
            read_boundaries(boundaries, boundary_key or key)
        missing = pd.Series([k not in shapes for k in rows.index], index=rows.index)
        _check_all(missing, rows.index, "boundaries")
        for unit, geom in shapes.items():
            drawn = unit in rows.index and not np.isnan(values.get(unit, np.nan))
            colour = cmap(norm(values[unit])) if drawn else (0.93, 0.93, 0.93, 1)
            hollow = drawn and bool(flagged[unit])
            ax.add_patch(PathPatch(_path(geom), facecolor="white" if hollow else colour,
                                   edgecolor=colour if hollow else MUTED,
                                   hatch="///" if hollow else None, linewidth=0.8))
            if unit in rows.index:
                point = geom.representative_point()
                label_at[unit] = (float(point.x), float(point.y))
        ax.autoscale_view()
        x0, x1 = ax.get_xlim()
        y0, y1 = ax.get_ylim()
        _geographic_aspect(ax, pd.Series([x0, x1]), pd.Series([y0, y1]))
    if names and len(label_at) <= 60:
        for unit, (x, y) in label_at.items():
            ax.annotate(str(names.get(unit, unit)), (x, y), xytext=(0, 8 if points is not None
                                                                    else 0),
                        textcoords="offset points", ha="center", fontsize=7, color="#303030")
    ax.set_axis_off()
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.7)
    bar.set_label(BAR[lang][0 if shares else 1])
    ax.set_title(title or TITLE[lang], loc="left", fontsize=11)
    notes = [HOLLOW[lang]] if (flagged & values.notna()).any() else []
    if not known.all():
        notes.append(NO_VALUE[lang])
    return _finish(fig, synthetic, caption, "; ".join(notes))


def match_boundaries(shapes: Mapping[Any, Any], units: pd.DataFrame, *, source: str = "",
                     key: str = "") -> dict[Any, Any]:
    """Shapes keyed by unit code: each unit's feature found by its code or its name.

    Parameters
    ----------
    shapes : mapping
        Feature property value -> geometry (:func:`read_boundaries`).
    units : DataFrame
        ``code, name, full_name`` of the units (:func:`sipas.units.locate`).
    source, key : str
        The boundary file and property, for the message.

    Returns
    -------
    dict
        Unit code -> geometry for every unit; other features under ``("other", value)``
        (drawn grey, as context).

    Raises
    ------
    SpecError
        A unit that no feature names (the message lists them and some feature values).

    Examples
    --------
    >>> units = pd.DataFrame({"code": ["01654"], "name": ["Hòa An"],
    ...                       "full_name": ["Xã Hòa An"]})
    >>> match_boundaries({"XA HOA AN": "shape 1", 1273: "shape 2"}, units)
    {'01654': 'shape 1', ('other', 1273): 'shape 2'}
    """
    from sipas.units.registry import as_code, short_key, unit_key

    width = len(str(units["code"].iloc[0])) if len(units) else 5
    by_code = {str(c): str(c) for c in units["code"]}
    by_name = {}
    for code, name, full in zip(units["code"], units["name"], units["full_name"]):
        by_name[short_key(name)] = by_name[unit_key(full)] = str(code)
    out: dict[Any, Any] = {}
    for value, geom in shapes.items():
        code = by_code.get(as_code(value, width) or "") or by_name.get(unit_key(value)) \
            or by_name.get(short_key(value))
        out[code if code is not None else ("other", value)] = geom
    lost = [f"{f} ({c})" for c, f in zip(units["code"], units["full_name"])
            if str(c) not in out]
    if lost:
        seen = [str(v) for v in list(shapes)[:5]]
        raise SpecError(f"{source}: no feature whose {key!r} names unit(s) {lost[:10]} (by "
                        f"code or name); the features name e.g. {seen}. Check boundary_key, "
                        "or give a boundary file of the same units.")
    return out


def _geographic_aspect(ax: Any, x: pd.Series, y: pd.Series) -> None:
    """Equal distances in both directions: longitude degrees shrink by cos(latitude)
    (coordinates in degrees); projected coordinates keep an equal aspect."""
    if x.abs().max() <= 180 and y.abs().max() <= 90:
        ax.set_aspect(1 / np.cos(np.radians(float(y.mean()))))
    else:
        ax.set_aspect("equal")


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
