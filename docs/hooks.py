"""MkDocs hook: render the Sphinx roles of numpydoc docstrings as plain code.

The docstrings cross-reference with Sphinx roles (``:func:`mean```), which mkdocstrings
shows literally (``:func:mean``). This hook drops the role and keeps the code span, so the
API reference reads ``mean`` as the source intends.
"""

from __future__ import annotations

import re
from typing import Any

ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|attr|data|obj|exc):(?=<code>)")


def on_page_content(html: str, **_: Any) -> str:
    """Remove ``:role:`` prefixes in front of code spans."""
    return ROLE.sub("", html)
