"""faq: entries, votes and the full-text index (FTS5 on SQLite, tsvector+GIN on PostgreSQL)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 10:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# SQLite: an FTS5 table over the normalized columns, ranked with bm25(). Its external
# content is a view that adds `facets` ("borrador" for drafts, "arealegal"...), so the
# published and area filters happen inside the MATCH (`NOT facets : "borrador"`, a short
# list) instead of a join over every match.
# Triggers keep it in sync on every insert, delete and change of the indexed columns.
_FTS_COLUMNS = "question_norm, tags_norm, answer_norm, facets"
_FACETS = "CASE WHEN {t}.published THEN '' ELSE 'borrador ' END || 'area' || {t}.area"
SQLITE_UP = [
    f"""CREATE VIEW faq_fts_source AS
        SELECT id, question_norm, tags_norm, answer_norm, {_FACETS.format(t='faq_entry')}
        AS facets FROM faq_entry""",
    f"""CREATE VIRTUAL TABLE faq_fts USING fts5({_FTS_COLUMNS},
        content='faq_fts_source', content_rowid='id', tokenize='unicode61',
        prefix='3 4 5')""",
    # The index vocabulary (stems), used to correct typos.
    "CREATE VIRTUAL TABLE faq_fts_vocab USING fts5vocab(faq_fts, col)",
    f"""CREATE TRIGGER faq_fts_after_insert AFTER INSERT ON faq_entry BEGIN
        INSERT INTO faq_fts(rowid, {_FTS_COLUMNS})
        VALUES (new.id, new.question_norm, new.tags_norm, new.answer_norm,
                {_FACETS.format(t='new')});
    END""",
    f"""CREATE TRIGGER faq_fts_after_delete AFTER DELETE ON faq_entry BEGIN
        INSERT INTO faq_fts(faq_fts, rowid, {_FTS_COLUMNS})
        VALUES ('delete', old.id, old.question_norm, old.tags_norm, old.answer_norm,
                {_FACETS.format(t='old')});
    END""",
    f"""CREATE TRIGGER faq_fts_after_update
    AFTER UPDATE OF question_norm, tags_norm, answer_norm, published, area ON faq_entry
    BEGIN
        INSERT INTO faq_fts(faq_fts, rowid, {_FTS_COLUMNS})
        VALUES ('delete', old.id, old.question_norm, old.tags_norm, old.answer_norm,
                {_FACETS.format(t='old')});
        INSERT INTO faq_fts(rowid, {_FTS_COLUMNS})
        VALUES (new.id, new.question_norm, new.tags_norm, new.answer_norm,
                {_FACETS.format(t='new')});
    END""",
    # Rows that existed before the index (none on a fresh database, but harmless).
    "INSERT INTO faq_fts(faq_fts) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS faq_fts_after_update",
    "DROP TRIGGER IF EXISTS faq_fts_after_delete",
    "DROP TRIGGER IF EXISTS faq_fts_after_insert",
    "DROP TABLE IF EXISTS faq_fts_vocab",
    "DROP TABLE IF EXISTS faq_fts",
    "DROP VIEW IF EXISTS faq_fts_source",
]

# PostgreSQL: a generated tsvector over the same normalized text with the `simple`
# configuration (the text is already lowercased, unaccented and stemmed in Python), weights
# A/B/C for question/tags/answer, and a GIN index.
POSTGRES_UP = [
    """ALTER TABLE faq_entry ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', coalesce(question_norm, '')), 'A') ||
        setweight(to_tsvector('simple', coalesce(tags_norm, '')), 'B') ||
        setweight(to_tsvector('simple', coalesce(answer_norm, '')), 'C')) STORED""",
    "CREATE INDEX ix_faq_entry_search_vector ON faq_entry USING gin (search_vector)",
]
POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS ix_faq_entry_search_vector",
    "ALTER TABLE faq_entry DROP COLUMN IF EXISTS search_vector",
]


def upgrade():
    op.create_table('faq_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=120), nullable=False),
    sa.Column('question', sa.String(length=300), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('area', sa.String(length=20), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('published', sa.Boolean(), nullable=False),
    sa.Column('source_consultation_id', sa.Integer(), nullable=True),
    sa.Column('view_count', sa.Integer(), nullable=False),
    sa.Column('helpful_count', sa.Integer(), nullable=False),
    sa.Column('not_helpful_count', sa.Integer(), nullable=False),
    sa.Column('question_norm', sa.Text(), nullable=False),
    sa.Column('tags_norm', sa.Text(), nullable=False),
    sa.Column('answer_norm', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_faq_entry')),
    sa.UniqueConstraint('slug', name=op.f('uq_faq_entry_slug'))
    )
    with op.batch_alter_table('faq_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_faq_entry_area'), ['area'], unique=False)
        batch_op.create_index('ix_faq_entry_published_views', ['published', 'view_count'],
                              unique=False)

    op.create_table('faq_vote',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('session_key', sa.String(length=64), nullable=True),
    sa.Column('helpful', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['faq_entry.id'],
                            name=op.f('fk_faq_vote_entry_id_faq_entry'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_faq_vote_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_faq_vote')),
    sa.UniqueConstraint('entry_id', 'session_key', name='uq_faq_vote_entry_session'),
    sa.UniqueConstraint('entry_id', 'user_id', name='uq_faq_vote_entry_user')
    )
    with op.batch_alter_table('faq_vote', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_faq_vote_user_id'), ['user_id'], unique=False)

    op.create_table('faq_term',
    sa.Column('term', sa.String(length=80), nullable=False),
    sa.PrimaryKeyConstraint('term', name=op.f('pk_faq_term'))
    )

    dialect = op.get_bind().dialect.name
    statements = {"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP}.get(dialect, [])
    for statement in statements:
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    statements = {"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}.get(dialect, [])
    for statement in statements:
        op.execute(statement)

    op.drop_table('faq_term')
    with op.batch_alter_table('faq_vote', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_faq_vote_user_id'))

    op.drop_table('faq_vote')
    with op.batch_alter_table('faq_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_faq_entry_published_views')
        batch_op.drop_index(batch_op.f('ix_faq_entry_area'))

    op.drop_table('faq_entry')
