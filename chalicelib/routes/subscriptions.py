"""Subscriber pages and API: subscribe, confirm, preferences, export, erase, one-click unsubscribe."""
from __future__ import annotations

import json

from chalice import Blueprint, Response

from chalicelib import forms, subscriptions, web
from chalicelib.errors import Conflict, InvalidToken, NotFound, ValidationError
from chalicelib.rendering import render_page

bp = Blueprint(__name__)

CHECK_EMAIL = ("Check your email", "If that address can receive our emails, a message is on its way. "
               "Click the link in it to confirm. It may take a few minutes; check your spam folder too.")


MANAGE_LINK_SENT = ("Check your email", "If we hold that address, we have emailed it a link to see, change, "
                    "download or erase what we hold. It may take a few minutes; check your spam folder too.")
PREFERENCES_NOTICES = {
    "saved": "Your preferences are saved.",
    "unchanged": "Your preferences are saved. Nothing had changed.",
    "saved-not-subscribed": "Your choices are saved, but you are still unsubscribed: saving does not "
                            "subscribe you again, so we send you nothing.",
    "unsubscribed": "You are unsubscribed: we will send you no more #PeerTalk emails.",
    "paused": "Your email is paused. We will send you nothing until the date below, and then start again by ourselves.",
    "resumed": "Your email is on again: you will get the next issue.",
    "not-paused": "Your email was not paused, so nothing changed.",
}


def _chosen(values: dict, default: list[str]) -> list[str]:
    if "topics" not in values:
        return default
    chosen = values["topics"]
    return [chosen] if isinstance(chosen, str) else [c for c in chosen if isinstance(c, str)]


def _subscribe_form(values: dict, errors: dict, status: int = 200) -> Response:
    submitted = bool(errors)  # a re-shown form comes back exactly as it was sent
    values = {**values, "submission": subscriptions.submission_of(values) or subscriptions.new_submission()}
    return web.html(render_page(
        "subscribe.html", values=values, errors=errors, topics=subscriptions.TOPICS,
        chosen=_chosen(values, [] if submitted else ["newsletter"]),
        consent_version=subscriptions.CONSENT_VERSION,
        consent_wording=subscriptions.CONSENT_WORDING[subscriptions.CONSENT_VERSION]), status=status)


def _link_error(error: InvalidToken, action_url: str, action_label: str) -> Response:
    """A link that no longer works, with the way forward."""
    return web.html(render_page("message.html", title=error.title, message=error.message,
                                action_url=action_url, action_label=action_label), status=error.status)


@web.route(bp, "/subscribe")
def subscribe_form():
    return _subscribe_form({}, {})


@web.route(bp, "/subscribe", methods=["POST"])
def subscribe():
    request = bp.current_request
    data = web.body(request)
    as_json = web.is_json(request)
    if data.get("website"):  # the honeypot: answer exactly as for a person, do nothing
        return _subscribed(as_json)
    try:
        parsed = subscriptions.parse_subscribe(data, "api" if as_json else "form")
    except ValidationError as error:
        if as_json:
            raise
        return _subscribe_form(data, error.errors, status=400)
    subscriptions.subscribe(parsed, web.client_id(request))
    return _subscribed(as_json)


@web.route(bp, "/subscribe/check-email")
def subscribed_page():
    return web.html(render_page("message.html", title=CHECK_EMAIL[0], message=CHECK_EMAIL[1]))


@web.route(bp, "/api/subscriptions", methods=["POST"], content_types=["application/json"],
           model=subscriptions.SUBSCRIBE_MODEL, responses=(202, 400, 429))
def subscribe_api():
    """Start a double opt-in subscription (the same answer whatever the address's state)"""
    request = bp.current_request
    data = web.body(request)
    if not data.get("website"):
        subscriptions.subscribe(subscriptions.parse_subscribe(data, "api"), web.client_id(request))
    return _subscribed(True)


def _subscribed(as_json: bool) -> Response:
    if as_json:
        return web.json_response({"status": "check-your-email", "message": CHECK_EMAIL[1]}, status=202)
    return web.redirect("/subscribe/check-email")  # reload and Back never send the form again


@web.route(bp, "/confirm/{token}")
def confirm_page(token):
    # Checked, never changed: a mail scanner opening the link confirms nobody.
    try:
        status = subscriptions.confirm_status(token)
    except InvalidToken as error:
        return _link_error(error, "/subscribe", "Subscribe again")
    if status == "confirmed":
        return web.html(render_page(
            "message.html", title="You are subscribed",
            message="Thank you for confirming. We have sent you a welcome email with a link to your preferences."))
    return web.html(render_page("confirm.html", token=token))


@web.route(bp, "/confirm/{token}", methods=["POST"])
def confirm(token):
    try:
        subscriptions.confirm(token)
    except InvalidToken as error:
        return _link_error(error, "/subscribe", "Subscribe again")
    return web.redirect(f"/confirm/{token}")


def _preferences_page(token: str, subscriber: dict, errors: dict, values: dict | None = None,
                      notice: str = "", status: int = 200):
    values = values if values is not None else subscriber
    return web.html(render_page(
        "preferences.html", token=token, subscriber=subscriber, errors=errors,
        notice=PREFERENCES_NOTICES.get(notice, ""), values={"first_name": values.get("first_name", "")},
        chosen=_chosen(values, []), topics=subscriptions.TOPICS, pause_months=subscriptions.PAUSE_MONTHS,
        paused=subscriptions.is_paused(subscriber),
        unsubscribe_url=subscriptions.links_for(subscriber)["unsubscribe_url"]), status=status)


@web.route(bp, "/preferences")
def manage_link_form():
    return web.html(render_page("manage_link.html", values={"submission": subscriptions.new_submission()},
                                errors={}))


@web.route(bp, "/api/preferences-link", methods=["POST"], content_types=["application/json"],
           model=subscriptions.MANAGE_LINK_MODEL, responses=(202, 400, 429))
def manage_link_api():
    """Email a fresh preferences link if data is held for the address (the same answer either way)"""
    return manage_link()


@web.route(bp, "/preferences", methods=["POST"])
def manage_link():
    request = bp.current_request
    data = web.body(request)
    if not data.get("website"):
        try:
            subscriptions.send_manage_link(str(data.get("email", "")), web.client_id(request),
                                           subscriptions.submission_of(data))
        except ValidationError as error:
            if web.is_json(request):
                raise
            values = {**data, "submission": subscriptions.submission_of(data) or subscriptions.new_submission()}
            return web.html(render_page("manage_link.html", values=values, errors=error.errors), status=400)
    if web.is_json(request):
        return web.json_response({"status": "check-your-email", "message": MANAGE_LINK_SENT[1]}, status=202)
    return web.redirect("/preferences/check-email")


@web.route(bp, "/preferences/check-email")
def manage_link_sent():
    return web.html(render_page("message.html", title=MANAGE_LINK_SENT[0], message=MANAGE_LINK_SENT[1]))


@web.route(bp, "/preferences/{token}")
def preferences(token):
    try:
        subscriber = subscriptions.preferences(token)
    except (InvalidToken, NotFound) as error:
        return _link_error(error, "/preferences", "Email me a new link")
    notice = str(bp.current_request.query_params.get("notice", "") if bp.current_request.query_params else "")
    return _preferences_page(token, subscriber, {}, notice=notice)


@web.route(bp, "/preferences/{token}", methods=["POST"])
def update_preferences(token):
    data = web.body(bp.current_request)
    try:
        outcome = subscriptions.update_preferences(token, data)
    except ValidationError as error:
        return _preferences_page(token, subscriptions.preferences(token), error.errors, values=data, status=400)
    return web.redirect(f"/preferences/{token}?notice={outcome}")


@web.route(bp, "/preferences/{token}/pause", methods=["POST"])
def pause(token):
    data = web.body(bp.current_request)
    try:
        subscriptions.pause(token, subscriptions.parse_pause(data))
    except ValidationError as error:
        return _preferences_page(token, subscriptions.preferences(token), error.errors, status=400)
    except Conflict as error:
        return _preferences_page(token, subscriptions.preferences(token), {"months": error.message}, status=409)
    return web.redirect(f"/preferences/{token}?notice=paused")


@web.route(bp, "/preferences/{token}/resume", methods=["POST"])
def resume(token):
    resumed = subscriptions.resume(token)
    return web.redirect(f"/preferences/{token}?notice={'resumed' if resumed else 'not-paused'}")


@web.route(bp, "/preferences/{token}/export", methods=["POST"])
def export(token):
    data = subscriptions.export(token)
    return Response(body=json.dumps(data, indent=2, default=str), status_code=200, headers={
        "Content-Type": "application/json",
        "Content-Disposition": 'attachment; filename="peerpost-my-data.json"'})


@web.route(bp, "/preferences/{token}/erase", methods=["POST"])
def erase(token):
    data = web.body(bp.current_request)
    if not forms.ticked(data.get("confirm")):
        subscriber = subscriptions.preferences(token)
        return _preferences_page(token, subscriber, {"erase-confirm": "Tick the box to confirm you want your data erased."}, status=400)
    subscriptions.erase(token)
    return web.redirect(f"/preferences/{token}/erased")


@web.route(bp, "/preferences/{token}/erased")
def erased(token):
    if subscriptions.holds_data(token):  # not erased (this link was opened by hand): show the data
        return web.redirect(f"/preferences/{token}")
    return web.html(render_page(
        "message.html", title="Your data is erased",
        message="We have deleted your address, name and choices. We will not email you again unless you subscribe afresh."))


@web.route(bp, "/unsubscribe/{token}")
def unsubscribe_page(token):
    # A GET only shows the button (or that it is done): link scanners must never unsubscribe anyone.
    if subscriptions.unsubscribe_status(token) == "unsubscribed":
        return _unsubscribed()
    return web.html(render_page("unsubscribe.html", token=token))


@web.route(bp, "/unsubscribe/{token}", methods=["POST"])
def unsubscribe(token):
    subscriptions.unsubscribe(token, "one-click")
    if web.body(bp.current_request).get("via") == "page":
        return web.redirect(f"/unsubscribe/{token}")  # our own page's button: reload and Back send nothing
    return _unsubscribed()  # RFC 8058 one-click from a mail client: no cookies, no redirect, 200 once done


def _unsubscribed() -> Response:
    return web.html(render_page(
        "message.html", title="You are unsubscribed",
        message="We will not send you any more #PeerTalk emails. If this was a mistake, you can subscribe again at any time.",
        action_url="/subscribe", action_label="Subscribe again"))
