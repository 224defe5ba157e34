"""content review: revisado date and fuentes of lessons, courses, quizzes and FAQ entries

Revision ID: 0010_content_review
Revises: 0005
Create Date: 2026-12-01 10:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010_content_review"
down_revision = "0005"
branch_labels = None
depends_on = None


COLUMNS = {
    "course": ("reviewed_on", "sources", "quiz_reviewed_on", "quiz_sources"),
    "lesson": ("reviewed_on", "sources"),
    "faq_entry": ("reviewed_on", "sources"),
}


def upgrade():
    # Plain ADD COLUMN (no table rebuild): faq_entry carries full-text triggers on SQLite.
    for table, names in COLUMNS.items():
        for name in names:
            kind = sa.Date() if name.endswith("reviewed_on") else sa.JSON()
            op.add_column(table, sa.Column(name, kind, nullable=True))


def downgrade():
    for table, names in COLUMNS.items():
        for name in reversed(names):
            op.drop_column(table, name)
