"""PAR scheme files: areas -> criteria -> sub-criteria, maxima, sources and conversion rules.

A scheme (TOML) describes how a composite administrative-reform index is scored::

    [scheme]
    name = "example"
    total = 100
    groups = [{ name = "A", min = 90 }, { name = "B", min = 80 }, { name = "C", min = 70 },
              { name = "D", min = 0 }]

    [[areas]]
    code = "A5"
    label = { vi = "...", en = "..." }
    max = 20

      [[areas.criteria]]
      code = "A5.1"
      max = 20

        [[areas.criteria.subcriteria]]
        code = "A5.1.1"
        max = 4
        source = "citizen_survey"        # appraisal | officials_survey | citizen_survey
        index = "factor:access"          # factor:<name> | item:<name> | overall
        rule = "linear"                  # points = max x value (value in [0, 1])

Survey values are proportions in [0, 1]; a 1-5 mean is converted first with
``transform = "pct_of_max"`` (value / scale_max) or ``"pct_of_range"``. ``rule = "bands"``
with ``bands = [[0.9, 1.0], [0.8, 0.75], [0.0, 0.0]]`` gives the fraction of the maximum for
the first threshold the value reaches. Maxima must add up: sub-criteria to their criterion,
criteria to their area, areas to the total.

A misspelt or unknown key is an error naming the file, the entry and the key, with the
allowed key it most resembles (``key 'sorce' is not allowed; did you mean 'source'?``).
The package holds the objects (:mod:`sipas.par.scheme.model`) and the reading and checking
of a file (:mod:`sipas.par.scheme.parse`).

Examples
--------
>>> s = load_scheme("example")
>>> s.total, [a.code for a in s.areas]
(100.0, ['A1', 'A2', 'A3'])
"""

from sipas.par.scheme.model import SOURCES, TOL, Area, Criterion, Scheme, Source, SubCriterion
from sipas.par.scheme.parse import load_scheme, parse_scheme

__all__ = ["SOURCES", "TOL", "Area", "Criterion", "Scheme", "Source", "SubCriterion",
           "load_scheme", "parse_scheme"]
