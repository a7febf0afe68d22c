"""Newsletter issues: coordinator pages (compose, preview, test, send, schedule, approve, progress)
and the public web archive."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib import issues, web
from chalicelib.errors import Conflict, NotFound, ValidationError
from chalicelib.rendering import render_page

bp = Blueprint(__name__)

# The rendered email is a document of its own: inline styles, remote https images, no scripts, no forms.
EMAIL_DOCUMENT_CSP = ("default-src 'none'; img-src 'self' https: data:; style-src 'unsafe-inline'; "
                      "frame-ancestors 'self'; base-uri 'none'; form-action 'none'")


def _shareable_stories() -> list:
    from chalicelib import stories

    return stories.shareable_for("newsletter")


def _top_values(source: dict) -> dict:
    values = {k: source.get(k, "") for k in ("title", "date", "introduction", "submission_id")}
    values["requires_approval"] = source.get("requires_approval") in (True, "yes", "on")
    values["in_archive"] = source.get("in_archive") in (True, "yes", "on")
    values["kind"] = source.get("kind", "issue")
    return values


def _form(coordinator, issue_id: str | None, values: dict, rows: list[dict], errors: dict,
          status: int = 200, notice: str = "", version: str = "", unsaved: bool = False):
    import secrets

    from chalicelib import images

    if not issue_id:  # one id per new-issue form, kept through its re-showings: sent twice, it is one issue
        values = {**values, "submission_id": str(values.get("submission_id") or "")[:issues.MAX_SUBMISSION_ID]
                  or secrets.token_urlsafe(16)}
    return web.html(render_page(
        "coordinator/issue_form.html", coordinator=coordinator, issue_id=issue_id, values=values, rows=rows,
        errors=errors, kinds=issues.SECTION_KINDS, fields=issues.SECTION_FIELDS, stories=_shareable_stories(),
        notice=notice, version=version, unsaved=unsaved, max_image_bytes=images.MAX_UPLOAD_BYTES,
        max_image_mb=images.MAX_UPLOAD_BYTES // (1024 * 1024)), status=status)


def _save_data(data: dict, rows: list[dict]) -> dict:
    from chalicelib import issue_editor

    return {**data, "sections": issue_editor.for_saving(rows)}


def _uploads(rows: list[dict]) -> tuple[dict, str, int]:
    """Store the images chosen in the cards' file inputs and point each card at its own: returns the
    errors by field, what happened in words, and the status a refusal needs (400, or 413 for too big)."""
    from chalicelib import images

    sent = web.files(bp.current_request)
    errors, done, status = {}, [], 200
    for n, row in enumerate(rows):
        upload = sent.get(f"section-{n}-image_file")
        if row["kind"] not in ("image", "text") or not upload:
            continue
        try:
            stored = images.store(upload.data)
        except images.ImageRefused as refused:
            errors[f"section-{n}-image_file"] = refused.message
            status = max(status, refused.status)
            continue
        row["image_url"] = stored.url
        done.append(f"Image uploaded for section {n + 1}." + ("" if row.get("image_alt") else
                    " Now describe it for people who cannot see it."))
    return errors, " ".join(done), 400 if status == 200 and errors else status


@web.route(bp, "/coordinator/issues", coordinator=True)
def list_issues(coordinator):
    notice = "Draft deleted." if "deleted" in (bp.current_request.query_params or {}) else ""
    return web.html(render_page("coordinator/issues.html", coordinator=coordinator, issues=issues.list_issues(),
                                notice=notice))


@web.route(bp, "/coordinator/issues/new", coordinator=True)
def new_issue(coordinator):
    from chalicelib import clock, issue_editor

    return _form(coordinator, None, {"date": clock.now().date().isoformat()}, [issue_editor.new_row("text")], {})


@web.route(bp, "/coordinator/issues", methods=["POST"], coordinator=True)
def create_issue(coordinator):
    from chalicelib import issue_editor

    request = bp.current_request
    data = web.body(request)
    rows = issue_editor.rows_from_form(data) if "section_count" in data else None
    action = str(data.get("action", "save"))
    if rows is not None:
        upload_errors, uploaded, status = _uploads(rows)
        if upload_errors or action.startswith("upload-"):
            return _form(coordinator, None, _top_values(data), rows, upload_errors, status=status,
                         notice=f"{uploaded} Not saved yet." if uploaded else "", unsaved=True)
    if rows is not None and action != "save":
        rows, what = issue_editor.apply(rows, action, str(data.get("add_kind", "")))
        return _form(coordinator, None, _top_values(data), rows, {}, notice=f"{what} Not saved yet.", unsaved=True)
    try:
        issue = issues.create(issues.parse_issue(data if rows is None else _save_data(data, rows)),
                              by=coordinator.email, submission_id=str(data.get("submission_id", "")))
    except ValidationError as error:
        if web.wants_json(request):
            raise
        return _form(coordinator, None, _top_values(data), rows or [], _card_errors(error.errors, rows or []),
                     status=400, unsaved=True)
    if web.wants_json(request):
        return web.json_response({"issue_id": issue["issue_id"]}, status=201)
    return web.redirect(f"/coordinator/issues/{issue['issue_id']}/edit?created=1")


def _card_errors(errors: dict, rows: list[dict]) -> dict:
    """Errors name sections by their place among the saved (non-blank) cards; the form shows every card."""
    from chalicelib import issue_editor

    places = [n for n, row in enumerate(rows) if not issue_editor.blank(row)]
    mapped = {}
    for name, message in errors.items():
        parts = name.split("-", 2)
        if parts[0] == "section" and len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < len(places):
            name = f"section-{places[int(parts[1])]}-{parts[2]}"
        mapped[name] = message
    return mapped


EDIT_NOTICES = {"created": "Issue created. It saves as you type; the preview beside it shows what readers will see.",
                "saved": "Saved."}


@web.route(bp, "/coordinator/issues/{issue_id}/edit", coordinator=True)
def edit_issue(issue_id, coordinator):
    from chalicelib import issue_editor

    issue = issues.get(issue_id)
    if issue["status"] != "draft":
        return web.redirect(f"/coordinator/issues/{issue_id}")
    query = bp.current_request.query_params or {}
    notice = next((text for key, text in EDIT_NOTICES.items() if key in query), "")
    return _form(coordinator, issue_id, _top_values(issue), issue_editor.rows_from_issue(issue), {},
                 notice=notice, version=issues.revision(issue))


@web.route(bp, "/coordinator/issues/{issue_id}/edit", methods=["POST"], coordinator=True)
def update_issue(issue_id, coordinator):
    from chalicelib import issue_editor

    data = web.body(bp.current_request)
    rows = issue_editor.rows_from_form(data)
    version = str(data.get("version", ""))
    action = str(data.get("action", "save"))
    upload_errors, uploaded, status = _uploads(rows)
    if upload_errors or action.startswith("upload-"):
        return _form(coordinator, issue_id, _top_values(data), rows, upload_errors, status=status,
                     notice=f"{uploaded} Not saved yet." if uploaded else "", version=version, unsaved=True)
    if action != "save":
        rows, what = issue_editor.apply(rows, action, str(data.get("add_kind", "")))
        return _form(coordinator, issue_id, _top_values(data), rows, {}, notice=f"{what} Not saved yet.",
                     version=version, unsaved=True)
    try:
        issues.update(issue_id, issues.parse_issue(_save_data(data, rows)), by=coordinator.email, seen=version)
    except ValidationError as error:
        return _form(coordinator, issue_id, _top_values(data), rows, _card_errors(error.errors, rows), status=400,
                     version=version, unsaved=True)
    except issues.EditConflict as error:
        return _form(coordinator, issue_id, _top_values(data), rows, {"conflict": error.message},
                     status=409, version=version, unsaved=True)
    return web.redirect(f"/coordinator/issues/{issue_id}/edit?saved=1")


# Not audited: it runs as the coordinator types; pressing "Save draft" (edit_issue) is the recorded edit.
@web.route(bp, "/coordinator/issues/{issue_id}/autosave", methods=["POST"], coordinator=True,
           responses=(200, 400, 401, 403, 409), audited=False)
def autosave_issue(issue_id, coordinator):
    """The editor's script saves the draft as the coordinator types: the new version, or why not."""
    from chalicelib import issue_editor

    data = web.body(bp.current_request)
    rows = issue_editor.rows_from_form(data)
    try:
        issue = issues.update(issue_id, issues.parse_issue(_save_data(data, rows)), by=coordinator.email,
                              seen=str(data.get("version", "")))
    except ValidationError as error:
        return web.json_response({"saved": False, "fields": _card_errors(error.errors, rows)}, status=400)
    except Conflict as error:
        return web.json_response({"saved": False, "message": error.message}, status=409)
    return web.json_response({"saved": True, "version": issues.revision(issue), "at": issue["updated_at"][11:19]})


@web.route(bp, "/coordinator/issues/{issue_id}/copy", methods=["POST"], coordinator=True)
def copy_issue(issue_id, coordinator):
    copied = issues.copy(issue_id, by=coordinator.email,
                         submission_id=str(web.body(bp.current_request).get("submission_id", "")))
    if web.wants_json(bp.current_request):
        return web.json_response({"issue_id": copied["issue_id"]}, status=201)
    return web.redirect(f"/coordinator/issues/{copied['issue_id']}/edit?created=1")


@web.route(bp, "/coordinator/issues/{issue_id}/delete", methods=["POST"], coordinator=True)
def delete_issue(issue_id, coordinator):
    if not web.wants_json(bp.current_request) and web.body(bp.current_request).get("confirm") != "yes":
        return _show(coordinator, issue_id, errors={"delete": "Tick the box to confirm that this draft should be deleted."},
                     status=400)
    try:
        issues.delete(issue_id)
    except Conflict as error:
        return _refused(coordinator, issue_id, error, "delete")
    if web.wants_json(bp.current_request):
        return web.json_response({"issue_id": issue_id, "deleted": True})
    return web.redirect("/coordinator/issues?deleted=1")


NOTICES = {
    "created": "Issue created. Preview it, send yourself a test, then send or schedule it.",
    "saved": "Your changes are saved.",
    "test": "A test copy is on its way to {tests}.",
    "sending": "Sending has started.",
    "already": "This issue is already sending.",
    "approved": "Approved. It can now be sent.",
    "scheduled": "Scheduled for {when} (London time).",
    "unscheduled": "Schedule cancelled. The issue is a draft again.",
}


def _show(coordinator, issue_id: str, notice: str = "", errors: dict | None = None, status: int = 200,
          test_to: str = ""):
    import secrets

    from chalicelib import audience, send_run
    from chalicelib.rendering import environment

    issue = issues.get(issue_id)
    query = bp.current_request.query_params or {}
    if not notice:
        shown = next((k for k in NOTICES if k in query), "")
        if shown in ("sending", "already") and issue["status"] != "sending":
            shown = ""  # a reload once the send is over: the progress says "Done"
        when = environment().filters["london"](issue["scheduled_for"]) if issue.get("scheduled_for") else ""
        tests = str(query.get("test", ""))
        tests = ("you" if tests == "you" else "1 address" if tests == "1" else f"{int(tests)} addresses"
                 if tests.isdigit() else "the address you gave")
        notice = NOTICES.get(shown, "").format(when=when, tests=tests) if shown != "scheduled" or when else ""
    return web.html(render_page(
        "coordinator/issue.html", coordinator=coordinator, issue=issue, progress=send_run.progress(issue_id),
        failures=send_run.failures(issue_id) if issue["status"] in issues.PUBLISHED else [],
        notice=notice, errors=errors or {}, values={"send_at": "", "test_to": test_to or coordinator.email},
        submission_id=secrets.token_urlsafe(16), audience_text=audience.describe(issues.audience_of(issue))),
        status=status)


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
    from chalicelib import issue_rendering

    issue = issues.get(issue_id)
    return web.html(render_page("coordinator/issue_preview.html", coordinator=coordinator, issue=issue,
                                text=issue_rendering.preview(issue, coordinator.name).text))


@web.route(bp, "/coordinator/issues/{issue_id}/preview.html", coordinator=True)
def preview_document(issue_id, coordinator):
    from chalicelib import issue_rendering

    rendered = issue_rendering.preview(issues.get(issue_id), coordinator.name)
    return web.html(rendered.html, headers={"Content-Security-Policy": EMAIL_DOCUMENT_CSP})


@web.route(bp, "/coordinator/issues/{issue_id}/test", methods=["POST"], coordinator=True)
def send_test(issue_id, coordinator):
    """A test copy to up to five addresses (the coordinator's own by default); never counted as a send."""
    from chalicelib import issue_rendering

    data = web.body(bp.current_request)
    issue = issues.get(issue_id)
    try:
        addresses = issues.parse_test_addresses(data.get("test_to") or coordinator.email, trusted=(coordinator.email,))
    except ValidationError as error:
        if web.wants_json(bp.current_request):
            raise
        return _show(coordinator, issue_id, errors=error.errors, status=400, test_to=str(data.get("test_to", "")))
    for address in addresses:
        issue_rendering.send_test(issue, address, coordinator.name)
    if web.wants_json(bp.current_request):
        return web.json_response({"issue_id": issue_id, "result": "test", "sent_to": len(addresses)})
    own = [a.lower() for a in addresses] == [coordinator.email.lower()]
    return web.redirect(f"/coordinator/issues/{issue_id}?test={'you' if own else len(addresses)}")  # no address in a URL


def _confirm_page(coordinator, issue: dict, send_at: str = "", chosen=None, values: dict | None = None,
                  errors: dict | None = None, status: int = 200):
    """What a send will do, and to exactly how many people, before anything is sent or scheduled."""
    from chalicelib import audience, newsletter, send_run
    from chalicelib.rendering import environment
    from chalicelib.settings import get_settings
    from chalicelib.subscriptions import TOPICS

    chosen = chosen or issues.audience_of(issue)
    recipients, paused = send_run.audience_count(chosen)
    when = environment().filters["london"](issues.london_to_utc(send_at)) if send_at else ""
    return web.html(render_page(
        "coordinator/issue_send.html", coordinator=coordinator, issue=issue, subject=newsletter.subject(issue),
        sender=get_settings().newsletter_from, recipients=recipients, paused=paused, send_at=send_at, when=when,
        chosen=chosen, audience_text=audience.describe(chosen), topics=TOPICS, tags=audience.tags(),
        values=values or {}, errors=errors or {}), status=status)


def _chosen_audience(issue: dict, data: dict):
    from chalicelib import audience

    return audience.parse_audience(data, default=issues.audience_of(issue))


@web.route(bp, "/coordinator/issues/{issue_id}/send", coordinator=True)
def confirm_send(issue_id, coordinator):
    issue = issues.get(issue_id)
    if issue["status"] != "draft":
        return web.redirect(f"/coordinator/issues/{issue_id}")
    try:
        issues.check_ready(issue)
    except Conflict as error:
        return _refused(coordinator, issue_id, error, "send")
    query = dict(bp.current_request.query_params or {})
    if "audience_form" in query:  # the count asked again for another audience: a GET of the same page
        params = bp.current_request.query_params
        for name in ("audience_topics", "audience_tags"):
            query[name] = params.getlist(name) if name in query else []
    send_at = str(query.get("send_at", ""))
    try:
        if send_at:
            issues.check_schedule(issue, send_at)
        chosen = _chosen_audience(issue, query)
    except ValidationError as error:
        return _confirm_page(coordinator, issue, "" if "send_at" in error.errors else send_at,
                             errors=error.errors, status=400)
    return _confirm_page(coordinator, issue, send_at, chosen)


@web.route(bp, "/coordinator/issues/{issue_id}/send", methods=["POST"], coordinator=True)
def send_now(issue_id, coordinator):
    from chalicelib import send_run

    data = web.body(bp.current_request)
    if not web.wants_json(bp.current_request) and data.get("confirm") != "yes":
        return web.redirect(f"/coordinator/issues/{issue_id}/send")  # only the confirmation page sends
    issue = issues.get(issue_id)
    try:
        chosen = _chosen_audience(issue, data)
        started = send_run.start(issue_id, by=coordinator.email, audience=chosen)
    except ValidationError as error:
        if web.wants_json(bp.current_request):
            raise
        return _confirm_page(coordinator, issue, errors=error.errors, status=400)
    except Conflict as error:
        return _refused(coordinator, issue_id, error, "send")
    return _after(issue_id, "sending" if started else "already", status=202)


@web.route(bp, "/coordinator/issues/{issue_id}/schedule", methods=["POST"], coordinator=True)
def schedule_issue(issue_id, coordinator):
    data = web.body(bp.current_request)
    send_at = str(data.get("send_at", ""))
    try:
        if not web.wants_json(bp.current_request) and data.get("confirm") != "yes":
            issue = issues.get(issue_id)
            issues.check_schedule(issue, send_at)  # a wrong time is said now, on the issue's page
            return _confirm_page(coordinator, issue, send_at)
        issue = issues.get(issue_id)
        try:
            chosen = _chosen_audience(issue, data)
        except ValidationError as error:
            if web.wants_json(bp.current_request):
                raise
            return _confirm_page(coordinator, issue, send_at, errors=error.errors, status=400)
        issues.schedule(issue_id, send_at, by=coordinator.email, audience=chosen)
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
    from chalicelib import send_run

    if web.wants_json(bp.current_request):
        return web.json_response({"issue_id": issue_id, "result": what, **send_run.progress(issue_id)}, status=status)
    return web.redirect(f"/coordinator/issues/{issue_id}?{what}=1")


@web.route(bp, "/api/coordinator/issues/{issue_id}/progress", coordinator=True, responses=(200, 401, 403, 404))
def api_progress(issue_id, coordinator):
    """Progress of a send: queued, sent, failed, suppressed, remaining, and failures with reasons."""
    from chalicelib import send_run

    return web.json_response({**send_run.progress(issue_id), "failures": send_run.failures(issue_id)})


# ---------------------------------------------------------------- the public archive


@web.route(bp, "/archive")
def archive():
    before = str((bp.current_request.query_params or {}).get("before", ""))[:64]
    page, next_before = issues.archive_page(before)
    return web.html(render_page("archive.html", issues=page, next_before=next_before, first_page=not before,
                                path=issues.archive_path))


@web.route(bp, "/archive/{address}")
def archived_issue(address):
    """The issue as a page of the site, at its readable address. Rendered now, not stored: a story
    withdrawn or narrowed since the send is gone from the archive at once."""
    from chalicelib import images, newsletter
    from chalicelib.settings import get_settings

    issue = issues.published(address)
    if issue.get("slug") and address != issue["slug"]:
        return Response(body="", status_code=301, headers={"Location": issues.archive_path(issue)})
    context = newsletter.web_context(issue)
    base = get_settings().public_base_url
    first_image = next((images.sharp_url(s.image_url) or s.image_url for s in context["sections"] if s.image_url), "")
    return web.html(render_page("archive_issue.html", **context, url=base + issues.archive_path(issue),
                                summary=newsletter.summary(issue), image=first_image))


@web.route(bp, "/archive.atom")
def archive_feed():
    """The published issues as an Atom feed (titles, summaries and links: story words stay on the site,
    where a withdrawal takes effect at once, rather than in readers' feed caches)."""
    from chalicelib import feeds

    page, _ = issues.archive_page(size=20)
    return Response(body=feeds.atom(page), status_code=200,
                        headers={"Content-Type": "application/atom+xml; charset=utf-8"})
