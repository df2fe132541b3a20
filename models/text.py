"""What a text typed by a user or an administrator may contain: one rule, reused by every input model.

- ``SingleLine``: names, codes, addresses, references — anything that can end up in a mail header, a
  document's heading or a page title. No control character at all (C0 with CR, LF, TAB, NUL, ESC…; DEL;
  C1 with NEL) and no Unicode line or paragraph separator (U+2028, U+2029): a line break there would add
  a header to a mail (``"pec@x.example\\r\\nBcc: …"``) or break a document's layout.
- ``MultiLine``: descriptions, remarks, notes. Keeps CR, LF and TAB; refuses every other one of them.
- ``EmailAddress`` (``OptionalEmailAddress`` also takes ""): one bare address as an SMTP command line
  takes it — ASCII, no display name, no spaces, ``local@domain.tld``.

A refused text is a pydantic ``value_error`` whose message is the Italian reason alone (no "Value
error, " prefix): the API answers 422 naming the field (``api.errors``), a page shows it beside the
form, and nothing is stored.

These types go on INPUT models only. Read models keep a plain ``str``: rows stored before the rule
existed must still be readable, and the mail delivery checks every header it writes on its own
(``notifications.sender.build_message``), failing only the message that carries a bad one.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

# Unicode category Cc (C0 controls, DEL, C1 controls) plus the line and paragraph separators
FORBIDDEN_SINGLE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
FORBIDDEN_MULTI_LINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")  # CR, LF, TAB allowed
NAMES = {
    "\r": "a capo (CR)",
    "\n": "a capo (LF)",
    "\t": "tabulazione",
    "\x00": "carattere nullo (NUL)",
    "\x1b": "carattere di escape (ESC)",
    "\x7f": "carattere di cancellazione (DEL)",
    "\x85": "a capo (NEL, U+0085)",
    "\u2028": "separatore di riga (U+2028)",
    "\u2029": "separatore di paragrafo (U+2029)",
}
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
LOCAL_PART = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.(?:[A-Za-z]{{2,63}}|xn--[A-Za-z0-9-]{{1,59}})")
MAX_ADDRESS = 254
MAX_LOCAL_PART = 64
# never in a bare address: what separates, names or quotes addresses in a header or on a command line
NOT_IN_MAILBOX = re.compile(r"[<>,;:\"()\[\]\\]")


def digits(text: str) -> bool:
    """Only the digits 0-9 (``str.isdigit`` also takes «²» and «①», which ``int`` refuses: a 500 once)."""
    return text.isascii() and text.isdigit()


def describe(char: str) -> str:
    return NAMES.get(char, f"carattere di controllo U+{ord(char):04X}")


def first_control(text: str, *, multiline: bool = False) -> tuple[int, str] | None:
    """(1-based position, Italian name) of the first character the text may not carry, or None."""
    found = (FORBIDDEN_MULTI_LINE if multiline else FORBIDDEN_SINGLE_LINE).search(text)
    return None if found is None else (found.start() + 1, describe(found.group()))


def control_problem(text: str, *, multiline: bool = False) -> str | None:
    """The Italian reason a typed text cannot be stored, or None."""
    found = first_control(text, multiline=multiline)
    if found is None:
        return None
    where = f"carattere non ammesso alla posizione {found[0]}: {found[1]}"
    if multiline:
        return f"{where} (sono ammessi testo, a capo e tabulazioni)"
    return f"{where} (il testo deve stare su una sola riga, senza caratteri di controllo)"


def mailbox_problem(address: str) -> str | None:
    """Why ``address`` cannot be put as it is in a To header and on an SMTP RCPT line (None: it can).

    The check of the delivery, also for rows stored before the input rule: a bare ``local@domain`` in
    ASCII, without spaces, names or separators. It does not ask for a dotted domain, so the addresses the
    command line gives by default (``utente@localhost``) are still delivered."""
    problem = control_problem(address)
    if problem is not None:
        return problem
    if not address:
        return "indirizzo mancante"
    if not address.isascii():
        return "sono ammessi solo caratteri ASCII (per un dominio internazionale usare la forma xn--)"
    if NOT_IN_MAILBOX.search(address):
        return 'indicare un solo indirizzo, senza nome e senza < > , ; : " ( )'
    if any(char.isspace() for char in address):
        return "contiene spazi"
    local, at, domain = address.rpartition("@")
    if not at or "@" in local:
        return "deve contenere una e una sola chiocciola (@)"
    if not local or not domain:
        return "manca la parte prima o dopo la chiocciola (@)"
    return None


def email_problem(address: str) -> str | None:
    """``mailbox_problem`` plus the syntax of a real address: dot-atom local part, dotted domain name."""
    problem = mailbox_problem(address)
    if problem is not None:
        return problem
    local, _, domain = address.rpartition("@")
    if len(address) > MAX_ADDRESS:
        return f"indirizzo troppo lungo (massimo {MAX_ADDRESS} caratteri)"
    if len(local) > MAX_LOCAL_PART or LOCAL_PART.fullmatch(local) is None:
        return "la parte prima della chiocciola (@) non è valida"
    if DOMAIN.fullmatch(domain) is None or len(domain) > 253:
        return "il dominio dopo la chiocciola (@) non è valido (esempio: pec.esempio.it)"
    return None


def refused(reason: str) -> PydanticCustomError:
    return PydanticCustomError("value_error", "{error}", {"error": reason})


def single_line(value: str) -> str:
    problem = control_problem(value)
    if problem is not None:
        raise refused(problem)
    return value


def multi_line(value: str) -> str:
    problem = control_problem(value, multiline=True)
    if problem is not None:
        raise refused(problem)
    return value


def email_address(value: str) -> str:
    problem = email_problem(value)
    if problem is not None:
        raise refused(problem if problem.startswith("carattere") else f"indirizzo di posta non valido: {problem}")
    return value


def optional_email_address(value: str) -> str:
    return value if value == "" else email_address(value)


def optional_single_line(value: str | None) -> str | None:
    return value if value is None else single_line(value)


def single_line_items(values: list[str]) -> list[str]:
    for n, value in enumerate(values, 1):
        problem = control_problem(value)
        if problem is not None:
            raise refused(f"voce {n}: {problem}")
    return values


SingleLine = Annotated[str, AfterValidator(single_line)]
MultiLine = Annotated[str, AfterValidator(multi_line)]
EmailAddress = Annotated[str, AfterValidator(email_address)]
OptionalEmailAddress = Annotated[str, AfterValidator(optional_email_address)]  # "" = none given
OptionalSingleLine = Annotated[str | None, AfterValidator(optional_single_line)]
SingleLineItems = Annotated[list[str], AfterValidator(single_line_items)]


def visible(text: str) -> str:
    """The text with its control characters written out (``\\r``, ``\\x1b``…): safe to store and to show."""
    return FORBIDDEN_SINGLE_LINE.sub(lambda found: repr(found.group())[1:-1], text)
