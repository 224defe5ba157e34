"""people search keys follow the RUTs rewritten without leading zeros

`0008_hardening` rewrote RUTs such as `07654321-6` to `7654321-6` after `0009_backoffice`
had stored the search keys, so those people kept the key `r:07654321` and a search by
their RUT found nobody. Every RUT key with a leading zero is replaced by the canonical one.

Revision ID: 0013_person_key_ruts
Revises: 0008_hardening
Create Date: 2026-12-01 13:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0013_person_key_ruts"
down_revision = "0008_hardening"
branch_labels = None
depends_on = None


def upgrade():
    bind = op.get_bind()
    stale = bind.execute(sa.text("SELECT key, user_id FROM person_key WHERE key LIKE 'r:0%'")).all()
    for key, user_id in stale:
        canonical = "r:" + (key[2:].lstrip("0") or "0")
        exists = bind.execute(
            sa.text("SELECT 1 FROM person_key WHERE key = :key AND user_id = :user_id"),
            {"key": canonical, "user_id": user_id},
        ).first()
        if not exists:
            bind.execute(
                sa.text("INSERT INTO person_key (key, user_id) VALUES (:key, :user_id)"),
                {"key": canonical, "user_id": user_id},
            )
        bind.execute(
            sa.text("DELETE FROM person_key WHERE key = :key AND user_id = :user_id"),
            {"key": key, "user_id": user_id},
        )


def downgrade():
    # The stale keys matched no search; nothing worth restoring.
    pass
