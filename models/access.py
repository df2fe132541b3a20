"""Who may see which file: a representative their district, an official their office's sections."""

from __future__ import annotations

from models.application import Application
from models.enums import Role
from models.errors import Forbidden
from models.people import User
from models.profiles import RegionProfile

OFFICE_ROLES = frozenset({Role.OFFICIAL, Role.HEAD, Role.COMMITTEE})


def sections_of(user: User, profile: RegionProfile) -> list[int]:
    """The registry sections a user may see (all of them for the administrator)."""
    if user.role == Role.ADMIN or user.role == Role.SYSTEM:
        return [s.number for s in profile.sections]
    if user.role in OFFICE_ROLES and user.office:
        try:
            return list(profile.office(user.office).sections)
        except KeyError:
            return []
    return []


def can_see(user: User, application: Application, profile: RegionProfile) -> bool:
    if user.role == Role.REPRESENTATIVE:
        return user.district_id is not None and user.district_id == application.district_id
    return application.section in sections_of(user, profile)


def ensure_can_see(user: User, application: Application, profile: RegionProfile) -> None:
    if not can_see(user, application, profile):
        raise Forbidden("pratica fuori dalla sua competenza")
