"""back office: people search keys, list indexes, audit subject and filters

Revision ID: 0009_backoffice
Revises: 0006_mail
Create Date: 2026-12-01 10:20:00

"""
import re
import unicodedata

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_backoffice'
down_revision = '0006_mail'
branch_labels = None
depends_on = None

SEARCH_KEY = sa.String(length=140).with_variant(sa.String(length=140, collation='C'), 'postgresql')


def _words(text):
    decomposed = unicodedata.normalize('NFKD', text or '')
    folded = ''.join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return re.findall(r'[a-z0-9]+', folded)


def _keys(name, email, rut, company_rut, company_name):
    """The same keys as sv_platform.accounts.people.keys_for (frozen here)."""
    keys = {f'n:{w}' for w in _words(name) + _words(company_name)}
    if email:
        keys.add(f'e:{email.strip().lower()}')
    for value in (rut, company_rut):
        if value and '-' in value:
            keys.add(f"r:{value.split('-', 1)[0]}")
    return {k[:140] for k in keys}


def upgrade():
    op.create_table('person_key',
    sa.Column('key', SEARCH_KEY, nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_person_key_user_id_user')),
    sa.PrimaryKeyConstraint('key', 'user_id', name=op.f('pk_person_key'))
    )
    with op.batch_alter_table('person_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_person_key_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_index('ix_user_region_code')
        batch_op.drop_index('ix_user_role')
        batch_op.create_index('ix_user_role_id', ['role', 'id'], unique=False)
        batch_op.create_index('ix_user_region_code_id', ['region_code', 'id'], unique=False)
        batch_op.create_index('ix_user_comuna_code_id', ['comuna_code', 'id'], unique=False)
        batch_op.create_index('ix_user_sex_id', ['sex', 'id'], unique=False)
        batch_op.create_index('ix_user_created_at_id', ['created_at', 'id'], unique=False)

    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subject_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_audit_entry_subject_id_user'), 'user', ['subject_id'], ['id']
        )
        batch_op.create_index('ix_audit_entry_actor_id_id', ['actor_id', 'id'], unique=False)
        batch_op.create_index('ix_audit_entry_action_id', ['action', 'id'], unique=False)
        batch_op.create_index(
            'ix_audit_entry_target', ['target_type', 'target_id', 'id'], unique=False
        )
        batch_op.create_index('ix_audit_entry_subject_id_id', ['subject_id', 'id'], unique=False)
        batch_op.create_index('ix_audit_entry_created_at', ['created_at'], unique=False)

    # Existing people get their search keys; entries about an account name their subject.
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        'SELECT u.id, u.name, u.email, u.rut, c.rut, c.legal_name FROM "user" u '
        'LEFT JOIN company c ON c.user_id = u.id'
    )).all()
    person_key = sa.table('person_key', sa.column('key'), sa.column('user_id'))
    values = [
        {'key': key, 'user_id': row[0]} for row in rows for key in _keys(*row[1:])
    ]
    if values:
        op.bulk_insert(person_key, values)
    bind.execute(sa.text(
        "UPDATE audit_entry SET subject_id = CAST(target_id AS INTEGER) "
        "WHERE target_type = 'user' AND target_id IS NOT NULL"
    ))


def downgrade():
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entry_created_at')
        batch_op.drop_index('ix_audit_entry_subject_id_id')
        batch_op.drop_index('ix_audit_entry_target')
        batch_op.drop_index('ix_audit_entry_action_id')
        batch_op.drop_index('ix_audit_entry_actor_id_id')
        batch_op.drop_constraint(batch_op.f('fk_audit_entry_subject_id_user'), type_='foreignkey')
        batch_op.drop_column('subject_id')

    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_index('ix_user_created_at_id')
        batch_op.drop_index('ix_user_sex_id')
        batch_op.drop_index('ix_user_comuna_code_id')
        batch_op.drop_index('ix_user_region_code_id')
        batch_op.drop_index('ix_user_role_id')
        batch_op.create_index('ix_user_role', ['role'], unique=False)
        batch_op.create_index('ix_user_region_code', ['region_code'], unique=False)

    with op.batch_alter_table('person_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_person_key_user_id'))
    op.drop_table('person_key')
