"""pickup passes for the truck driver, check-ins at the depot gate with their loading bay

Revision ID: 0019
Revises: 0015
Create Date: 2026-12-12 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0019"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pickup_passes",
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["pickup_bookings.id"],
            name=op.f("fk_pickup_passes_booking_id_pickup_bookings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pickup_passes")),
    )
    with op.batch_alter_table("pickup_passes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pickup_passes_booking_id"), ["booking_id"], unique=False)

    op.create_table(
        "pickup_check_ins",
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("depot_id", sa.Uuid(), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("checked_in_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("checked_in_by", sa.Uuid(), nullable=True),
        sa.Column("bay", sa.BigInteger(), nullable=True),
        sa.Column("bay_assigned_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["pickup_bookings.id"],
            name=op.f("fk_pickup_check_ins_booking_id_pickup_bookings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["depot_id"], ["depots.id"], name=op.f("fk_pickup_check_ins_depot_id_depots")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pickup_check_ins")),
        sa.UniqueConstraint("booking_id", name=op.f("uq_pickup_check_ins_booking_id")),
    )
    with op.batch_alter_table("pickup_check_ins", schema=None) as batch_op:
        batch_op.create_index("ix_pickup_check_ins_depot_time", ["depot_id", "checked_in_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pickup_check_ins", schema=None) as batch_op:
        batch_op.drop_index("ix_pickup_check_ins_depot_time")
    op.drop_table("pickup_check_ins")
    with op.batch_alter_table("pickup_passes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pickup_passes_booking_id"))
    op.drop_table("pickup_passes")
