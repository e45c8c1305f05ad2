"""observation_recent: the time-first table new readings land in on SQLite

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 10:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cityops.sensing.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "observation_recent",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("datastream_id", sa.Integer(), nullable=False),
        sa.Column("phenomenon_time", cityops.sensing.models.EpochTime(), nullable=False),
        sa.Column("result_time", cityops.sensing.models.EpochTime(), nullable=True),
        sa.Column("result", sa.Float(), nullable=True),
        sa.Column("result_json", sa.JSON(), nullable=True),
        sa.Column("foi_id", sa.Integer(), nullable=True),
        sa.Column("parameters", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observation_recent")),
        sa.UniqueConstraint(
            "phenomenon_time", "datastream_id", name="uq_observation_recent_time_ds"
        ),
        sqlite_autoincrement=True,
    )
    if op.get_bind().dialect.name == "sqlite":
        # The ids of both tables come from this counter: start it past the readings stored so far.
        op.execute(
            "INSERT INTO sqlite_sequence (name, seq) "
            "SELECT 'observation_recent', coalesce(max(id), 0) FROM observation"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "INSERT INTO observation (id, datastream_id, phenomenon_time, result_time, result, "
            "result_json, foi_id, parameters) SELECT id, datastream_id, phenomenon_time, "
            "result_time, result, result_json, foi_id, parameters FROM observation_recent "
            "WHERE true ON CONFLICT DO NOTHING"
        )
    op.drop_table("observation_recent")
