"""Database models, engine set-up and migrations (SQLite by default, PostgreSQL at scale)."""
