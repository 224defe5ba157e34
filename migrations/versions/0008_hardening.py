"""hardening: one canonical RUT (duplicates reported), FAQ proposals approved by a second person

Revision ID: 0008_hardening
Revises: 0009_backoffice
Create Date: 2026-12-01 10:00:00

RUTs stored before normalization stripped leading zeros (`09432867-5`) are rewritten to
their canonical form (`9432867-5`). When the canonical form already belongs to another
account the two are one person with two accounts: they are not merged blindly (each has
its own password, enrolments and consultas); an `audit_entry` row `duplicate_rut` names
both ids for an admin to resolve, and the migration prints them. A RUT whose body is only
zeros (`00000000-0`) is reported as `invalid_rut` the same way.
"""

import json

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008_hardening"
down_revision = "0009_backoffice"
branch_labels = None
depends_on = None


def _canonical(rut: str) -> str | None:
    body, _, dv = rut.partition("-")
    body = body.lstrip("0")
    return f"{body}-{dv.upper()}" if body else None


def _report(bind, action: str, target_id: int, after: dict, note: str) -> None:
    bind.execute(
        sa.text(
            "INSERT INTO audit_entry (actor_id, action, target_type, target_id, before, after,"
            " created_at, note) VALUES (NULL, :action, 'user', :target_id, NULL, :after,"
            " CURRENT_TIMESTAMP, :note)"
        ),
        {"action": action, "target_id": str(target_id), "after": json.dumps(after), "note": note},
    )
    print(f"0008_hardening: {action} user={target_id} {after}")


def _normalize_user_ruts(bind) -> None:
    rows = bind.execute(sa.text('SELECT id, rut FROM "user" WHERE rut IS NOT NULL')).all()
    holders = {rut: user_id for user_id, rut in rows}
    for user_id, rut in rows:
        canonical = _canonical(rut)
        if canonical == rut:
            continue
        if canonical is None:
            _report(bind, "invalid_rut", user_id, {"rut": rut}, "RUT de solo ceros")
            continue
        other = holders.get(canonical)
        if other is not None and other != user_id:
            _report(
                bind,
                "duplicate_rut",
                user_id,
                {"rut": rut, "same_person_as_user": other},
                "Dos cuentas para un mismo RUT: revisar y fusionar a mano",
            )
            continue
        bind.execute(
            sa.text('UPDATE "user" SET rut = :rut WHERE id = :id'),
            {"rut": canonical, "id": user_id},
        )
        holders.pop(rut, None)
        holders[canonical] = user_id


def _normalize_company_ruts(bind) -> None:
    rows = bind.execute(sa.text("SELECT id, rut FROM company WHERE rut IS NOT NULL")).all()
    for company_id, rut in rows:
        canonical = _canonical(rut)
        if canonical != rut:
            bind.execute(
                sa.text("UPDATE company SET rut = :rut WHERE id = :id"),
                {"rut": canonical, "id": company_id},
            )


def upgrade():
    bind = op.get_bind()
    _normalize_user_ruts(bind)
    _normalize_company_ruts(bind)
    op.create_table(
        "consent_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("version", sa.String(length=20), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_consent_event_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_event")),
    )
    op.create_index(op.f("ix_consent_event_user_id"), "consent_event", ["user_id"], unique=False)
    # Every consent already given starts the history.
    bind.execute(
        sa.text(
            "INSERT INTO consent_event (user_id, action, version, created_at) SELECT id,"
            " 'given', consent_version, consent_at FROM \"user\" WHERE consent_at IS NOT NULL"
        )
    )
    # Plain ADD COLUMN (no table rebuild: the full-text triggers on faq_entry must stay).
    op.add_column("faq_entry", sa.Column("proposed_by_id", sa.Integer(), nullable=True))
    op.add_column("faq_entry", sa.Column("approved_by_id", sa.Integer(), nullable=True))


def downgrade():
    # Canonical RUTs stay canonical; the reports stay in the audit log.
    op.drop_index(op.f("ix_consent_event_user_id"), table_name="consent_event")
    op.drop_table("consent_event")
    op.drop_column("faq_entry", "approved_by_id")
    op.drop_column("faq_entry", "proposed_by_id")
