"""Presentation: tables for publication, the Excel workbook, charts, safe file output.

Rounding, percentages, labels and colours live here and nowhere else.

* :mod:`sipas.report.tables` -- publication tables (percentages, intervals, labels, flags);
* :mod:`sipas.report.labels` -- Vietnamese and English words of the report;
* :mod:`sipas.report.disclosure` -- small-cell suppression, complementary suppression, and
  the refusal of respondent-level tables;
* :mod:`sipas.report.excel` -- the workbook (safe text cells, formats, frozen headers);
* :mod:`sipas.report.plots` and :mod:`sipas.report.fonts` -- charts with Vietnamese glyphs;
* :mod:`sipas.report.build` -- ``write_all``: what a pipeline run writes;
* :mod:`sipas.report.files` -- atomic file output.
"""
