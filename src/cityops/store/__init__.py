"""Storage: one code path for SQLite (embedded) and PostgreSQL (at scale)."""
