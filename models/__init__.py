"""The domain: SQLModel tables, enums, region profiles and the lifecycle rules."""
