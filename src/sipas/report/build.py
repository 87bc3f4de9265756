"""The report of a pipeline run: disclosure control, then the workbook and the charts.

:func:`write_all` is what :func:`sipas.pipeline.write` calls after writing the CSV/Parquet
tables: it applies :mod:`sipas.report.disclosure` to every table, writes
``sipas-report.xlsx`` (when ``"xlsx"`` is among the report formats) and ``charts/*.png`` /
``charts/*.svg`` (when ``"png"`` / ``"svg"`` are).

Examples
--------
>>> sheet_order(["ranks_district", "index_by_district", "index_overall"])
['index_overall', 'index_by_district', 'ranks_district']
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sipas._validate import plain
from sipas.errors import SipasWarning
from sipas.report import par_charts, plots, word
from sipas.report.disclosure import check_not_microdata, protect_tables
from sipas.report.excel import write_workbook
from sipas.report.files import safe_filename
from sipas.report.methods import method_rows
from sipas.report.tables import Lang, TableContext, flag_notes, publication_table, title_of

__all__ = ["context", "domain_names", "notes", "sheet_order", "write_all", "write_charts",
           "write_report"]

WORKBOOK = "sipas-report.xlsx"
OVERALL_LABEL = {"vi": "Chỉ số hài lòng chung", "en": "Overall satisfaction index"}
MAP_TITLE = {"vi": "Chỉ số hài lòng chung theo {}", "en": "Overall satisfaction index by {}"}
ORDER = ("index_overall", "index_nodes", "index_factors", "index_items", "index_by_",
         "items_by_", "compare_",
         "ranks_", "small_area_by_", "small_area_model", "reliability", "weighting_steps",
         "weighting_margins", "reproduction",
         "reproduction_definitions", "reproduction_candidates", "published_consistency",
         "par_")


def write_all(result: Any, folder: Path, lang: Lang) -> list[Path]:
    """Write the workbook and charts of a run into ``folder``; return the files written.

    Parameters
    ----------
    result : sipas.pipeline.RunResult
    folder : Path
        The (temporary) output folder of the run.
    lang : {"vi", "en"}

    Returns
    -------
    list of Path
    """
    opts = result.pipeline.report
    spec = result.data.spec
    for name, table in result.tables.items():
        check_not_microdata(table, name, id_columns=[spec.respondent_id],
                            item_columns=spec.item_names)
    tables = protect_tables(result.tables, min_cell=opts.min_cell, mode=opts.suppression,
                            domains=[*result.pipeline.indices.by, *_area_column(result)])
    ctx = context(result, lang)
    written: list[Path] = []
    if "xlsx" in opts.formats:
        pubs = [publication_table(n, tables[n], ctx) for n in sheet_order(tables)]
        written.append(write_workbook(pubs, Path(folder) / WORKBOOK, notes=notes(result, lang),
                                      notice=_notice(spec, lang),
                                      notes_header=("Mục", "Nội dung") if lang == "vi"
                                      else ("Item", "Content")))
    formats = [f for f in ("png", "svg") if f in opts.formats]
    if formats:
        written += write_charts(result, tables, Path(folder) / "charts", ctx, formats)
    if "docx" in opts.formats:
        written.append(write_report(result, tables, Path(folder), ctx))
    return written


def write_report(result: Any, tables: Mapping[str, pd.DataFrame], folder: Path,
                 ctx: TableContext) -> Path:
    """The Word report: main tables, the PNG charts already in ``folder/charts``, methods."""
    spec, lang = result.data.spec, ctx.lang
    main = ["index_overall", "index_nodes" if "index_nodes" in tables else "index_factors",
            *(n for n in sheet_order(tables) if n.startswith("index_by_"))]
    pubs = [publication_table(n, tables[n], ctx, ci="text") for n in main if n in tables]
    for by in _area_column(result):  # the small-area table, narrowed to fit a page
        name = f"small_area_by_{by}"
        keep = [by, "n", "direct", "estimate", "ci_low", "ci_high", "model_share",
                "benchmarked"]
        pubs.append(publication_table(name, tables[name][[c for c in keep
                                                          if c in tables[name].columns]],
                                      ctx, ci="text"))
    charts = sorted((folder / "charts").glob("*.png")) if (folder / "charts").is_dir() else []
    index = result.results["index"]
    return word.write_word(
        folder / word.REPORT, title=spec.title.get(lang) or spec.name, lang=lang, tables=pubs,
        charts=charts, methods=word.methods_lines(result, lang),
        headline=word.headline_text(index.overall, ctx.names, lang, ctx.level,
                                    spec.index.measure != "mean"),
        synthetic=spec.synthetic, notice=_notice(spec, lang))


def sheet_order(names: Iterable[str]) -> list[str]:
    """Tables in report order: indices, domains, comparisons, ranks, quality, PAR, others."""
    names = list(names)

    def key(name: str) -> tuple[int, int]:
        for i, prefix in enumerate(ORDER):
            if name == prefix or (prefix.endswith("_") and name.startswith(prefix)):
                return i, names.index(name)
        return len(ORDER), names.index(name)

    return sorted(names, key=key)


def context(result: Any, lang: Lang) -> TableContext:
    """Labels, decimals and the index measure of a run, for its tables.

    Names of domain values (:func:`domain_names`) warn, once per column, where a report not
    in the data file's language has only the file's names to show.
    """
    spec = result.data.spec
    domains, coded = domain_names(result, lang)
    for column in coded:
        example = plain(next(iter(result.data.meta.value_labels[column])))
        warnings.warn(
            f"{lang} report: the values of column {column!r} are named only by the data "
            f"file's value labels, in {spec.language!r}; they are shown as codes "
            f"({column} {example}). Name them in the spec: [domains.labels.{column}] "
            f'{example} = {{ vi = "...", en = "..." }} (or one string, for a proper name).',
            SipasWarning, stacklevel=2)
    titles = _titles(result, lang)
    names: dict[str, Mapping[str, str]] = {it.name: it.label for it in spec.items}
    names.update({f.name: f.label for f in spec.factors})
    names["overall"] = OVERALL_LABEL
    names.update({n.name: n.label for n in spec.tree.nodes if n.label})
    return TableContext(lang=lang, decimals=result.pipeline.report.decimals,
                        measure=spec.index.measure, level=result.pipeline.indices.level,
                        domains=domains, domain_titles=titles, names=names)


def domain_names(result: Any, lang: Lang) -> tuple[dict[str, dict[Any, str]], list[str]]:
    """Column -> {code: name} of the domain and margin columns of a run, in ``lang``, and the
    columns whose file names could not be used.

    The spec's ``[domains.labels]`` win; the data file's value labels are used only in a
    report in the file's language (the spec's ``[survey] language``, Vietnamese by
    default), so an English workbook never shows Vietnamese names taken from a ``.sav``
    file. A code the file names but the spec does not is shown as ``"<column> <code>"``
    (``"district 3"``) in a report in another language.
    """
    data, spec = result.data, result.data.spec
    columns = [*result.pipeline.indices.by, *(v for m in spec.margins for v in m.variables)]
    own = lang == spec.language
    domains: dict[str, dict[Any, str]] = {}
    coded: list[str] = []
    for column in dict.fromkeys([*columns, *spec.domain_labels]):
        spec_names = {code: pair.get(lang) or pair["vi"]
                      for code, pair in spec.domain_labels.get(column, {}).items()}
        file_names = dict(data.meta.value_labels.get(column, {}))
        if not own:
            named = {plain(c) for c in spec_names}
            present = ({plain(v) for v in pd.unique(data.frame[column].dropna())}
                       if column in data.frame.columns else set())
            left = [c for c in file_names if plain(c) not in named and plain(c) in present]
            file_names = {c: f"{column} {plain(c)}" for c in left}
            if left:
                coded.append(column)
        domains[column] = {**file_names, **spec_names}   # the spec's names win
    return domains, coded


def _titles(result: Any, lang: Lang) -> dict[str, str]:
    """Header of each domain column: the file's variable label in its own language, else
    the column name."""
    data = result.data
    own = lang == data.spec.language
    return {c: (data.meta.variable_labels.get(c) or c) if own else c
            for c in result.pipeline.indices.by}


def _tree_chart(spec: Any, tables: Mapping[str, pd.DataFrame], ctx: TableContext,
                common: Mapping[str, Any]) -> Any:
    """Every node of the index tree with its interval, top down, indented by depth."""
    tree, nodes = spec.tree, tables["index_nodes"].set_index("name")
    top, *below = tree.top_down()
    rows = nodes.loc[below].reset_index()
    for lang in ("vi", "en"):
        rows[f"label_{lang}"] = ["· " * (d - 1) + str(v)
                                 for d, v in zip(rows["depth"], rows[f"label_{lang}"])]
    return plots.factor_chart(nodes.loc[[top]].reset_index(), rows, decimals=ctx.decimals,
                              level=ctx.level, tree=True, **common)


def _notice(spec: Any, lang: str) -> str:
    """The synthetic-data notice in ``lang`` (empty for real data)."""
    from sipas.datasets import SYNTHETIC_NOTICE

    if not spec.synthetic:
        return ""
    # the banner stays bilingual (a safety notice every reader must see); the sentence
    # after it is in the report's language
    return f"{plots.SYNTHETIC_FOOTER}. {SYNTHETIC_NOTICE.split(' / ')[lang == 'vi']}"


def notes(result: Any, lang: Lang) -> list[tuple[str, str]]:
    """Rows of the notes sheet: data, method, definition, intervals, flags, provenance."""
    i = 0 if lang == "vi" else 1
    pipe = result.pipeline
    rows = [(key[i], value) for key, value in (*_data_rows(result, i),
                                               *_method_rows(result, i))]
    rows += [(("Cảnh báo: ", "Flag: ")[i] + k, v)
             for k, v in flag_notes(pipe.rules, pipe.report.min_cell, lang)]
    ctx = TableContext(lang=lang, domain_titles=_titles(result, lang))
    rows += [(f"{('Trang', 'Sheet')[i]} {n}", title_of(n, ctx))
             for n in sheet_order(result.tables)]
    return rows


def _data_rows(result: Any, i: int) -> list[tuple[tuple[str, str], str]]:
    """Survey, data notice and provenance (file, SHA-256, spec, sipas version)."""
    from sipas._version import __version__

    data, spec = result.data, result.data.spec
    return [
        (("Khảo sát", "Survey"), spec.title.get(("vi", "en")[i]) or spec.name),
        (("Dữ liệu", "Data"), _notice(spec, ("vi", "en")[i])
         or ("dữ liệu khảo sát", "survey data")[i]),
        (("Tệp dữ liệu", "Input file"), Path(data.meta.source).name),
        (("SHA-256 tệp dữ liệu", "Input SHA-256"), data.meta.sha256),
        (("Số dòng", "Rows"), str(data.meta.n_rows)),
        (("Bảng hỏi (spec)", "Spec"), f"{spec.name} (SHA-256 {spec.sha256})"),
        (("Phiên bản sipas", "sipas version"), __version__),
    ]


def _method_rows(result: Any, i: int) -> list[tuple[tuple[str, str], str]]:
    """Variance method, df, weighting, index definition, intervals, presentation, SDC."""
    opts = result.pipeline.report
    return [
        *method_rows(result, i),
        (("Cách trình bày", "Presentation"),
         (f"tỷ lệ hiển thị dạng % với {opts.decimals} chữ số thập phân; điểm trung bình giữ "
          "thang đo của câu hỏi", f"shares shown as % with {opts.decimals} decimal(s); "
          "means stay on the answer scale")[i]),
        (("Bảo mật thống kê", "Disclosure control"),
         (f"ô có dưới {opts.min_cell} người trả lời bị ẩn; nếu trong một nhóm chỉ một ô bị "
          "ẩn thì ô nhỏ tiếp theo cũng bị ẩn (ẩn bổ sung)", f"cells with fewer than "
          f"{opts.min_cell} respondents are suppressed; if only one cell of a set of domains "
          "is suppressed, the next smallest is suppressed too")[i]),
    ]


def write_charts(result: Any, tables: Mapping[str, pd.DataFrame], folder: Path,
                 ctx: TableContext, formats: Sequence[str]) -> list[Path]:
    """Every chart of a run (see :mod:`sipas.report.plots`), from disclosure-checked tables."""
    spec, lang = result.data.spec, ctx.lang
    common: dict[str, Any] = {"lang": lang, "synthetic": bool(spec.synthetic),
                              "caption": caption(result, lang)}
    written = []
    if "index_factors" in tables and "index_overall" in tables:
        fig = plots.factor_chart(tables["index_overall"], tables["index_factors"],
                                 decimals=ctx.decimals, level=ctx.level, **common)
        written += plots.save_figure(fig, folder / "factors", formats)
    if "index_nodes" in tables:
        written += plots.save_figure(_tree_chart(spec, tables, ctx, common), folder / "tree",
                                     formats)
    reference = _reference(tables.get("index_overall"))
    for by in result.pipeline.indices.by:
        table = tables.get(f"index_by_{by}")
        if table is None:
            continue
        rows = table[table["index_level"] == "overall"]
        fig = plots.ranked_chart(rows, by, labels=ctx.domains.get(by), reference=reference,
                                 title=ctx.domain_titles.get(by, by), level=ctx.level,
                                 ranks=tables.get(f"ranks_{by}"), **common)
        written += plots.save_figure(fig, folder / safe_filename(f"ranked_{by}"), formats)
    items = _likert_items(spec)
    if items:
        dist = plots.item_distribution(result.design, spec, items, lang)
        fig = plots.distribution_chart(dist, **common)
        written += plots.save_figure(fig, folder / "items_distribution", formats)
    fig = plots.weights_chart(_base_weights(result), result.design.weight_array, **common)
    written += plots.save_figure(fig, folder / "weights", formats)
    written += _driver_charts(tables, folder, formats, ctx.level, common)
    for by in _area_column(result):
        from sipas.report.area_charts import area_chart

        variable = str(result.results["small_area"].variable)
        fig = area_chart(tables[f"small_area_by_{by}"], by, labels=ctx.domains.get(by),
                         title=ctx.domain_titles.get(by, by),
                         name=ctx.names.get(variable, {}).get(lang, variable),
                         level=ctx.level, **common)
        written += plots.save_figure(fig, folder / safe_filename(f"small_area_{by}"), formats)
    written += _map_charts(result, tables, folder, formats, ctx, common)
    par = _par_table(tables)
    if par is not None:
        if f"label_{lang}" in par.columns:
            par = par.assign(area=par["area"].astype(str) + " " + par[f"label_{lang}"].astype(str))
        province = result.pipeline.par.get("province")
        totals = tables.get("par_totals")
        fig = par_charts.par_chart(par, highlight=province, totals=totals, **common)
        written += plots.save_figure(fig, folder / "par_provinces", formats)
        if province and (par["province"] == province).any():
            fig = par_charts.par_chart(par[par["province"] == province], totals=totals,
                                       **common)
            written += plots.save_figure(fig, folder / "par_areas", formats)
        if totals is not None and "rank_low" in totals.columns:
            fig = par_charts.par_ranks_chart(totals, highlight=province, **common)
            written += plots.save_figure(fig, folder / "par_ranks", formats)
    return written


def caption(result: Any, lang: Lang) -> str:
    """The caption of every chart of a run: the survey's title, its year and the source
    (``[survey] source``, else the data file), in ``lang``."""
    spec = result.data.spec
    title = spec.title.get(lang) or spec.title.get("vi") or spec.name
    source = spec.data_source.get(lang) or spec.data_source.get("vi") or \
        plots.file_source(Path(result.data.meta.source).name, lang)
    return plots.caption_text(title, spec.year, source, lang)


def _driver_charts(tables: Mapping[str, pd.DataFrame], folder: Path, formats: Sequence[str],
                   level: float, common: Mapping[str, Any]) -> list[Path]:
    """The importance-performance matrix and one chart per multiple-response question."""
    from sipas.report.driver_charts import ipa_chart, options_chart

    written: list[Path] = []
    if "drivers_matrix" in tables:
        fig = ipa_chart(tables["drivers_matrix"], level=level, **common)
        written += plots.save_figure(fig, folder / "drivers_matrix", formats)
    for name, table in tables.items():
        if name.startswith("multiple_") and "_by_" not in name:
            fig = options_chart(table, title=name.removeprefix("multiple_"), level=level,
                                **common)
            written += plots.save_figure(fig, folder / name, formats)
    return written


def _area_column(result: Any) -> list[str]:
    """The area column of the run's small-area estimates (none without ``[small_area]``)."""
    found = result.results.get("small_area")
    return [found.by] if found is not None else []


def _map_charts(result: Any, tables: Mapping[str, pd.DataFrame], folder: Path,
                formats: Sequence[str], ctx: TableContext,
                common: Mapping[str, Any]) -> list[Path]:
    """``[maps]``: the overall index by unit at the units' coordinates (``map_<by>``) and,
    with boundaries, as a choropleth (``map_<by>_boundaries``)."""
    from sipas.report.maps import index_map, match_boundaries, read_boundaries

    units, cfg = result.results.get("map_units"), result.pipeline.maps
    if units is None or cfg is None or f"index_by_{cfg['by']}" not in tables:
        return []
    by = cfg["by"]
    rows = tables[f"index_by_{by}"]
    rows = rows[rows["index_level"] == "overall"][[by, "estimate", "flag"]]
    table = units.merge(rows, on=by, how="left")
    names = dict(zip(table["code"], table["name"]))
    title = MAP_TITLE[ctx.lang].format(ctx.domain_titles.get(by, by))
    fig = index_map(table, "code", points=table[["code", "lon", "lat"]], names=names,
                    title=title, **common)
    written = plots.save_figure(fig, folder / safe_filename(f"map_{by}"), formats)
    if cfg.get("boundaries"):
        path = Path(cfg["boundaries"])
        shapes = match_boundaries(read_boundaries(path, cfg["boundary_key"]), units,
                                  source=path.name, key=cfg["boundary_key"])
        fig = index_map(table, "code", boundaries=shapes, names=names, title=title, **common)
        written += plots.save_figure(fig, folder / safe_filename(f"map_{by}_boundaries"),
                                     formats)
    return written


def _par_table(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame | None:
    """``par_areas`` if present, else the first ``par_*`` table with the chart's columns."""
    need = {"province", "area", "points", "max_points"}
    names = sorted((n for n in tables if n.startswith("par_")), key=lambda n: n != "par_areas")
    for name in names:
        if need <= set(tables[name].columns):
            return tables[name]
    return None


def _reference(overall: pd.DataFrame | None) -> float | None:
    if overall is None or overall.empty:
        return None
    return float(overall["estimate"].iloc[0])


def _likert_items(spec: Any) -> list[str]:
    """Items of the factors (and the overall item) that share the first item's scale."""
    items = [i for f in spec.factors for i in f.items]
    if spec.overall_item:
        items.append(spec.overall_item)
    if not items:
        return []
    scale = spec.item(items[0]).scale
    return [i for i in items if spec.item(i).scale == scale]


def _base_weights(result: Any) -> Any:
    from sipas.design.design import Design

    return Design.from_spec(result.data).weight_array
