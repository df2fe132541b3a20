"""The thin HTTP API: JSON under /api/v1, OpenAPI at /docs."""
