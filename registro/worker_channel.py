"""The datagram that tells the stage worker of an accepted action: its id and an HMAC of it.

Only a process holding the application's key (``Settings.effective_secret_key``: the API) can ask
the worker to run an action; any other local process's datagram is ignored and logged. A captured
datagram replayed later asks for the same action again, which is harmless: the worker runs only
actions the database holds as queued, and ``tasks.stage_work.carry_out`` skips one already done.
The HMAC costs about 2 µs; the datagram stays one packet (``<id>.<64 hex>``).
"""

from __future__ import annotations

import hashlib
import hmac

from models.text import digits

PURPOSE = b"registro.stage-action:"
MAX_DATAGRAM = 128


def _mac(action_id: int, key: str) -> str:
    return hmac.new(key.encode(), PURPOSE + str(action_id).encode("ascii"), hashlib.sha256).hexdigest()


def encode(action_id: int, key: str) -> bytes:
    return f"{action_id}.{_mac(action_id, key)}".encode("ascii")


def decode(data: bytes, key: str) -> int | None:
    """The action id of a genuine datagram, None for anything else."""
    if len(data) > MAX_DATAGRAM:
        return None
    text = data.decode("ascii", "replace").strip()
    raw_id, _, mac = text.partition(".")
    if not digits(raw_id) or len(raw_id) > 18:
        return None
    action_id = int(raw_id)
    return action_id if hmac.compare_digest(mac, _mac(action_id, key)) else None
