"""Questionnaire spec: what a survey asks, how answers are coded, how it is designed.

A spec is a TOML file. Nothing about a survey is hard-coded in sipas: item names and labels
(Vietnamese and English), answer scales and the codes that count as satisfied, missing codes
by kind, the items of each factor, the design and domain columns, population margins and the
index definition the survey publishes all come from here. The bundled demo spec
(``sipas.load_spec("demo")``) is the worked example; ``docs/spec.md`` documents every key.

The package holds the objects (:mod:`sipas.spec.model`), the reading and checking of a file
(:mod:`sipas.spec.parse`), its population margins (:mod:`sipas.spec.margins`) and its
index tree (:mod:`sipas.spec.tree`).

Examples
--------
>>> import sipas
>>> spec = sipas.load_spec("demo")
>>> [f.name for f in spec.factors]
['access', 'procedures', 'officials', 'results', 'feedback']
>>> spec.scale_of("q01").satisfied
(4, 5)
"""

from sipas.spec.model import (
    MISSING_KINDS,
    SHARE_MEANING,
    Aggregate,
    DesignSpec,
    Factor,
    IndexDefinition,
    Item,
    ItemKind,
    LonelyPSU,
    Margin,
    Measure,
    MissingKind,
    OverallRule,
    QuestionSet,
    Scale,
    Spec,
)
from sipas.spec.parse import load_spec, parse_spec
from sipas.spec.tree import IndexNode, IndexTree

__all__ = [
    "MISSING_KINDS",
    "SHARE_MEANING",
    "Aggregate",
    "DesignSpec",
    "Factor",
    "IndexDefinition",
    "IndexNode",
    "IndexTree",
    "Item",
    "ItemKind",
    "LonelyPSU",
    "Margin",
    "Measure",
    "MissingKind",
    "OverallRule",
    "QuestionSet",
    "Scale",
    "Spec",
    "load_spec",
    "parse_spec",
]
