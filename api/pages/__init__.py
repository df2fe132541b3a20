"""Server-rendered pages (Jinja2, Italian), from the same environment as mails and letters."""
