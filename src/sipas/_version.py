"""The package version (one place, read by the package, the provenance and the reports).

>>> isinstance(__version__, str)
True
"""

__version__ = "0.1.0"
