"""Name searches that ignore case and accents: "CITTÀ", "Città" and "citta" find the same district.

PostgreSQL's ``unaccent`` (the extension, created by migration 0006) strips the accents first, then
``lower`` folds the case: in that order the result does not depend on the database's locale (under
``LC_CTYPE=C``, ``lower('À')`` is still ``'À'``, but ``unaccent('À')`` is ``'A'``). The typed text is
folded by the same functions in the same statement, so both sides always agree.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, func, literal
from sqlalchemy.sql.elements import ColumnElement

LIKE_ESCAPE = "\\"


def folded(expression: Any) -> ColumnElement[str]:
    """``expression`` without accents, in lower case."""
    return func.lower(func.unaccent(expression, type_=String), type_=String)


def same_folded(column: Any, text: str) -> ColumnElement[bool]:
    """``column`` equals ``text`` but for case and accents."""
    return folded(column) == folded(literal(text, String))


def contains_folded(column: Any, text: str) -> ColumnElement[bool]:
    """``text`` is part of ``column``, but for case and accents; ``%`` and ``_`` are plain characters."""
    escaped = text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")
    return folded(column).contains(folded(literal(escaped, String)), escape=LIKE_ESCAPE)
