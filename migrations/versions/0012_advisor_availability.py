"""advisor availability and attachments in the chat

Revision ID: 0012_advisor_availability
Revises: 0013_person_key_ruts
Create Date: 2026-12-01 13:00:00

`advisor_availability` keeps each advisor's "Disponible"/"No disponible" mark;
`consultation_attachment.message_id` ties a file to the chat message it was sent with
(NULL: a file of the consulta's opening).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0012_advisor_availability"
down_revision = "0013_person_key_ruts"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "advisor_availability",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("available", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_advisor_availability_user_id_user")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_advisor_availability")),
    )
    with op.batch_alter_table("consultation_attachment") as batch:
        batch.add_column(sa.Column("message_id", sa.Integer(), nullable=True))
        batch.create_index(
            batch.f("ix_consultation_attachment_message_id"), ["message_id"], unique=False
        )
        batch.create_foreign_key(
            batch.f("fk_consultation_attachment_message_id_message"),
            "message",
            ["message_id"],
            ["id"],
        )


def downgrade():
    with op.batch_alter_table("consultation_attachment") as batch:
        batch.drop_constraint(
            batch.f("fk_consultation_attachment_message_id_message"), type_="foreignkey"
        )
        batch.drop_index(batch.f("ix_consultation_attachment_message_id"))
        batch.drop_column("message_id")
    op.drop_table("advisor_availability")
