"""observation_recent_0 … _9: the time-first tables new readings land in on SQLite

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

PARTS = 10
COLUMNS = "id, datastream_id, phenomenon_time, result_time, result, result_json, foi_id, parameters"


def upgrade() -> None:
    for part in range(PARTS):
        name = f"observation_recent_{part}"
        op.create_table(
            name,
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
            sa.Column("datastream_id", sa.Integer(), nullable=False),
            sa.Column("phenomenon_time", cityops.sensing.models.EpochTime(), nullable=False),
            sa.Column("result_time", cityops.sensing.models.EpochTime(), nullable=True),
            sa.Column("result", sa.Float(), nullable=True),
            sa.Column("result_json", sa.JSON(), nullable=True),
            sa.Column("foi_id", sa.Integer(), nullable=True),
            sa.Column("parameters", sa.JSON(), nullable=True),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
            sa.UniqueConstraint("phenomenon_time", "datastream_id", name=f"uq_{name}_time_ds"),
        )


def downgrade() -> None:
    for part in range(PARTS):
        name = f"observation_recent_{part}"
        if op.get_bind().dialect.name == "sqlite":
            op.execute(
                f"INSERT INTO observation ({COLUMNS}) SELECT {COLUMNS} FROM {name} "
                "WHERE true ON CONFLICT DO NOTHING"
            )
        op.drop_table(name)
