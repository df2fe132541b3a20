"""Routers split by stage of the procedure."""
