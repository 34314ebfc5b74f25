"""Printed documents (ReportLab): the only package that draws PDFs (DESIGN.md §9)."""
