"""Every table, imported once so SQLModel.metadata (and Alembic) sees them all."""

from models.application import Application, Document, ProtocolEntry, StageAction
from models.district import District, MemberEnterprise
from models.notification import Notification
from models.people import ApiToken, User
from models.procedure import AuditEvent, ClockSuspension, CommitteeAssignment, Evaluation
from models.registry import AnnualReport, RecognitionAct, RegistryEntry

__all__ = [
    "AnnualReport",
    "ApiToken",
    "Application",
    "AuditEvent",
    "ClockSuspension",
    "CommitteeAssignment",
    "District",
    "Document",
    "Evaluation",
    "MemberEnterprise",
    "Notification",
    "ProtocolEntry",
    "RecognitionAct",
    "RegistryEntry",
    "StageAction",
    "User",
]
