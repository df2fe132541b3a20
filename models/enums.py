"""Enumerations shared by tables, lifecycle and API. States are data."""

from __future__ import annotations

from enum import StrEnum


class Subject(StrEnum):
    APPLICATION = "application"
    REPORT = "report"


class ApplicationKind(StrEnum):
    RECOGNITION = "recognition"
    RENEWAL = "renewal"
    CENSUS = "census"


class State(StrEnum):
    # application
    DRAFT = "draft"
    SUBMITTED = "submitted"
    COMPLETENESS_CHECK = "completeness_check"
    INTEGRATION_REQUESTED = "integration_requested"
    COMMITTEE_EVALUATION = "committee_evaluation"
    REJECTION_NOTICE = "rejection_notice"
    RECOGNISED = "recognised"
    REJECTED = "rejected"
    INADMISSIBLE = "inadmissible"
    WITHDRAWN = "withdrawn"
    ACTIVE = "active"
    RENEWAL_REQUESTED = "renewal_requested"
    RENEWED = "renewed"
    EXPIRED = "expired"
    REVOCATION_NOTICE = "revocation_notice"
    REVOKED = "revoked"
    REGISTERED = "registered"
    NOT_REGISTERED = "not_registered"
    # annual report
    REPORT_OPEN = "report_open"
    REPORT_FILED = "report_filed"
    REPORT_ACCEPTED = "report_accepted"


class Event(StrEnum):
    SUBMIT = "submit"
    START_REVIEW = "start_review"
    REQUEST_INTEGRATION = "request_integration"
    ANSWER_INTEGRATION = "answer_integration"
    INTEGRATION_LAPSED = "integration_lapsed"
    DECLARE_COMPLETE = "declare_complete"
    DECLARE_INADMISSIBLE = "declare_inadmissible"
    REGISTER = "register"
    REFUSE_REGISTRATION = "refuse_registration"
    APPROVE = "approve"
    NOTIFY_REJECTION_INTENT = "notify_rejection_intent"
    SUBMIT_OBSERVATIONS = "submit_observations"
    REJECT = "reject"
    ISSUE_ACT = "issue_act"
    WITHDRAW = "withdraw"
    APPROVE_RENEWAL = "approve_renewal"
    REQUEST_RENEWAL = "request_renewal"
    CONFIRM_RENEWAL = "confirm_renewal"
    RENEWAL_REFUSED = "renewal_refused"
    EXPIRE = "expire"
    NOTIFY_REVOCATION_INTENT = "notify_revocation_intent"
    SUBMIT_REVOCATION_OBSERVATIONS = "submit_revocation_observations"
    DROP_REVOCATION = "drop_revocation"
    REVOKE = "revoke"
    FILE_REPORT = "file_report"
    ACCEPT_REPORT = "accept_report"
    RETURN_REPORT = "return_report"


class Role(StrEnum):
    REPRESENTATIVE = "representative"
    OFFICIAL = "official"
    COMMITTEE = "committee"
    HEAD = "head"
    ADMIN = "admin"
    SYSTEM = "system"


class Stage(StrEnum):
    """The stage flow that carries out an application event (``flows.stages``)."""

    SUBMISSION = "submission"
    COMPLETENESS = "completeness"
    COMMITTEE = "committee"
    RECOGNITION = "recognition"


class ClockEffect(StrEnum):
    """What a transition does to the procedure clock (L. 241/1990)."""

    START = "start"
    SUSPEND_INTEGRATION = "suspend_integration"
    SUSPEND_REJECTION_NOTICE = "suspend_rejection_notice"
    RESUME = "resume"
    STOP = "stop"


class DocumentKind(StrEnum):
    PACT = "pact"
    DEVELOPMENT_PROGRAMME = "development_programme"
    REPRESENTATIVE_APPOINTMENT = "representative_appointment"
    STRATEGIC_PLAN = "strategic_plan"
    ROSTER = "roster"
    INTEGRATION = "integration"
    OBSERVATIONS = "observations"
    RECEIPT = "receipt"
    INTEGRATION_REQUEST = "integration_request"
    REJECTION_NOTICE = "rejection_notice"
    RECOGNITION_ACT = "recognition_act"
    REVOCATION_NOTICE = "revocation_notice"
    REVOCATION_ACT = "revocation_act"
    ANNUAL_REPORT = "annual_report"
    OTHER = "other"


class ActionStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class NotificationStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"  # handed to the SMTP server, its answer not yet recorded
    SENT = "sent"
    FAILED = "failed"
    UNCERTAIN = "uncertain"  # the sender died mid-send: maybe delivered, never resent blindly


class ProtocolDirection(StrEnum):
    INBOUND = "in"
    OUTBOUND = "out"
