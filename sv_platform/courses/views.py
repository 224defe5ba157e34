"""Catalog, course page, lesson player, progress, quiz, certificates and "Mis cursos"."""

import base64

from flask import Response, abort, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from sv_platform.core import fragments
from sv_platform.core.conditional import revalidated
from sv_platform.core.domain import DomainError
from sv_platform.core.forms import ConfirmForm
from sv_platform.core.rut import mask_rut
from sv_platform.core.security import public, role_required
from sv_platform.core.timeutil import utcnow
from sv_platform.core.web import acting_user, attempt
from sv_platform.courses import bp, review, services
from sv_platform.courses.certificate import build_pdf, qr_png
from sv_platform.courses.forms import CatalogFilterForm, CompleteLessonForm, quiz_form
from sv_platform.courses.models import AREAS


def _verify_url(cert) -> str:
    return url_for("courses.verify_certificate", code=cert.code, _external=True)


@bp.errorhandler(services.NotEnrolled)
def enrol_required(error: services.NotEnrolled):
    """A lesson, quiz or progress of a course the person has no seat in: the Spanish 403
    page with the enrol button."""
    course, state = services.enrol_prompt(acting_user(), request.view_args["slug"])
    return render_template(
        "courses/enrol_required.html", course=course, state=state, message=error.message
    ), 403


@bp.get("/cursos")
@revalidated
@public
def catalog():
    form = CatalogFilterForm(request.args)
    form.validate()
    area = form.area.data if form.area.data in AREAS else None
    query = (form.q.data or "").strip()[:100]
    cards = services.catalog(acting_user(), area=area, query=query)
    return render_template(
        "courses/catalog.html", form=form, cards=cards, area=area, query=query, areas=AREAS
    )


@bp.get("/cursos/<slug>")
@revalidated
@public
def course(slug: str):
    page = services.course_page(acting_user(), slug)
    return render_template("courses/course.html", page=page, course=page.course)


@bp.get("/cursos/<slug>/<lesson_slug>")
@revalidated
@public
def lesson(slug: str, lesson_slug: str):
    page = services.lesson_page(acting_user(), slug, lesson_slug)
    body = None
    if page.has_seat:  # without a seat the page shows the offering's cupos: rendered each time
        course, lesson = page.course, page.lesson
        done = frozenset(x.id for x in page.lessons if x.id in page.completed)
        key = (course.id, course.content_hash, lesson.id, lesson.content_hash, done)
        context = {"page": page, "course": course}
        body = fragments.fill(fragments.render("courses/_lesson_body.html", key, context))
    return render_template("courses/lesson.html", page=page, course=page.course, body=body)


@bp.post("/cursos/<slug>/<lesson_slug>/completar")
def complete_lesson(slug: str, lesson_slug: str):
    if not CompleteLessonForm().validate_on_submit():
        abort(400)
    following = services.complete_lesson(acting_user(), slug, lesson_slug)
    flash("¡Lección completada!", "success")
    if following is not None:
        return redirect(url_for("courses.lesson", slug=slug, lesson_slug=following.slug))
    return redirect(url_for("courses.course", slug=slug))


@bp.route("/cursos/<slug>/evaluacion", methods=["GET", "POST"])
def quiz(slug: str):
    page = services.quiz_page(acting_user(), slug)
    formdata = None
    if request.method == "GET" and page.retry_choices:
        # Retry: the previous choices stay selected, so only the wrong ones need changing.
        formdata = MultiDict({f"q{i}": str(c) for i, c in enumerate(page.retry_choices)})
    form = quiz_form(page.questions, formdata)
    if request.method == "POST":
        if form.validate_on_submit():
            chosen = [field.data for field in form.question_fields]
            outcome = attempt(services.submit_quiz, acting_user(), slug, chosen)
            if outcome.ok:
                result = outcome.value
                if result.passed:
                    flash(f"¡Aprobaste la evaluación con {result.score} %!", "success")
                else:
                    flash(
                        f"Obtuviste {result.score} %. Necesitas "
                        f"{page.course.passing_score} % para aprobar: revisa las "
                        "preguntas marcadas e inténtalo de nuevo.",
                        "warning",
                    )
                return redirect(url_for("courses.quiz", slug=slug))
        else:
            flash("Responde todas las preguntas antes de enviar la evaluación.", "danger")
    return render_template("courses/quiz.html", page=page, course=page.course, form=form)


@bp.get("/cursos/<slug>/certificado")
def certificate(slug: str):
    cert = services.course_certificate(acting_user(), slug)
    verify_url = _verify_url(cert)
    qr = base64.b64encode(qr_png(verify_url)).decode()
    return render_template("courses/certificate.html", cert=cert, verify_url=verify_url, qr=qr)


@bp.get("/certificados/<code>/pdf")
def certificate_pdf(code: str):
    cert = services.own_certificate(acting_user(), code)
    outcome = attempt(build_pdf, cert, _verify_url(cert))
    if not outcome.ok:  # a name the PDF cannot print: said on the certificate page
        return redirect(url_for("courses.certificate", slug=cert.course.slug))
    pdf = outcome.value
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="certificado-{cert.code}.pdf"'},
    )


@bp.get("/certificados/<code>")
@public
def verify_certificate(code: str):
    try:
        cert = services.get_certificate(code)
    except DomainError:
        return render_template("courses/verify_missing.html", code=code[:64]), 404
    return render_template("courses/verify.html", cert=cert, masked_rut=mask_rut(cert.rut))


@bp.get("/mis-cursos")
def my_courses():
    return render_template(
        "courses/my_courses.html", rows=services.my_courses(acting_user()), form=ConfirmForm()
    )


@bp.get("/admin/contenido")
@role_required("admin")
def admin_content_review():
    """Lessons, quizzes, courses and FAQ entries due for review (searchable, paginated)."""
    page = request.args.get("pagina", 1, type=int) or 1
    result = review.review_page(utcnow().date(), query=request.args.get("q"), page=page)
    return render_template("courses/admin_content_review.html", result=result)
