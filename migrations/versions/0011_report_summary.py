"""report summary: the beneficiaries' summary per person and year, backfilled

Revision ID: 0011_report_summary
Revises: 0012_advisor_availability
Create Date: 2026-12-01 13:00:00

`report_beneficiary_year` holds one row per person and year t in which the person was a
beneficiary (see sv_platform/reports/summary.py); `report_summary_state` the last year it
holds. Also indexes covering the satisfaction figure and the waitlist promotions, and a
person's survey answers by user.

This migration does not import the application: on a database without seat enrolments the
summary is complete as created (no rows, holding the current year); otherwise the state row
says "not built yet" (horizon 0), every figure keeps coming from the source tables, and the
periodic job `resumen_de_reportes` (or `flask sv report rebuild`) fills it in one
transaction. The state row exists either way, so refreshes and the build take turns on it.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0011_report_summary"
down_revision = "0012_advisor_availability"
branch_labels = None
depends_on = None

# The summary's covering indexes (as of this revision).
FILTER_COLUMNS = ["region", "sex", "course_seats", "legal_seats", "sustainability_seats"]
CELL_INDEX = [
    "year",
    "region",
    "sex",
    "education",
    "birth_year",
    "answered",
    "sells_digital",
    "sold_last_3_months",
    "baseline",
    "course_seats",
    "legal_seats",
    "sustainability_seats",
    "course_egresos",
    "legal_egresos",
    "sustainability_egresos",
    "courses_started",
    "courses_started_graduated",
]


def upgrade():
    counts = [
        sa.Column(name, sa.Integer(), nullable=False, server_default="0")
        for name in (
            "course_seats",
            "legal_seats",
            "sustainability_seats",
            "course_egresos",
            "legal_egresos",
            "sustainability_egresos",
            "courses_started",
            "courses_started_graduated",
        )
    ]
    op.create_table(
        "report_beneficiary_year",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("region", sa.String(length=2), nullable=True),
        sa.Column("comuna", sa.String(length=5), nullable=True),
        sa.Column("sex", sa.String(length=20), nullable=True),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("education", sa.String(length=20), nullable=True),
        sa.Column("company_rut", sa.String(length=12), nullable=True),
        sa.Column("baseline", sa.Boolean(), nullable=True),
        *counts,
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.Column("sells_digital", sa.Boolean(), nullable=False),
        sa.Column("sold_last_3_months", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("year", "user_id", name=op.f("pk_report_beneficiary_year")),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_report_beneficiary_year_user", "report_beneficiary_year", ["user_id"], unique=False
    )
    op.create_index("ix_report_beneficiary_year_cells", "report_beneficiary_year", list(CELL_INDEX))
    op.create_index(
        "ix_report_beneficiary_year_comuna",
        "report_beneficiary_year",
        ["year", "comuna", *FILTER_COLUMNS],
    )
    op.create_index(
        "ix_report_beneficiary_year_company",
        "report_beneficiary_year",
        ["year", "company_rut", *FILTER_COLUMNS],
    )
    op.create_table(
        "report_summary_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("horizon", sa.Integer(), nullable=False),
        sa.Column("built_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_summary_state")),
    )
    op.create_index("ix_exit_survey_user", "exit_survey", ["user_id"], unique=False)
    op.create_index(
        "ix_annual_survey_answer_user", "annual_survey_answer", ["user_id"], unique=False
    )
    op.create_index(
        "ix_exit_survey_report_satisfaction",
        "exit_survey",
        ["year", "service", "satisfaction", "user_id"],
        unique=False,
    )
    with op.batch_alter_table("enrollment") as batch:
        batch.drop_index("ix_enrollment_report_promoted")
        batch.create_index(
            "ix_enrollment_report_promoted",
            ["promoted_at", "created_at", "offering_id", "user_id"],
            unique=False,
        )

    # Seat enrolments as of this revision: active or graduated.
    seats = op.get_bind().scalar(
        sa.text("SELECT count(*) FROM enrollment WHERE status IN ('active', 'graduated')")
    )
    now = datetime.now(ZoneInfo("UTC")).replace(tzinfo=None)
    year = datetime.now(ZoneInfo("America/Santiago")).year
    state = sa.table(
        "report_summary_state",
        sa.column("id", sa.Integer),
        sa.column("horizon", sa.Integer),
        sa.column("built_at", sa.DateTime),
    )
    op.bulk_insert(state, [{"id": 1, "horizon": 0 if seats else year, "built_at": now}])
    if seats:
        print(  # noqa: T201 - migration output
            "report_beneficiary_year: pending; built by the job resumen_de_reportes "
            "or by `flask sv report rebuild`"
        )


def downgrade():
    op.drop_index("ix_annual_survey_answer_user", table_name="annual_survey_answer")
    op.drop_index("ix_exit_survey_user", table_name="exit_survey")
    with op.batch_alter_table("enrollment") as batch:
        batch.drop_index("ix_enrollment_report_promoted")
        batch.create_index("ix_enrollment_report_promoted", ["promoted_at"], unique=False)
    op.drop_index("ix_exit_survey_report_satisfaction", table_name="exit_survey")
    op.drop_table("report_summary_state")
    for name in ("user", "cells", "comuna", "company"):
        op.drop_index(f"ix_report_beneficiary_year_{name}", table_name="report_beneficiary_year")
    op.drop_table("report_beneficiary_year")
