"""The one Jinja2 environment for mails, letters and documents (autoescape, StrictUndefined)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from models import italian
from models.base import local_date

TEMPLATES_DIR = Path(__file__).parent / "templates"


def _it_date(value: date | datetime | None) -> str:
    if value is None:
        return "—"
    return italian.moment(value) if isinstance(value, datetime) else italian.day(value)


def _it_day(value: date | datetime) -> str:
    """The calendar day, in Rome, of a date or an instant: «05/12/2026»."""
    return italian.day(local_date(value) if isinstance(value, datetime) else value)


def euro(value: object) -> str:
    """1234.5 → «1.234,50» (Italian separators); «—» when not given."""
    return italian.euro(value) if isinstance(value, int | float) else "—"


def number(value: object) -> str:
    """38.5 → «38,5», 40.0 → «40», 1234567 → «1.234.567» (two decimals at most); «—» when not given."""
    return italian.number(value) if isinstance(value, int | float) else "—"


def exact_number(value: float | int) -> str:
    """A number written back into a form, Italian decimal comma, every digit kept, no exponent:
    1234567.5 → «1234567,5», 40.0 → «40» (a form reads it back as the same number)."""
    text = format(Decimal(repr(value)).normalize(), "f")
    return text.replace(".", ",")


def file_size(size: int) -> str:
    """48 → «48 byte», 2150 → «2,1 kB», 3_500_000 → «3,3 MB»."""
    if size < 1024:
        return f"{size} byte"
    if size < 1024 * 1024:
        return f"{italian.fixed(size / 1024, decimals=1)} kB"
    return f"{italian.fixed(size / 1024 / 1024, decimals=1)} MB"


@lru_cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html", "html.j2", "xml"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        auto_reload=False,  # templates ship with the code: no file check on every render
        lstrip_blocks=True,
    )
    env.filters["data"] = _it_date
    env.filters["giorno"] = _it_day
    env.filters["euro"] = euro
    env.filters["numero"] = number
    env.filters["dimensione"] = file_size
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def render_block(template: str, block: str, **context: Any) -> str:
    tpl = environment().get_template(template)
    ctx = tpl.new_context(context)
    return "".join(tpl.blocks[block](ctx)).strip()


def render_blocks(template: str, blocks: tuple[str, ...], **context: Any) -> list[str]:
    """Several blocks of one template from one context (a mail's subject and body)."""
    tpl = environment().get_template(template)
    ctx = tpl.new_context(context)
    return ["".join(tpl.blocks[block](ctx)).strip() for block in blocks]
