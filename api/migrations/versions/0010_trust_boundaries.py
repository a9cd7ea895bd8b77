"""trust boundaries: rack operators' depots, login sessions that can be ended, revocable share links

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 11:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'user_depots',
        sa.Column('user_id', sa.Uuid(), nullable=False),
        sa.Column('depot_id', sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(['depot_id'], ['depots.id'], name=op.f('fk_user_depots_depot_id_depots'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_depots_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', 'depot_id', name=op.f('pk_user_depots')),
    )
    op.create_table(
        'auth_sessions',
        sa.Column('user_id', sa.Uuid(), nullable=False),
        sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('ended_at', core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('ended_reason', sa.String(length=40), nullable=True),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_auth_sessions_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_sessions')),
    )
    op.create_index('ix_auth_sessions_user_open', 'auth_sessions', ['user_id', 'ended_at'], unique=False)
    op.create_table(
        'share_links',
        sa.Column('order_id', sa.Uuid(), nullable=False),
        sa.Column('created_by', sa.Uuid(), nullable=True),
        sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('revoked_by', sa.Uuid(), nullable=True),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_share_links_order_id_orders'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_share_links')),
    )
    op.create_index(op.f('ix_share_links_order_id'), 'share_links', ['order_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_share_links_order_id'), table_name='share_links')
    op.drop_table('share_links')
    op.drop_index('ix_auth_sessions_user_open', table_name='auth_sessions')
    op.drop_table('auth_sessions')
    op.drop_table('user_depots')
