"""The notices: every one a row sends is in the catalogue, and every one has its mail template."""

from __future__ import annotations

from models.lifecycle import TRANSITIONS
from models.notices import NOTICES
from notifications.rendering import TEMPLATES_DIR


def test_every_notice_has_its_template_and_the_rows_send_catalogued_ones() -> None:
    for notice in NOTICES.values():
        assert (TEMPLATES_DIR / notice.template).is_file(), notice.kind
    sent = {notice for transition in TRANSITIONS for notice in transition.notify}
    assert sent <= set(NOTICES.values())
    assert {n.kind for n in sent} >= {"procedure_started", "decision", "revoked", "report_filed"}
