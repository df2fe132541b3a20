"""Prefect tasks: thin ``@task`` wrappers over plain functions (stage work, documents, mail delivery)."""
