"""(being written)"""

from __future__ import annotations

from fastapi import APIRouter

from api.pages.web import CsrfChecked

router = APIRouter(include_in_schema=False, dependencies=[CsrfChecked])
