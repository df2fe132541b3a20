"""What production requires of the settings: ``check_production`` refuses to start (``InsecureSettings``,
one Italian message naming every problem, never a secret's value) on missing, default or weak secrets,
mail without TLS, and a Prefect client without its credential.

Development and tests keep their defaults: the check applies only when ``REGISTRO_ENVIRONMENT`` says
production (``registro run`` and the API call it before anything starts).
"""

from __future__ import annotations

from itertools import pairwise
from urllib.parse import urlsplit

from registro.settings import AUDIT_ARCHIVE_EXAMPLE, InsecureSettings, Settings, is_production

DEFAULT_SECRET = "sviluppo-non-usare-in-produzione"  # the old default: refused in production
MIN_SECRET_LENGTH = 32
MIN_PREFECT_PASSWORD = 24
MIN_DISTINCT = 12  # 32 random characters of token_urlsafe have about 25 distinct ones; fewer than 12: 1e-12
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# passwords that come from examples and tutorials, never from a real deployment
WEAK_PASSWORDS = {"postgres", "password", "passw0rd", "admin", "changeme", "secret", "registro", "test", "example"}
HOW_TO = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'


def patterned(value: str) -> bool:
    """A value a person typed rather than a generator drew: few distinct characters, a repeated block
    (``abcdefgh`` four times), or mostly a run of consecutive characters (``abcdefghijklmnop…``)."""
    if len(set(value)) < MIN_DISTINCT:
        return True
    for size in range(1, len(value) // 2 + 1):
        if len(value) % size == 0 and value == value[:size] * (len(value) // size):
            return True
    steps = sum(1 for a, b in pairwise(value) if abs(ord(b) - ord(a)) == 1)
    return steps > len(value) // 2


def key_problem(name: str, value: str, *, minimum: int = MIN_SECRET_LENGTH) -> str | None:
    if not value:
        return f"{name} non è impostata"
    if value == DEFAULT_SECRET:
        return f"{name} è quella predefinita di sviluppo"
    if len(value) < minimum:
        return f"{name} è troppo corta (almeno {minimum} caratteri)"
    if value.lower() in WEAK_PASSWORDS or patterned(value):
        return f"{name} è banale (ripetizioni, sequenze, pochi caratteri diversi): generarne una casuale"
    return None


def check_production(settings: Settings) -> None:
    """Raises ``InsecureSettings`` naming every problem at once (see the module docstring)."""
    if not is_production(settings):
        return
    problems = [
        problem
        for problem in (
            key_problem("REGISTRO_SECRET_KEY", settings.secret_key),
            key_problem("REGISTRO_AUDIT_KEY", settings.audit_key),
        )
        if problem
    ]
    if settings.audit_key and settings.audit_key == settings.secret_key:
        problems.append("REGISTRO_AUDIT_KEY deve essere diversa da REGISTRO_SECRET_KEY")
    if settings.audit_archive_email == AUDIT_ARCHIVE_EXAMPLE:
        problems.append("REGISTRO_AUDIT_ARCHIVE_EMAIL non è impostato (indirizzo di conservazione delle impronte)")
    db_password = _url_password(settings.database_url)
    if db_password is not None and db_password.lower() in WEAK_PASSWORDS:
        problems.append("REGISTRO_DATABASE_URL contiene una password predefinita o banale")
    smtp_password = settings.smtp_password
    if smtp_password and (smtp_password.lower() in WEAK_PASSWORDS or smtp_password == settings.smtp_username):
        problems.append("REGISTRO_SMTP_PASSWORD è predefinita o banale")
    if not settings.smtp_host:
        problems.append("REGISTRO_SMTP_HOST non è impostato: in produzione la posta va a un server SMTP/PEC vero")
    elif not (settings.smtp_use_tls or settings.smtp_start_tls) and settings.smtp_host not in LOOPBACK:
        problems.append(
            "la posta verso un altro server deve viaggiare cifrata: REGISTRO_SMTP_USE_TLS=true (porta 465) "
            "o REGISTRO_SMTP_START_TLS=true (porta 587)"
        )
    problems += _prefect_problems()
    if problems:
        raise InsecureSettings(
            "avvio rifiutato in modalità produzione (REGISTRO_ENVIRONMENT="
            f"{settings.environment}): "
            + "; ".join(problems)
            + f". Impostare valori segreti propri, ad esempio con: {HOW_TO}"
        )


def _prefect_problems() -> list[str]:
    """Prefect's own client settings: every process of the system talks to its server, which in
    production must require a credential (``registro.prefect_server``); the client must carry it."""
    from prefect.settings import Settings as PrefectSettings

    api = PrefectSettings().api  # read now, not when Prefect was imported
    auth = api.auth_string.get_secret_value() if api.auth_string is not None else ""
    user, colon, password = auth.partition(":")
    problems = []
    if not colon or not user:
        problems.append("PREFECT_API_AUTH_STRING manca: serve utente:password, la stessa data al server Prefect")
    elif problem := key_problem("la password di PREFECT_API_AUTH_STRING", password, minimum=MIN_PREFECT_PASSWORD):
        problems.append(problem)
    if api.url and not api.url.startswith("https://") and urlsplit(api.url).hostname not in LOOPBACK:
        problems.append("PREFECT_API_URL deve usare https:// verso un server Prefect su un'altra macchina")
    return problems


def _url_password(url: str) -> str | None:
    if not url or "://" not in url:
        return None
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        password = make_url(url).password
    except (ArgumentError, ValueError):
        return None
    return None if password is None else str(password)
