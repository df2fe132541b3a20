"""The one Jinja2 environment for mails, letters and documents (autoescape, StrictUndefined)."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from models.base import ROME

TEMPLATES_DIR = Path(__file__).parent / "templates"


def _it_date(value: date | datetime | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.astimezone(ROME).strftime("%d/%m/%Y %H:%M")
    return value.strftime("%d/%m/%Y")


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
