"""Bad administrative units, crosswalks across the 2025 reform and domain labels.

See ``bad_inputs/catalogue.py`` for the checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bad_inputs.catalogue import Case, check, params
from sipas.errors import EstimationError, ReadError, UnitError

AREA = "units"


def _to_new(values: list[Any], **kw: Any):
    from sipas.units import to_new

    return lambda tmp: to_new(values, **kw)


def _lossy(tmp: Path) -> Any:
    from sipas.reform import aggregate_to_new

    past = pd.DataFrame({"unit": ["A", "B"], "estimate": [0.5, 0.8], "se": [0.05, 0.04],
                         "population": [1000, 600]})
    cw = pd.DataFrame({"old": ["A", "A", "B"], "new": ["X", "Y", "Y"], "share": [0.4, 0.5, 1]})
    return aggregate_to_new(past, unit="unit", variable="x", crosswalk=cw)


def _split_unassigned(tmp: Path) -> Any:
    from sipas.units import recode

    return recode(["Tân Thạnh, Thới Lai"], province="Cần Thơ")


def _labels_absent(tmp: Path) -> Any:
    from sipas.io import validate_frame
    from sipas.spec import parse_spec

    spec = parse_spec({"survey": {"name": "x", "respondent_id": "id"},
                       "scales": {"yn": {"codes": [1, 2], "satisfied": [1]}},
                       "items": [{"name": "q1", "scale": "yn"}],
                       "domains": {"labels": {"commune": {"1": "Hòa An", "7": "Nước Hai"}}}})
    frame = pd.DataFrame({"id": ["a", "b"], "q1": [1, 2], "commune": [1, 2]})
    return validate_frame(frame, spec)


def _waves_on_other_units(tmp: Path) -> Any:
    import sipas
    from sipas.compare import compare_waves

    sd = sipas.datasets.load_demo()
    d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    now = sipas.mean(d, "q23", by="urban")
    frame = sd.frame.assign(urban=sd.frame["urban"] + 2)
    import dataclasses

    old = dataclasses.replace(sd, frame=frame)
    before = sipas.mean(sipas.Design.from_spec(old).subset(frame["response"] == 1), "q23",
                        by="urban")
    return compare_waves(now, before)


CASES = [
    Case(AREA, "unit_no_match", "an old commune name that matches no unit",
         _to_new(["Le Chungg"], province="Cao Bằng"), UnitError,
         ("'Le Chungg' matches no old commune", "Closest names", "Lê Chung")),
    Case(AREA, "unit_several", "an old commune name that matches several units",
         _to_new(["Đức Long"], province="Cao Bằng"), UnitError,
         ("'Đức Long' names 2 old communes", "Thạch An", "district")),
    Case(AREA, "unit_split_unassigned", "respondents of a split commune without assign=",
         _split_unassigned, UnitError, ("was split between 2 new communes", "assign=")),
    Case(AREA, "crosswalk_loses_population", "crosswalk shares of an old unit add to 0.9",
         _lossy, UnitError, ("shares of 'A' add up to 0.9", "lost")),
    Case(AREA, "labels_absent_values", "domain labels for values that do not occur",
         _labels_absent, ReadError, ("[domains.labels.commune]", "[7]", "Remove those labels")),
    Case(AREA, "waves_other_units", "two waves with different domains (units changed)",
         _waves_on_other_units, EstimationError,
         ("different ['urban'] domains", "aggregate_to_new", "unmatched='drop'")),
]


@pytest.mark.parametrize("case", params(CASES))
def test_bad_input(case, tmp_path):
    check(case, tmp_path)
