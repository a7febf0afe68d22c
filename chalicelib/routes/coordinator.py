"""Coordinator sign-in, overview and subscriber pages. Every route but sign-in requires a session."""
from __future__ import annotations

from urllib.parse import quote, urlencode, urlparse

from chalice import Blueprint, Response

from chalicelib import audience, auth, forms, links, subscriptions, tokens, web
from chalicelib.errors import Forbidden, RateLimited, ValidationError
from chalicelib.forms import ticked
from chalicelib.rendering import render_page

bp = Blueprint(__name__)


def _safe_next(target: str) -> str:
    """A coordinator page of this site to return to after signing in, or the overview."""
    target = str(target or "")
    if not target.isprintable() or "\\" in target:
        return "/coordinator"
    try:  # a path typed or pasted with non-ASCII letters is still that path, percent-encoded
        target = quote(target, safe="/?&=%#;:@+,$!*'()~")
    except UnicodeEncodeError:  # a lone surrogate: no path at all
        return "/coordinator"
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not (parsed.path == "/coordinator" or parsed.path.startswith("/coordinator/")):
        return "/coordinator"
    return target


def _sign_in_page(values: dict, next_path: str, errors: dict | None = None, form_error: str = "",
                  status: int = 200, headers: dict | None = None) -> Response:
    query = bp.current_request.query_params or {}
    notice = ("Your account is ready. Please sign in." if query.get("ready") else
              "Your new password is saved, and you are signed out everywhere. Please sign in." if query.get("reset") else "")
    return web.html(render_page("coordinator/sign_in.html", values=values, errors=errors or {}, notice=notice,
                                form_error=form_error, next=_safe_next(next_path)), status=status, headers=headers)


@web.route(bp, "/coordinator/sign-in")
def sign_in_form():
    query = bp.current_request.query_params or {}
    return _sign_in_page({}, query.get("next", ""))


@web.route(bp, "/coordinator/sign-in", methods=["POST"])
def sign_in():
    request = bp.current_request
    data = web.body(request)
    values, next_path = {"email": str(data.get("email", ""))}, str(data.get("next", ""))
    try:
        outcome = auth.sign_in(str(data.get("email", "")), str(data.get("password", "")), web.client_id(request))
    except ValidationError as error:
        return _sign_in_page(values, next_path, errors=error.errors, status=400)
    except RateLimited as error:
        return _sign_in_page(values, next_path, form_error=error.message, status=429, headers=error.headers)
    if outcome.next == "session":
        return web.redirect(_safe_next(next_path), headers={"Set-Cookie": auth.session_cookie(outcome.token)})
    # The password was right; the second factor (or setting one up) comes next, on a page of its own.
    step = "/coordinator/sign-in/code" if outcome.next == "code" else "/coordinator/sign-in/two-factor"
    return web.redirect(step + "?" + urlencode({"next": _safe_next(next_path)}),
                        headers={"Set-Cookie": auth.pending_cookie(outcome.token)})


@web.route(bp, "/api/coordinator/sessions", methods=["POST"], content_types=["application/json"],
           model=auth.SIGN_IN_MODEL, responses=(201, 400, 429))
def api_sign_in():
    """Sign in as a coordinator and receive a bearer token"""
    request = bp.current_request
    data = web.body(request)
    outcome = auth.sign_in(str(data.get("email", "")), str(data.get("password", "")), web.client_id(request))
    if outcome.next == "setup":
        raise Forbidden("Your role needs two-factor sign-in. Sign in once in a browser to set it up, then "
                        "use the API with the code from your app as `code`.")
    token = outcome.token
    if outcome.next == "code":
        if not data.get("code"):
            raise ValidationError({"code": "Give the six-digit code from your authenticator app as `code`."})
        token = auth.second_factor(outcome.token, str(data["code"]), web.client_id(request))
    # "Bearer" names the token scheme; it is not a credential.
    return web.json_response({"token": token, "token_type": "Bearer"}, status=201)  # nosec B105


@web.route(bp, "/coordinator/sign-out", methods=["POST"], coordinator=True)
def sign_out(coordinator):
    auth.sign_out(coordinator)
    return web.redirect("/coordinator/sign-in", headers={"Set-Cookie": auth.clear_cookie()})


@web.route(bp, "/coordinator", coordinator=True)
def dashboard(coordinator):
    from chalicelib import overview

    return web.html(render_page("coordinator/dashboard.html", coordinator=coordinator,
                                counts=subscriptions.counts_by_status(), attention=overview.attention(),
                                growth=overview.growth(), sends=overview.recent_sends()))


def _svg(body: str) -> Response:
    from chalicelib import overview

    return Response(body=body, status_code=200, headers={
        "Content-Type": "image/svg+xml; charset=utf-8", "Cache-Control": "private, no-store",
        "Content-Security-Policy": overview.CHART_CSP})


@web.route(bp, "/coordinator/charts/growth.svg", coordinator=True)
def growth_chart(coordinator):
    from chalicelib import overview

    return _svg(overview.growth_svg(overview.growth()))


@web.route(bp, "/coordinator/charts/sends.svg", coordinator=True)
def sends_chart(coordinator):
    from chalicelib import overview

    return _svg(overview.sends_svg(overview.recent_sends()))


@web.route(bp, "/coordinator/subscribers", coordinator=True)
def subscribers(coordinator):
    query = bp.current_request.query_params or {}
    values = {k: str(query.get(k, "")) for k in ("status", "topic", "tag", "find", "basis")}
    context = {"coordinator": coordinator, "counts": subscriptions.counts_by_status(), "values": values,
               "statuses": audience.FILTER_STATUSES, "topics": subscriptions.TOPICS, "tags": audience.tags(),
               "tag_names_of": audience.names_of, "is_paused": subscriptions.is_paused, "bases": audience.BASES,
               "notice": SUBSCRIBER_DONE.get(str(query.get("done", "")), "")}
    try:
        chosen = audience.parse_filter(query)
        found = audience.page(chosen, str(query.get("after", "")))
    except ValidationError as error:
        return web.html(render_page("coordinator/subscribers.html", errors=error.errors, found=None, **context),
                        status=400)
    next_url = ""
    if found.next_cursor:
        next_url = "/coordinator/subscribers?" + urlencode(
            {"status": chosen.status, "topic": chosen.topic, "tag": chosen.tag, "basis": chosen.basis,
             "after": found.next_cursor})
    return web.html(render_page("coordinator/subscribers.html", errors={}, found=found, chosen=chosen,
                                next_url=next_url, **context))


SUBSCRIBER_DONE = {
    "erased": "Erased. Only a hashed entry remains, so that address is never mailed again by mistake.",
    "unsubscribed": "Unsubscribed. The reason is kept in their consent history.",
    "already-unsubscribed": "They were already unsubscribed; nothing changed.",
    "confirmation-sent": "A new confirmation email is on its way. Nothing else is sent until they confirm.",
    "added-sent": "Added. They have been sent the confirmation email; nothing else is sent until they confirm.",
    "added-already": "They are already subscribed; nothing was sent.",
    "added-cannot": "Their address bounced or complained, so PeerPost cannot email it; nothing was sent.",
    "tag-added": "Tag added.",
    "lifted": "Suppression lifted. They stay unsubscribed until they sign up again and confirm.",
    "not-lifted": "There was nothing to lift: only a hard bounce or a coordinator's stop can be lifted.",
    "tag-removed": "Tag removed.",
    "confirmation-not-sent": "No confirmation was sent: they are not waiting to confirm, or their address "
                             "bounced or complained.",
}


def _person_page(coordinator, sid: str, values: dict | None = None, errors: dict | None = None,
                 status: int = 200) -> Response:
    person = audience.person(sid)
    query = bp.current_request.query_params or {}
    return web.html(render_page("coordinator/subscriber.html", coordinator=coordinator, person=person,
                                topics=subscriptions.TOPICS, tags=audience.tags(),
                                sent=audience.sent_to(sid), sent_window=audience.SENT_HISTORY,
                                values=values or {}, errors=errors or {},
                                notice=SUBSCRIBER_DONE.get(str(query.get("done", "")), ""),
                                submission=subscriptions.new_submission()), status=status)


def _add_page(coordinator, values: dict, errors: dict, status: int = 200) -> Response:
    chosen = values.get("topics", [])
    return web.html(render_page(
        "coordinator/subscriber_add.html", coordinator=coordinator, values=values, errors=errors,
        chosen=[chosen] if isinstance(chosen, str) else chosen, topics=subscriptions.TOPICS,
        consent_wording=subscriptions.CONSENT_WORDING[subscriptions.CONSENT_VERSION],
        consent_version=subscriptions.CONSENT_VERSION), status=status)


@web.route(bp, "/coordinator/add-subscriber", coordinator=True)
def add_subscriber_form(coordinator):
    return _add_page(coordinator, {"submission": subscriptions.new_submission()}, {})


@web.route(bp, "/coordinator/add-subscriber", methods=["POST"], coordinator=True)
def add_subscriber(coordinator):
    data = web.body(bp.current_request)
    try:
        outcome, sid = audience.add_by_hand(data, by=coordinator.email)
    except ValidationError as error:
        return _add_page(coordinator, {k: v for k, v in data.items() if k != "csrf_token"}, error.errors, status=400)
    return web.redirect(f"/coordinator/subscribers/{sid}?done=added-{outcome}")


@web.route(bp, "/coordinator/subscribers/{sid}", coordinator=True)
def subscriber(sid, coordinator):
    return _person_page(coordinator, sid)


@web.route(bp, "/coordinator/subscribers/{sid}/unsubscribe", methods=["POST"], coordinator=True)
def unsubscribe_subscriber(sid, coordinator):
    data = web.body(bp.current_request)
    audience.person(sid)  # a 404 for someone erased meanwhile, before any form error
    try:
        reason = audience.parse_reason(data)
    except ValidationError as error:
        return _person_page(coordinator, sid, values={"reason": str(data.get("reason", ""))},
                            errors=error.errors, status=400)
    changed = subscriptions.unsubscribe_for(sid, reason, by=coordinator.email)
    return web.redirect(f"/coordinator/subscribers/{sid}?done={'unsubscribed' if changed else 'already-unsubscribed'}")


@web.route(bp, "/coordinator/subscribers/{sid}/tags", methods=["POST"], coordinator=True)
def tag_subscriber(sid, coordinator):
    data = web.body(bp.current_request)
    audience.person(sid)
    add = str(data.get("action", "add")) != "remove"
    try:
        audience.tag_person(sid, str(data.get("tag", "")), add=add)
    except ValidationError as error:
        return _person_page(coordinator, sid, errors=error.errors, status=400)
    return web.redirect(f"/coordinator/subscribers/{sid}?done=tag-{'added' if add else 'removed'}")


TAG_DONE = {"added": "Tag added.", "exists": "That tag is there already.", "renamed": "Tag renamed. Everyone who had it keeps it.",
            "deleted": "Tag deleted. Nobody shows it any more.", "gone": "That tag was already deleted."}


@web.route(bp, "/coordinator/tags", coordinator=True)
def tags_page(coordinator):
    done = str((bp.current_request.query_params or {}).get("done", ""))
    return _tags_page(coordinator, notice=TAG_DONE.get(done, ""))


def _tags_page(coordinator, values: dict | None = None, errors: dict | None = None, notice: str = "",
               status: int = 200) -> Response:
    return web.html(render_page("coordinator/tags.html", coordinator=coordinator, tags=audience.tags(),
                                values=values or {}, errors=errors or {}, notice=notice), status=status)


@web.route(bp, "/coordinator/tags", methods=["POST"], coordinator=True)
def add_tag(coordinator):
    data = web.body(bp.current_request)
    try:
        added = audience.define_tag(audience.parse_tag(data))
    except ValidationError as error:
        return _tags_page(coordinator, values={"tag": str(data.get("tag", ""))}, errors=error.errors, status=400)
    return web.redirect(f"/coordinator/tags?done={'added' if added else 'exists'}")


@web.route(bp, "/coordinator/tags/{tag_id}/rename", methods=["POST"], coordinator=True)
def rename_tag(tag_id, coordinator):
    data = web.body(bp.current_request)
    field = f"name-{tag_id}"
    try:
        audience.rename_tag(tag_id, audience.parse_tag(data, field="name"))
    except ValidationError as error:
        errors = {field if k == "name" else k: v for k, v in error.errors.items()}
        return _tags_page(coordinator, values={field: str(data.get("name", ""))}, errors=errors, status=400)
    return web.redirect("/coordinator/tags?done=renamed")


@web.route(bp, "/coordinator/tags/{tag_id}/delete", methods=["POST"], coordinator=True)
def delete_tag(tag_id, coordinator):
    data = web.body(bp.current_request)
    if not ticked(data.get("confirm")):
        return _tags_page(coordinator, errors={f"confirm-{tag_id}": "Tick the box to confirm the tag should be deleted."},
                          status=400)
    return web.redirect(f"/coordinator/tags?done={'deleted' if audience.delete_tag(tag_id) else 'gone'}")


# ---------------------------------------------------------------- suppressions

SUPPRESSION_DONE = {"added": "Stopped. PeerPost will send that address nothing, not even a confirmation.",
                    "lifted": "Suppression lifted. They stay unsubscribed until they sign up again and confirm.",
                    "not-lifted": "There was nothing to lift: only a hard bounce or a coordinator's stop can be lifted."}


def _suppressions_page(coordinator, values: dict | None = None, errors: dict | None = None,
                       status: int = 200) -> Response:
    query = bp.current_request.query_params or {}
    cursor = None
    if query.get("after"):
        cursor = tokens.verify(links.Purpose.SUPPRESSIONS_PAGE, str(query["after"]))
    rows, last = subscriptions.suppressions(cursor if isinstance(cursor, dict) else None)
    return web.html(render_page(
        "coordinator/suppressions.html", coordinator=coordinator, rows=rows, kinds=subscriptions.SUPPRESSION_KINDS,
        liftable=subscriptions.LIFTABLE, next_url=("/coordinator/suppressions?" + urlencode(
            {"after": tokens.sign(links.Purpose.SUPPRESSIONS_PAGE, last)})) if last else "",
        values=values or {}, errors=errors or {}, notice=SUPPRESSION_DONE.get(str(query.get("done", "")), "")),
        status=status)


@web.route(bp, "/coordinator/suppressions", coordinator=True)
def suppressions_page(coordinator):
    return _suppressions_page(coordinator)


@web.route(bp, "/coordinator/suppressions", methods=["POST"], coordinator=True)
def add_suppression(coordinator):
    data = web.body(bp.current_request)
    values = {"email": str(data.get("email", "")), "note": str(data.get("note", ""))}
    errors: dict[str, str] = {}
    try:
        note = audience.parse_reason({"reason": data.get("note")})
    except ValidationError as error:
        errors["note"] = error.errors["reason"]
    try:
        forms.email_address(values["email"])
    except ValidationError as error:
        errors["email"] = error.errors["email"]
    if errors:
        return _suppressions_page(coordinator, values=values, errors=errors, status=400)
    subscriptions.suppress_by_hand(values["email"], note, by=coordinator.email)
    return web.redirect("/coordinator/suppressions?done=added")


@web.route(bp, "/coordinator/suppressions/{sid}/lift", methods=["POST"], coordinator=True)
def lift_suppression(sid, coordinator):
    data = web.body(bp.current_request)
    try:
        reason = audience.parse_reason({"reason": data.get("lift_reason")})
    except ValidationError as error:
        errors = {"lift_reason": error.errors["reason"]}
        if subscriptions.load(sid):
            return _person_page(coordinator, sid, values={"lift_reason": str(data.get("lift_reason", ""))},
                                errors=errors, status=400)
        return _suppressions_page(coordinator, values={"lift_reason": str(data.get("lift_reason", "")), "lift_sid": sid},
                                  errors=errors, status=400)
    lifted = subscriptions.lift_suppression(sid, reason, by=coordinator.email)
    where = f"/coordinator/subscribers/{sid}" if subscriptions.load(sid) else "/coordinator/suppressions"
    return web.redirect(f"{where}?done={'lifted' if lifted else 'not-lifted'}")


@web.route(bp, "/coordinator/subscribers/{sid}/confirmation", methods=["POST"], coordinator=True)
def resend_confirmation(sid, coordinator):
    audience.person(sid)
    sent = subscriptions.resend_confirmation(sid, subscriptions.submission_of(web.body(bp.current_request)))
    return web.redirect(f"/coordinator/subscribers/{sid}?done=confirmation-{'sent' if sent else 'not-sent'}")


@web.route(bp, "/coordinator/subscribers/{sid}/erase", methods=["POST"], coordinator=True)
def erase_subscriber(sid, coordinator):
    data = web.body(bp.current_request)
    if subscriptions.load(sid) is None:  # erased already: a second press is the same success
        return web.redirect("/coordinator/subscribers?done=erased")
    if not ticked(data.get("confirm")):
        return _person_page(coordinator, sid, errors={"confirm": "Tick the box to confirm the erasure."},
                            status=400)
    subscriptions.erase_subscriber(sid)
    return web.redirect("/coordinator/subscribers?done=erased")


@web.route(bp, "/coordinator/subscribers/{sid}/data.json", coordinator=True, audited=True)
def subscriber_data(sid, coordinator):
    """Everything held about one subscriber, for a request of access made to a coordinator"""
    data = subscriptions.export_of(audience.person(sid))
    return web.json_response(data, headers={"Content-Disposition": 'attachment; filename="peerpost-my-data.json"'})


@web.route(bp, "/coordinator/subscribers.csv", coordinator=True, audited=True)
def subscribers_csv(coordinator):
    return Response(body=subscriptions.export_csv(), status_code=200, headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": 'attachment; filename="peerpost-subscribers.csv"'})


@web.route(bp, "/api/coordinator/subscribers", coordinator=True)
def api_subscriber_counts(coordinator):
    """Subscriber counts by status"""
    return web.json_response({"counts": subscriptions.counts_by_status()})
