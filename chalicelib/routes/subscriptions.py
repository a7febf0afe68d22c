"""Subscriber pages and API: subscribe, confirm, preferences, export, erase, one-click unsubscribe."""
from __future__ import annotations

import json

from chalice import Blueprint, Response

from chalicelib import subscriptions, web
from chalicelib.errors import ValidationError
from chalicelib.rendering import render_page

bp = Blueprint(__name__)

CHECK_EMAIL = ("Check your email", "If that address can receive our emails, a message is on its way. "
               "Click the link in it to confirm. It may take a few minutes; check your spam folder too.")


def _subscribe_form(values: dict, errors: dict, status: int = 200) -> Response:
    chosen = values.get("topics", ["newsletter"])
    chosen = [chosen] if isinstance(chosen, str) else chosen
    return web.html(render_page(
        "subscribe.html", values=values, errors=errors, topics=subscriptions.TOPICS, chosen=chosen,
        consent_version=subscriptions.CONSENT_VERSION,
        consent_wording=subscriptions.CONSENT_WORDING[subscriptions.CONSENT_VERSION]), status=status)


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
    return web.html(render_page("message.html", title=CHECK_EMAIL[0], message=CHECK_EMAIL[1]))


@web.route(bp, "/confirm/{token}")
def confirm_page(token):
    return web.html(render_page("confirm.html", token=token))


@web.route(bp, "/confirm/{token}", methods=["POST"])
def confirm(token):
    subscriptions.confirm(token)
    return web.html(render_page(
        "message.html", title="You are subscribed",
        message="Thank you for confirming. We have sent you a welcome email with a link to your preferences."))


def _preferences_page(token: str, subscriber: dict, errors: dict, saved: bool = False, status: int = 200):
    return web.html(render_page(
        "preferences.html", token=token, subscriber=subscriber, errors=errors, saved=saved,
        values={"first_name": subscriber.get("first_name", "")}, topics=subscriptions.TOPICS,
        unsubscribe_url=subscriptions.links(subscriptions.email_id(subscriber["email"]))["unsubscribe_url"]),
        status=status)


@web.route(bp, "/preferences")
def manage_link_form():
    return web.html(render_page("manage_link.html", values={}, errors={}))


@web.route(bp, "/api/preferences-link", methods=["POST"], content_types=["application/json"],
           model=subscriptions.MANAGE_LINK_MODEL, responses=(202, 400, 429))
def manage_link_api():
    """Email a fresh preferences link if the address is subscribed (the same answer either way)"""
    return manage_link()


@web.route(bp, "/preferences", methods=["POST"])
def manage_link():
    request = bp.current_request
    data = web.body(request)
    if not data.get("website"):
        try:
            subscriptions.send_manage_link(str(data.get("email", "")), web.client_id(request))
        except ValidationError as error:
            if web.is_json(request):
                raise
            return web.html(render_page("manage_link.html", values=data, errors=error.errors), status=400)
    message = ("If that address is subscribed, we have emailed it a link to its preferences. "
               "It may take a few minutes; check your spam folder too.")
    if web.is_json(request):
        return web.json_response({"status": "check-your-email", "message": message}, status=202)
    return web.html(render_page("message.html", title="Check your email", message=message))


@web.route(bp, "/preferences/{token}")
def preferences(token):
    return _preferences_page(token, subscriptions.preferences(token), {})


@web.route(bp, "/preferences/{token}", methods=["POST"])
def update_preferences(token):
    data = web.body(bp.current_request)
    try:
        subscriber = subscriptions.update_preferences(token, data)
    except ValidationError as error:
        subscriber = {**subscriptions.preferences(token), **{"first_name": data.get("first_name", "")}}
        return _preferences_page(token, subscriber, error.errors, status=400)
    return _preferences_page(token, subscriber, {}, saved=True)


@web.route(bp, "/preferences/{token}/export", methods=["POST"])
def export(token):
    data = subscriptions.export(token)
    return Response(body=json.dumps(data, indent=2, default=str), status_code=200, headers={
        "Content-Type": "application/json",
        "Content-Disposition": 'attachment; filename="peerpost-my-data.json"'})


@web.route(bp, "/preferences/{token}/erase", methods=["POST"])
def erase(token):
    data = web.body(bp.current_request)
    if str(data.get("confirm", "")).lower() not in {"yes", "true", "on"}:
        subscriber = subscriptions.preferences(token)
        return _preferences_page(token, subscriber, {"erase-confirm": "Tick the box to confirm you want your data erased."}, status=400)
    subscriptions.erase(token)
    return web.html(render_page(
        "message.html", title="Your data is erased",
        message="We have deleted your address, name and choices. We will not email you again unless you subscribe afresh."))


@web.route(bp, "/unsubscribe/{token}")
def unsubscribe_page(token):
    # A GET only shows the button: link scanners must never unsubscribe anyone.
    return web.html(render_page("unsubscribe.html", token=token))


@web.route(bp, "/unsubscribe/{token}", methods=["POST"])
def unsubscribe(token):
    # RFC 8058 one-click: no cookies, no redirect, 200 once done.
    subscriptions.unsubscribe(token, "one-click")
    return web.html(render_page(
        "message.html", title="You are unsubscribed",
        message="We will not send you any more #PeerTalk emails. If this was a mistake, you can subscribe again at any time.",
        action_url="/subscribe", action_label="Subscribe again"))
