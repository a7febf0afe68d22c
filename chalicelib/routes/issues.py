"""Newsletter issues: coordinator pages (compose, preview, test, send, schedule, approve, progress)
and the public web archive."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib import issues, web
from chalicelib.errors import Conflict, NotFound, ValidationError
from chalicelib.rendering import render_page

bp = Blueprint(__name__)

# The rendered email is a document of its own: inline styles, remote https images, no scripts, no forms.
EMAIL_DOCUMENT_CSP = ("default-src 'none'; img-src https: data:; style-src 'unsafe-inline'; "
                      "frame-ancestors 'self'; base-uri 'none'; form-action 'none'")


def _shareable_stories() -> list:
    from chalicelib import stories

    return stories.shareable_for("newsletter")


def _form_values(issue: dict) -> dict:
    values = {k: issue.get(k, "") for k in ("title", "date", "introduction")}
    values["requires_approval"] = bool(issue.get("requires_approval"))
    for n, section in enumerate(issue.get("sections", [])):
        values.update({f"section-{n}-{k}": v for k, v in section.items()})
        values[f"section-{n}-order"] = n + 1
    return values


def _form(coordinator, issue_id: str | None, values: dict, errors: dict, sections: int, status: int = 200):
    return web.html(render_page(
        "coordinator/issue_form.html", coordinator=coordinator, issue_id=issue_id, values=values, errors=errors,
        section_count=sections + 1, kinds=issues.SECTION_KINDS, stories=_shareable_stories()), status=status)


def _section_count(data: dict) -> int:
    try:
        return max(0, int(data.get("section_count", 1)) - 1)
    except (TypeError, ValueError):
        return 0


@web.route(bp, "/coordinator/issues", coordinator=True)
def list_issues(coordinator):
    return web.html(render_page("coordinator/issues.html", coordinator=coordinator, issues=issues.list_issues()))


@web.route(bp, "/coordinator/issues/new", coordinator=True)
def new_issue(coordinator):
    from chalicelib import clock

    return _form(coordinator, None, {"date": clock.now().date().isoformat()}, {}, 0)


@web.route(bp, "/coordinator/issues", methods=["POST"], coordinator=True)
def create_issue(coordinator):
    data = web.body(bp.current_request)
    try:
        issue = issues.create(issues.parse_issue(data), by=coordinator.email)
    except ValidationError as error:
        if web.wants_json(bp.current_request):
            raise
        return _form(coordinator, None, data, error.errors, _section_count(data), status=400)
    if web.wants_json(bp.current_request):
        return web.json_response({"issue_id": issue["issue_id"]}, status=201)
    return web.redirect(f"/coordinator/issues/{issue['issue_id']}?created=1")


@web.route(bp, "/coordinator/issues/{issue_id}/edit", coordinator=True)
def edit_issue(issue_id, coordinator):
    issue = issues.get(issue_id)
    return _form(coordinator, issue_id, _form_values(issue), {}, len(issue.get("sections", [])))


@web.route(bp, "/coordinator/issues/{issue_id}/edit", methods=["POST"], coordinator=True)
def update_issue(issue_id, coordinator):
    data = web.body(bp.current_request)
    try:
        issues.update(issue_id, issues.parse_issue(data), by=coordinator.email)
    except ValidationError as error:
        return _form(coordinator, issue_id, data, error.errors, _section_count(data), status=400)
    return web.redirect(f"/coordinator/issues/{issue_id}?saved=1")


NOTICES = {
    "created": "Issue created. Preview it, send yourself a test, then send or schedule it.",
    "saved": "Your changes are saved.",
    "test": "A test copy is on its way to you.",
    "sending": "Sending has started.",
    "already": "This issue is already sending.",
    "approved": "Approved. It can now be sent.",
    "scheduled": "Scheduled for {when} (London time).",
    "unscheduled": "Schedule cancelled. The issue is a draft again.",
}


def _show(coordinator, issue_id: str, notice: str = "", errors: dict | None = None, status: int = 200):
    from chalicelib.rendering import environment

    issue = issues.get(issue_id)
    query = bp.current_request.query_params or {}
    if not notice:
        shown = next((k for k in NOTICES if k in query), "")
        when = environment().filters["london"](issue["scheduled_for"]) if issue.get("scheduled_for") else ""
        notice = NOTICES.get(shown, "").format(when=when) if shown != "scheduled" or when else ""
    return web.html(render_page(
        "coordinator/issue.html", coordinator=coordinator, issue=issue, progress=issues.progress(issue_id),
        failures=issues.failures(issue_id) if issue["status"] in issues.PUBLISHED else [],
        notice=notice, errors=errors or {}, values={"send_at": ""}), status=status)


def _refused(coordinator, issue_id: str, error: Conflict, field: str):
    """A refused action re-shows the issue's page with why, never a dead end (JSON callers get the 409)."""
    if web.wants_json(bp.current_request):
        raise error
    return _show(coordinator, issue_id, errors={field: error.message}, status=error.status)


@web.route(bp, "/coordinator/issues/{issue_id}", coordinator=True)
def show_issue(issue_id, coordinator):
    return _show(coordinator, issue_id)


@web.route(bp, "/coordinator/issues/{issue_id}/preview", coordinator=True)
def preview_issue(issue_id, coordinator):
    from chalicelib import delivery

    issue = issues.get(issue_id)
    return web.html(render_page("coordinator/issue_preview.html", coordinator=coordinator, issue=issue,
                                text=delivery.preview(issue, coordinator.name).text))


@web.route(bp, "/coordinator/issues/{issue_id}/preview.html", coordinator=True)
def preview_document(issue_id, coordinator):
    from chalicelib import delivery

    rendered = delivery.preview(issues.get(issue_id), coordinator.name)
    return web.html(rendered.html, headers={"Content-Security-Policy": EMAIL_DOCUMENT_CSP})


@web.route(bp, "/coordinator/issues/{issue_id}/test", methods=["POST"], coordinator=True)
def send_test(issue_id, coordinator):
    from chalicelib import delivery

    delivery.send_test(issues.get(issue_id), coordinator.email, coordinator.name)
    return _after(issue_id, "test")


@web.route(bp, "/coordinator/issues/{issue_id}/send", coordinator=True)
def confirm_send(issue_id, coordinator):
    """What "Send now" will do, and to how many people, before anything is sent."""
    from chalicelib import delivery, newsletter
    from chalicelib.settings import get_settings

    issue = issues.get(issue_id)
    if issue["status"] != "draft":
        return web.redirect(f"/coordinator/issues/{issue_id}")
    try:
        issues.check_ready(issue)
    except Conflict as error:
        return _refused(coordinator, issue_id, error, "send")
    return web.html(render_page(
        "coordinator/issue_send.html", coordinator=coordinator, issue=issue, subject=newsletter.subject(issue),
        sender=get_settings().newsletter_from, recipients=delivery.audience_count()))


@web.route(bp, "/coordinator/issues/{issue_id}/send", methods=["POST"], coordinator=True)
def send_now(issue_id, coordinator):
    if not web.wants_json(bp.current_request) and web.body(bp.current_request).get("confirm") != "yes":
        return web.redirect(f"/coordinator/issues/{issue_id}/send")  # only the confirmation page sends
    try:
        started = issues.start_send(issue_id, by=coordinator.email)
    except Conflict as error:
        return _refused(coordinator, issue_id, error, "send")
    return _after(issue_id, "sending" if started else "already", status=202)


@web.route(bp, "/coordinator/issues/{issue_id}/schedule", methods=["POST"], coordinator=True)
def schedule_issue(issue_id, coordinator):
    data = web.body(bp.current_request)
    try:
        issues.schedule(issue_id, str(data.get("send_at", "")), by=coordinator.email)
    except ValidationError as error:
        if web.wants_json(bp.current_request):
            raise
        return _show(coordinator, issue_id, errors=error.errors, status=400)
    except Conflict as error:
        return _refused(coordinator, issue_id, error, "send_at")
    return _after(issue_id, "scheduled")


@web.route(bp, "/coordinator/issues/{issue_id}/cancel", methods=["POST"], coordinator=True)
def cancel_issue(issue_id, coordinator):
    try:
        issues.cancel_schedule(issue_id, by=coordinator.email)
    except Conflict as error:
        return _refused(coordinator, issue_id, error, "cancel")
    return _after(issue_id, "unscheduled")


@web.route(bp, "/coordinator/issues/{issue_id}/approve", methods=["POST"], coordinator=True)
def approve_issue(issue_id, coordinator):
    try:
        issues.approve(issue_id, by=coordinator.email)
    except Conflict as error:
        return _refused(coordinator, issue_id, error, "approve")
    return _after(issue_id, "approved")


def _after(issue_id: str, what: str, status: int = 200):
    if web.wants_json(bp.current_request):
        return web.json_response({"issue_id": issue_id, "result": what, **issues.progress(issue_id)}, status=status)
    return web.redirect(f"/coordinator/issues/{issue_id}?{what}=1")


@web.route(bp, "/api/coordinator/issues/{issue_id}/progress", coordinator=True, responses=(200, 401, 403, 404))
def api_progress(issue_id, coordinator):
    """Progress of a send: queued, sent, failed, suppressed, remaining, and failures with reasons."""
    return web.json_response({**issues.progress(issue_id), "failures": issues.failures(issue_id)})


# ---------------------------------------------------------------- the public archive


@web.route(bp, "/archive")
def archive():
    before = str((bp.current_request.query_params or {}).get("before", ""))[:64]
    page, next_before = issues.archive_page(before)
    return web.html(render_page("archive.html", issues=page, next_before=next_before, first_page=not before))


@web.route(bp, "/archive/{issue_id}")
def archived_issue(issue_id):
    """The issue as a page of the site. Rendered now, not stored: a story withdrawn or narrowed
    since the send is gone from the archive at once."""
    from chalicelib import newsletter

    issue = issues.get(issue_id)
    if issue["status"] not in issues.PUBLISHED:
        raise NotFound("There is no such issue in the archive.")
    return web.html(render_page("archive_issue.html", **newsletter.web_context(issue)))
