"""Prefect flows: one per stage of the procedure and one per scheduled sweep; orchestration only."""
