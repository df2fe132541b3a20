"""Messages: one Jinja2 environment, the outbox, the aiosmtplib sender."""
