"""webhook secrets encrypted at rest, previous secret kept during a rotation's grace period

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 10:12:41.318207
"""

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import op

import core.db

if TYPE_CHECKING:
    from notify.webhooks.crypto import SecretCipher

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger('alembic.runtime.migration')

webhooks = sa.table(
    'webhooks',
    sa.column('id', sa.Uuid()),
    sa.column('secret', sa.String(length=100)),
    sa.column('secret_encrypted', sa.String(length=255)),
    sa.column('secret_id', sa.Uuid()),
)


def _cipher() -> 'SecretCipher':
    """The app's cipher. Refuses to invent a key: secrets sealed with a key the app does not have are lost."""
    from core.settings import get_settings
    from notify.webhooks.crypto import cipher_for

    data_dir = Path(os.environ.get('DIESEL_DATA_DIR', './var')).resolve()
    if not (os.environ.get('WEBHOOK_SECRET_KEYS') or os.environ.get('SECRET_KEY') or (data_dir / 'secret.key').exists()):
        raise RuntimeError(
            'migration 0009 encrypts the stored webhook secrets with a key derived from SECRET_KEY '
            '(or WEBHOOK_SECRET_KEYS): run it with the same settings as the app'
        )
    return cipher_for(get_settings().auth)


def _existing(column: str) -> list[sa.Row]:
    if op.get_context().as_sql:
        raise RuntimeError('migration 0009 re-encrypts stored rows and cannot run in offline (--sql) mode')
    return list(op.get_bind().execute(sa.select(webhooks.c.id, webhooks.c[column])).all())


def upgrade() -> None:
    with op.batch_alter_table('webhooks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('secret_encrypted', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('secret_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('previous_secret_encrypted', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('previous_secret_expires_at', core.db.UTCDateTime(timezone=True), nullable=True))

    # Seal every plain-text secret, then drop the plain-text column.
    rows = _existing('secret')
    if rows:
        from core.ids import new_id
        from notify.webhooks.crypto import webhook_context

        cipher = _cipher()
        for webhook_id, secret in rows:
            op.get_bind().execute(
                webhooks.update()
                .where(webhooks.c.id == webhook_id)
                .values(
                    secret_encrypted=cipher.encrypt(secret, context=webhook_context(webhook_id)),
                    secret_id=new_id(),
                )
            )
        log.info('encrypted %d webhook secret(s) with key id %s', len(rows), cipher.key_id)

    with op.batch_alter_table('webhooks', schema=None) as batch_op:
        batch_op.alter_column('secret_encrypted', existing_type=sa.String(length=255), nullable=False)
        batch_op.alter_column('secret_id', existing_type=sa.Uuid(), nullable=False)
        batch_op.drop_column('secret')


def downgrade() -> None:
    # Back to plain text: only the current secret survives (a rotation's grace period ends at once).
    with op.batch_alter_table('webhooks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('secret', sa.String(length=100), nullable=True))

    rows = _existing('secret_encrypted')
    if rows:
        from notify.webhooks.crypto import webhook_context

        cipher = _cipher()
        for webhook_id, sealed in rows:
            op.get_bind().execute(
                webhooks.update()
                .where(webhooks.c.id == webhook_id)
                .values(secret=cipher.decrypt(sealed, context=webhook_context(webhook_id)))
            )

    with op.batch_alter_table('webhooks', schema=None) as batch_op:
        batch_op.alter_column('secret', existing_type=sa.String(length=100), nullable=False)
        batch_op.drop_column('previous_secret_expires_at')
        batch_op.drop_column('previous_secret_encrypted')
        batch_op.drop_column('secret_id')
        batch_op.drop_column('secret_encrypted')
