"""Presentation: tables for publication, the Excel workbook, charts, safe file output."""
