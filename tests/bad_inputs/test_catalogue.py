"""The catalogue itself: big enough, well formed, and listed in full on docs/bad_inputs.md."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

from bad_inputs.catalogue import AREAS, all_cases
from sipas.errors import SipasError

ROOT = Path(__file__).resolve().parents[2]


def test_at_least_forty_cases_in_every_area():
    cases = all_cases()
    assert len(cases) >= 40
    counts = Counter(c.area for c in cases)
    assert set(counts) == set(AREAS), f"areas without cases: {set(AREAS) - set(counts)}"
    assert all(n >= 5 for n in counts.values()), counts


def test_cases_are_well_formed():
    cases = all_cases()
    ids = [c.id for c in cases]
    assert len(set(ids)) == len(ids), [i for i, n in Counter(ids).items() if n > 1]
    for c in cases:
        assert c.case and c.id.isidentifier(), c
        if c.error is None:
            assert not c.words and not c.xfail, f"{c.id}: a handled case asserts in its builder"
        else:
            assert issubclass(c.error, SipasError) and c.words, c.id
        if c.xfail:
            assert c.xfail.split(":")[0].split(" ")[0].endswith(".py"), (
                f"{c.id}: the xfail reason starts with the module at fault")


def test_docs_page_lists_every_case():
    spec = importlib.util.spec_from_file_location("gen_bad_inputs",
                                                  ROOT / "docs" / "gen_bad_inputs.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    missing = gen.missing_rows()
    assert not missing, ("docs/bad_inputs.md is out of date with tests/bad_inputs: run "
                         f"python docs/gen_bad_inputs.py. Missing: {missing[:5]}")
