"""Survey rules: the registration baseline, the exit survey (one per egreso) and the
annual survey (one answer per person and year)."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from sv_platform.accounts import services as accounts
from sv_platform.core.domain import DomainError, InvalidInput, NotAllowed, NotFound
from sv_platform.core.timeutil import CHILE, as_utc, utcnow
from sv_platform.enrollment.models import Enrollment
from sv_platform.extensions import db, write_transaction
from sv_platform.reports.models import (
    CHANNELS,
    HELPED_WITH,
    SALES_RANGES,
    SERVICES,
    AnnualSurvey,
    AnnualSurveyAnswer,
    AnnualSurveyInvitation,
    ChannelBaseline,
    ExitSurvey,
    join_codes,
)

COMMENT_MAX = 1_000


class AlreadyAnswered(DomainError):
    status = 409
    message = "Ya respondiste esta encuesta. ¡Gracias!"


class SurveyAlreadyOpen(DomainError):
    status = 409
    message = "Esa encuesta anual ya fue abierta."


# --- the channel question ---------------------------------------------------------------


def check_channels(codes) -> list[str]:
    """At least one option; "Ninguno" goes alone; only known options. Raises InvalidInput."""
    codes = [c for c in dict.fromkeys(codes or []) if c]
    if not codes:
        raise InvalidInput(
            "Elige al menos una opción en los canales digitales (o «Ninguno»).", field="channels"
        )
    if any(code not in CHANNELS for code in codes):
        raise InvalidInput("Elige los canales de la lista.", field="channels")
    if "ninguno" in codes and len(codes) > 1:
        raise InvalidInput("Si eliges «Ninguno», no marques otros canales.", field="channels")
    return codes


def sells_digital(codes: list[str]) -> bool:
    """The purpose indicator's test: the business sells through at least one digital or
    virtual channel (any option but "Ninguno")."""
    return any(code != "ninguno" for code in codes)


def record_baseline(
    user_id: int, channels, *, source: str = "registro", now: datetime | None = None
) -> ChannelBaseline:
    """Store one answer to the channel question with its date, never overwriting earlier
    ones: the registration answer stays the baseline, later profile edits are history.
    Adds to the caller's transaction (no commit). Raises InvalidInput."""
    codes = check_channels(channels)
    row = ChannelBaseline(
        user_id=user_id,
        channels=join_codes(codes),
        sells_digital=sells_digital(codes),
        source=source,
        answered_at=now or utcnow(),
    )
    db.session.add(row)
    return row


def update_channels(user, channels, *, now: datetime | None = None) -> ChannelBaseline | None:
    """Profile edit of the channel question: a new history row when the answer changed
    (the same answer again stores nothing). Raises InvalidInput."""
    codes = check_channels(channels)
    current = channel_history(user.id)
    if current and current[-1].channel_codes == codes:
        return None
    row = record_baseline(user.id, codes, source="perfil", now=now)
    db.session.commit()
    return row


def channel_history(user_id: int) -> list[ChannelBaseline]:
    """Every answer to the channel question outside surveys, oldest (the baseline) first."""
    return list(
        db.session.scalars(
            select(ChannelBaseline)
            .where(ChannelBaseline.user_id == user_id)
            .order_by(ChannelBaseline.id)
        )
    )


def current_channels(user_id: int) -> list[str]:
    history = channel_history(user_id)
    return history[-1].channel_codes if history else []


# --- answers shared by both surveys -----------------------------------------------------


def check_answers(
    *, channels, sold_last_3_months, sales_range, satisfaction, helped_with, comment
) -> dict:
    """The survey's answers, validated and normalized. Raises InvalidInput (with field)."""
    codes = check_channels(channels)
    if sold_last_3_months not in ("si", "no"):
        raise InvalidInput(
            "Indica si vendiste por un canal digital en los últimos 3 meses.",
            field="sold_last_3_months",
        )
    if sales_range not in SALES_RANGES:
        raise InvalidInput("Elige un rango de ventas mensuales.", field="sales_range")
    try:
        grade = int(satisfaction)
    except (TypeError, ValueError):
        grade = 0
    if not 1 <= grade <= 7:
        raise InvalidInput("Elige una nota de 1 a 7.", field="satisfaction")
    helped = [h for h in dict.fromkeys(helped_with or []) if h]
    if not helped:
        raise InvalidInput("Elige al menos una opción sobre en qué te ayudó.", field="helped_with")
    if any(h not in HELPED_WITH for h in helped):
        raise InvalidInput("Elige las opciones de la lista.", field="helped_with")
    if "nada" in helped and len(helped) > 1:
        raise InvalidInput("Si eliges «No me ayudó», no marques otras.", field="helped_with")
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise InvalidInput(
            f"El comentario puede tener hasta {COMMENT_MAX} caracteres.", field="comment"
        )
    return {
        "channels": join_codes(codes),
        "sells_digital": sells_digital(codes),
        "sold_last_3_months": sold_last_3_months == "si",
        "sales_range": sales_range,
        "satisfaction": grade,
        "helped_with": join_codes(helped),
        "comment": comment or None,
    }


def chile_year(value: datetime) -> int:
    return as_utc(value).astimezone(CHILE).year


# --- exit survey ------------------------------------------------------------------------


def service_of(offering) -> str:
    """course | legal | sustainability: the egreso type of an offering."""
    return "course" if offering.kind == "course" else offering.reference


@dataclass(frozen=True)
class ExitOffer:
    """The exit survey a person may answer for one egreso."""

    enrollment: Enrollment
    service: str
    title: str
    answered: bool

    @property
    def service_label(self) -> str:
        return SERVICES.get(self.service, self.service)


def exit_url(enrollment_id: int) -> str:
    return f"/encuestas/egreso/{enrollment_id}"


def invite_exit_survey(enrollment: Enrollment, *, now: datetime | None = None) -> None:
    """The one place an exit-survey invitation is created (in-app notice; an e-mail can
    be queued here too). Runs inside the caller's transaction: never commits."""
    accounts.notify(
        enrollment.user_id,
        f"¡Felicitaciones por tu egreso de «{enrollment.offering.title}»! Responde la "
        "encuesta de egreso: son 6 preguntas.",
        exit_url(enrollment.id),
        commit=False,
    )


def on_enrollment_graduated(sender: Enrollment, now: datetime | None = None, **_extra) -> None:
    """Receiver of enrollment.signals.enrollment_graduated: offer the exit survey in the
    egreso's own transaction (no commit)."""
    invite_exit_survey(sender, now=now)


def exit_offer(user, enrollment_id: int) -> ExitOffer:
    """The exit survey of one of `user`'s egresos. Raises NotFound (unknown or someone
    else's enrolment), NotAllowed (no egreso yet)."""
    seat = db.session.get(Enrollment, enrollment_id)
    if seat is None or seat.user_id != user.id:
        raise NotFound("No encontramos esa encuesta.")
    if seat.status != "graduated":
        raise NotAllowed("La encuesta de egreso se responde al terminar el servicio.")
    answered = db.session.scalar(select(ExitSurvey.id).where(ExitSurvey.enrollment_id == seat.id))
    return ExitOffer(seat, service_of(seat.offering), seat.offering.title, answered is not None)


def pending_exit_survey(user, enrollment_id: int | None) -> str | None:
    """The exit survey's URL when `user` may still answer it for this enrolment."""
    if enrollment_id is None or user is None or not getattr(user, "is_authenticated", False):
        return None
    try:
        offer = exit_offer(user, enrollment_id)
    except DomainError:
        return None
    return None if offer.answered else exit_url(enrollment_id)


def five_point(grade: int) -> int:
    """The 1–7 grade on the consulta's 1–5 rating scale (1→1, 4→3, 7→5)."""
    return round(1 + (grade - 1) * 4 / 6)


def answer_exit_survey(
    user, enrollment_id: int, *, now: datetime | None = None, **answers
) -> ExitSurvey:
    """Store the exit survey of one egreso: once per graduated enrolment (refused the
    second time). For a consulta still «resuelta» the same form closes it with its rating
    (the 1–7 grade on the 1–5 scale) in the same transaction, so nobody rates twice.
    Raises NotFound, NotAllowed, InvalidInput, AlreadyAnswered."""
    from sv_platform.advisory import lifecycle
    from sv_platform.advisory import services as advisory

    now = now or utcnow()
    fields = check_answers(**answers)
    with write_transaction():
        offer = exit_offer(user, enrollment_id)
        if offer.answered:
            raise AlreadyAnswered()
        survey = ExitSurvey(
            user_id=user.id,
            enrollment_id=enrollment_id,
            service=offer.service,
            year=chile_year(offer.enrollment.graduated_at or now),
            answered_at=now,
            **fields,
        )
        db.session.add(survey)
        try:
            db.session.flush()
        except IntegrityError as exc:  # a double submit got there first
            db.session.rollback()
            raise AlreadyAnswered() from exc
        consulta = next(
            (
                c
                for c in advisory.consultations_of(user)
                if c.enrollment_id == enrollment_id and c.status == "resuelta"
            ),
            None,
        )
        if consulta is not None:
            lifecycle.close(
                consulta.id,
                user,
                rating=five_point(fields["satisfaction"]),
                comment=fields["comment"],
                now=now,
            )  # commits the survey and the closing together
        else:
            db.session.commit()
    return survey


# --- annual survey ----------------------------------------------------------------------


def invite_annual_survey(survey: AnnualSurvey, user_ids: list[int], *, now: datetime) -> int:
    """The one place annual-survey invitations are created: a row per person and an
    in-app notice (an e-mail can be queued here too). No commit. Returns how many."""
    if not user_ids:
        return 0
    db.session.execute(
        insert(AnnualSurveyInvitation),
        [{"survey_id": survey.id, "user_id": uid, "invited_at": now} for uid in user_ids],
    )
    from sv_platform.accounts.models import Notification

    text = (
        f"Te invitamos a responder la «{survey.title}» del programa: son 6 preguntas y nos "
        "ayudan a mejorar."
    )
    db.session.execute(
        insert(Notification),
        [
            {"user_id": uid, "text": text, "url": annual_url(survey.year), "created_at": now}
            for uid in user_ids
        ],
    )
    return len(user_ids)


def annual_url(year: int) -> str:
    return f"/encuestas/anual/{year}"


def open_annual_survey(year: int, *, actor, now: datetime | None = None) -> AnnualSurvey:
    """Open "Encuesta anual AAAA" and invite every beneficiary of that year (see
    services.beneficiary_ids). Once per year; audited. Raises InvalidInput,
    SurveyAlreadyOpen."""
    from sv_platform.reports import services

    now = now or utcnow()
    if not 2000 <= int(year) <= chile_year(now) + 1:
        raise InvalidInput("Elige un año válido.", field="year")
    with write_transaction():
        if db.session.scalar(select(AnnualSurvey.id).where(AnnualSurvey.year == year)):
            raise SurveyAlreadyOpen(f"La Encuesta anual {year} ya fue abierta.")
        survey = AnnualSurvey(year=year, opened_at=now, opened_by=actor.id if actor else None)
        db.session.add(survey)
        try:
            db.session.flush()
        except IntegrityError as exc:
            db.session.rollback()
            raise SurveyAlreadyOpen(f"La Encuesta anual {year} ya fue abierta.") from exc
        survey.invited = invite_annual_survey(
            survey, services.beneficiary_ids(services.Filters(year=year)), now=now
        )
        accounts.record_audit(
            actor,
            "open_annual_survey",
            "annual_survey",
            survey.id,
            None,
            {"year": year, "invited": survey.invited},
            commit=False,
        )
        db.session.commit()
    return survey


@dataclass(frozen=True)
class AnnualState:
    survey: AnnualSurvey
    answered: bool


def annual_state(user, year: int) -> AnnualState:
    """The annual survey of `year` for `user`. Raises NotFound (not opened),
    NotAllowed (not invited: not a beneficiary of that year)."""
    survey = db.session.scalar(select(AnnualSurvey).where(AnnualSurvey.year == year))
    if survey is None:
        raise NotFound("No hay una encuesta anual de ese año.")
    invited = db.session.scalar(
        select(AnnualSurveyInvitation.id).where(
            AnnualSurveyInvitation.survey_id == survey.id,
            AnnualSurveyInvitation.user_id == user.id,
        )
    )
    if invited is None:
        raise NotAllowed("Esta encuesta es para quienes participaron del programa ese año.")
    answered = db.session.scalar(
        select(AnnualSurveyAnswer.id).where(
            AnnualSurveyAnswer.survey_id == survey.id, AnnualSurveyAnswer.user_id == user.id
        )
    )
    return AnnualState(survey, answered is not None)


def answer_annual_survey(
    user, year: int, *, now: datetime | None = None, **answers
) -> AnnualSurveyAnswer:
    """One answer per invited person and year (a second one is refused). Raises
    NotFound, NotAllowed, InvalidInput, AlreadyAnswered."""
    now = now or utcnow()
    fields = check_answers(**answers)
    with write_transaction():
        state = annual_state(user, year)
        if state.answered:
            raise AlreadyAnswered()
        answer = AnnualSurveyAnswer(
            survey_id=state.survey.id, user_id=user.id, year=year, answered_at=now, **fields
        )
        db.session.add(answer)
        try:
            db.session.commit()
        except IntegrityError as exc:
            db.session.rollback()
            raise AlreadyAnswered() from exc
    return answer


@dataclass(frozen=True)
class CampaignStatus:
    survey: AnnualSurvey
    answered: int

    @property
    def response_rate(self) -> float | None:
        return self.answered / self.survey.invited if self.survey.invited else None


def annual_campaigns() -> list[CampaignStatus]:
    """Every annual survey with its invitations, answers so far and response rate."""
    counts = dict(
        db.session.execute(
            select(AnnualSurveyAnswer.survey_id, func.count()).group_by(
                AnnualSurveyAnswer.survey_id
            )
        ).all()
    )
    surveys = db.session.scalars(select(AnnualSurvey).order_by(AnnualSurvey.year.desc()))
    return [CampaignStatus(s, counts.get(s.id, 0)) for s in surveys]


# --- personal data ----------------------------------------------------------------------


def export_user_data(user_id: int) -> dict:
    """The person's own survey answers and channel history (for «Mis datos»)."""

    def answer(row) -> dict:
        return {
            "canales": row.channel_codes,
            "vendio_digital_3_meses": row.sold_last_3_months,
            "rango_ventas": row.sales_range,
            "nota": row.satisfaction,
            "ayudo_en": row.helped_codes,
            "comentario": row.comment,
            "fecha": as_utc(row.answered_at).isoformat(),
        }

    exits = db.session.scalars(select(ExitSurvey).where(ExitSurvey.user_id == user_id))
    annual = db.session.scalars(
        select(AnnualSurveyAnswer).where(AnnualSurveyAnswer.user_id == user_id)
    )
    return {
        "canales_digitales": [
            {"canales": r.channel_codes, "origen": r.source, "fecha": r.answered_at.isoformat()}
            for r in channel_history(user_id)
        ],
        "encuestas_egreso": [{"servicio": e.service, **answer(e)} for e in exits],
        "encuestas_anuales": [{"año": a.year, **answer(a)} for a in annual],
    }


def anonymize_user(user_id: int) -> None:
    """A deleted account's free-text comments are erased; the coded answers stay for
    statistics. No commit."""
    for model in (ExitSurvey, AnnualSurveyAnswer):
        db.session.execute(
            model.__table__.update().where(model.user_id == user_id).values(comment=None)
        )


def on_data_exported(sender: int, **_extra) -> dict:
    """Receiver of accounts.signals.data_exported: this domain's part of «Mis datos»."""
    return export_user_data(sender)


def on_user_anonymized(sender: int, **_extra) -> None:
    """Receiver of accounts.signals.user_anonymized (inside the deletion's transaction)."""
    anonymize_user(sender)
