"""Event pages: Dates for the diary, registration, links from event emails, and the coordinator's event pages."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib import events, web
from chalicelib.errors import ValidationError
from chalicelib.rendering import render_page

bp = Blueprint(__name__)

CHECK_EMAIL = ("Check your email", "Thank you. We have emailed you a link: press the button it leads to and "
               "you will have your place, or your number on the waiting list if it is full by then. Nothing "
               "is reserved until you do, and the link works for 48 hours. It may take a few minutes to "
               "arrive; check your spam folder too.")


# ---------------------------------------------------------------- public

@web.route(bp, "/events")
def diary():
    return web.html(render_page("events.html", events=events.upcoming(), availability=events.availability,
                                when=events.when, where=events.where, how=events.how_to_register))


def _event_page(event: dict, values: dict, errors: dict, status: int = 200) -> Response:
    return web.html(render_page(
        "event.html", event=event, values=values, errors=errors, when=events.when(event),
        where=events.where(event), availability=events.availability(event), how=events.how_to_register(event),
        state=events.status(event), can_register=events.can_register(event),
        consent_wording=events.ACCESS_CONSENT_WORDING), status=status)


@web.route(bp, "/events/{event_id}")
def event_page(event_id):
    return _event_page(events.get_or_404(event_id), {}, {})


@web.route(bp, "/events/{event_id}/register", methods=["POST"])
def register(event_id):
    request = bp.current_request
    data = web.body(request)
    as_json = web.is_json(request)
    event = events.get_or_404(event_id)
    if data.get("website"):  # the honeypot: answer exactly as for a person, do nothing
        return _registered(as_json)
    try:
        person = events.parse_registration(data)
    except ValidationError as error:
        if as_json:
            raise
        return _event_page(event, data, error.errors, status=400)
    events.request_registration(event_id, person, web.client_id(request))
    return _registered(as_json, event_id)


def _registered(as_json: bool, event_id: str) -> Response:
    if as_json:
        return web.json_response({"status": "check-your-email", "message": CHECK_EMAIL[1]}, status=202)
    return web.redirect(f"/events/{event_id}/check-your-email")


@web.route(bp, "/events/{event_id}/check-your-email")
def check_your_email(event_id):
    events.get_or_404(event_id)
    return web.html(render_page("message.html", title=CHECK_EMAIL[0], message=CHECK_EMAIL[1],
                                action_url="/events", action_label="Back to Dates for the diary"))


@web.route(bp, "/events/confirm/{token}")
def confirm_page(token):
    event, reg = events.from_confirm_token(token)
    if reg["status"] != events.PENDING:
        return web.redirect(f"/events/registration/{events.manage_token(reg)}")
    return web.html(render_page(
        "event_confirm.html", event=event, reg=reg, token=token, when=events.when(event), where=events.where(event),
        how=events.how_to_register(event), can_register=events.can_register(event)))


@web.route(bp, "/events/confirm/{token}", methods=["POST"])
def confirm(token):
    before = events.from_confirm_token(token)[1]["status"]
    event, reg = events.confirm_registration(token)
    notice = f"?notice={reg['status']}" if before == events.PENDING else ""
    return web.redirect(f"/events/registration/{events.manage_token(reg)}{notice}")


@web.route(bp, "/events/{event_id}/calendar.ics")
def calendar(event_id):
    event = events.get_or_404(event_id)
    return Response(body=events.ics(event).decode(), status_code=200, headers={
        "Content-Type": "text/calendar; charset=utf-8",
        "Content-Disposition": f'attachment; filename="{event_id}.ics"'})


REGISTRATION_NOTICES = {
    "confirmed": "Your place is confirmed. We have emailed you the details, with a calendar file.",
    "waiting": "You are on the waiting list. We have emailed you your number in the queue.",
    "gave-back": "You have given your place back. Thank you: it goes to the next person on the waiting list.",
    "left": "You have left the waiting list.",
    "declined": "You have declined the place. Thank you: it goes to the next person on the waiting list.",
}


@web.route(bp, "/events/registration/{token}")
def registration(token):
    event, reg = events.from_manage_token(token)
    notice = (bp.current_request.query_params or {}).get("notice", "")
    return _registration_page(event, reg, REGISTRATION_NOTICES.get(notice, ""))


def _registration_page(event: dict, reg: dict, notice: str = "") -> Response:
    return web.html(render_page(
        "event_registration.html", event=event, reg=reg, position=events.position(reg), when=events.when(event),
        where=events.where(event), state=events.status(event), notice=notice, manage_token=events.manage_token(reg),
        offer_token=events.offer_token(reg) if reg["status"] == "offered" else ""))


@web.route(bp, "/events/registration/{token}/give-back", methods=["POST"])
def give_back(token):
    before = events.from_manage_token(token)[1]["status"]
    events.give_back(token)
    notice = {"confirmed": "gave-back", "waiting": "left", "offered": "declined"}.get(before)
    return web.redirect(f"/events/registration/{token}" + (f"?notice={notice}" if notice else ""))


@web.route(bp, "/events/offer/{token}")
def offer(token):
    event, reg, state = events.from_offer_token(token)
    return _offer_page(event, reg, state, token)


def _offer_page(event: dict, reg: dict, state: str, token: str, status: int = 200) -> Response:
    return web.html(render_page(
        "event_offer.html", event=event, reg=reg, state=state, token=token, when=events.when(event),
        where=events.where(event), manage_path=f"/events/registration/{events.manage_token(reg)}"), status=status)


@web.route(bp, "/events/offer/{token}/accept", methods=["POST"])
def accept(token):
    events.accept_offer(token)
    return web.redirect(f"/events/offer/{token}")


@web.route(bp, "/events/offer/{token}/decline", methods=["POST"])
def decline(token):
    events.decline_offer(token)
    return web.redirect(f"/events/offer/{token}")


# ---------------------------------------------------------------- coordinator

@web.route(bp, "/coordinator/events", coordinator=True)
def coordinator_events(coordinator):
    listed = sorted(events.all_events(), key=lambda e: (e.get("starts_at") or "~", e["title"]))
    return web.html(render_page("coordinator/events.html", coordinator=coordinator,
                                events=[(e, events.summary(e)) for e in listed]))


def _event_form(coordinator, values: dict, errors: dict, event: dict | None = None, status: int = 200):
    return web.html(render_page("coordinator/event_form.html", coordinator=coordinator, values=values,
                                errors=errors, event=event, modes=events.MODES), status=status)


@web.route(bp, "/coordinator/events/new", coordinator=True)
def new_event(coordinator):
    return _event_form(coordinator, {"mode": "open", "waiting_list": "yes", "form_id": events.new_form_id()}, {})


@web.route(bp, "/coordinator/events", methods=["POST"], coordinator=True)
def create_event(coordinator):
    data = web.body(bp.current_request)
    form_id = str(data.get("form_id", ""))[:64]
    event_id = events.form_key(form_id) if form_id else None
    if event_id and events.get(event_id):
        return web.redirect(f"/coordinator/events/{event_id}?notice=already")
    try:
        event = events.create(events.parse_event(data), event_id)
    except ValidationError as error:
        return _event_form(coordinator, data, error.errors, status=400)
    return web.redirect(f"/coordinator/events/{event['event_id']}?notice=created")


@web.route(bp, "/coordinator/events/{event_id}", coordinator=True)
def coordinator_event(event_id, coordinator):
    event = events.get_or_404(event_id)
    regs = events.registrations(event_id)
    query = bp.current_request.query_params or {}
    return web.html(render_page(
        "coordinator/event.html", coordinator=coordinator, event=event, summary=events.summary(event),
        registrations=regs, positions=events.waiting_positions(event_id), when=events.when(event),
        where=events.where(event), notice=_notice(query), modes=events.MODES, active=events.ACTIVE,
        submission_id=_submission()))


def _submission() -> str:
    import secrets

    return secrets.token_urlsafe(16)


@web.route(bp, "/coordinator/events/{event_id}/announcement", methods=["POST"], coordinator=True)
def announce_event(event_id, coordinator):
    """Start an announcement about this event: a draft in the editor, to the announcements topic."""
    from chalicelib import issues

    event = events.get_or_404(event_id)
    data = web.body(bp.current_request)
    draft = issues.announcement_for(event, by=coordinator.email,
                                    submission_id=str(data.get("submission_id", ""))[:issues.MAX_SUBMISSION_ID])
    return web.redirect(f"/coordinator/issues/{draft['issue_id']}/edit")


def _people(n: int) -> str:
    return f"{n} {'person' if n == 1 else 'people'}"


def _number(query: dict, name: str) -> int:
    value = str(query.get(name, "0"))
    return int(value) if value.isascii() and value.isdigit() and len(value) < 7 else 0


def _notice(query: dict) -> str:
    told, offers = _number(query, "told"), _number(query, "offers")
    return {
        "created": "Event created. It is on Dates for the diary now.",
        "already": "This event was already created from that form, so nothing was created twice.",
        "saved": "Your changes are saved." + (f" {_people(told)} {'was' if told == 1 else 'were'} emailed the new time or place." if told else
                                              " Nobody needed telling of a change of time or place."),
        "offered": "The place is offered. They have been emailed a link to accept or decline it.",
        "cancelled": f"The event is cancelled. {_people(told)} {'was' if told == 1 else 'were'} emailed that it is cancelled"
                     + (f", and {offers} open offer{'s were' if offers != 1 else ' was'} withdrawn." if offers else "."),
    }.get(str(query.get("notice", "")), "")


@web.route(bp, "/coordinator/events/{event_id}/edit", coordinator=True)
def edit_event(event_id, coordinator):
    event = events.get_or_404(event_id)
    return _event_form(coordinator, events.form_values(event), {}, event)


@web.route(bp, "/coordinator/events/{event_id}/edit", methods=["POST"], coordinator=True)
def update_event(event_id, coordinator):
    event = events.get_or_404(event_id)
    data = web.body(bp.current_request)
    try:
        _, told = events.update(event_id, events.parse_event(data, current=event))
    except ValidationError as error:
        return _event_form(coordinator, data, error.errors, event, status=400)
    return web.redirect(f"/coordinator/events/{event_id}?notice=saved&told={told}")


def _cancel_page(coordinator, event: dict, values: dict, errors: dict, status: int = 200) -> Response:
    return web.html(render_page(
        "coordinator/event_cancel.html", coordinator=coordinator, event=event, when=events.when(event),
        affected=events.affected(event["event_id"]), values=values, errors=errors), status=status)


@web.route(bp, "/coordinator/events/{event_id}/cancel", coordinator=True)
def confirm_cancel(event_id, coordinator):
    event = events.get_or_404(event_id)
    if event["status"] == "cancelled":
        return web.redirect(f"/coordinator/events/{event_id}")
    return _cancel_page(coordinator, event, {}, {})


@web.route(bp, "/coordinator/events/{event_id}/cancel", methods=["POST"], coordinator=True)
def cancel_event(event_id, coordinator):
    data = web.body(bp.current_request)
    if str(data.get("confirm", "")) != "yes":
        return web.redirect(f"/coordinator/events/{event_id}/cancel")  # only the confirmation page cancels
    event = events.get_or_404(event_id)
    try:
        message = events.parse_cancel_message(data)
    except ValidationError as error:
        return _cancel_page(coordinator, event, data, error.errors, status=400)
    _, reached = events.cancel_event(event_id, message)
    return web.redirect(f"/coordinator/events/{event_id}?notice=cancelled&told={reached.total}&offers={reached.offered}")


@web.route(bp, "/coordinator/events/{event_id}/offer", methods=["POST"], coordinator=True)
def offer_by_hand(event_id, coordinator):
    data = web.body(bp.current_request)
    events.offer_by_hand(event_id, str(data.get("registration_id", "")))
    return web.redirect(f"/coordinator/events/{event_id}?notice=offered")


@web.route(bp, "/coordinator/events/{event_id}/registrations.csv", coordinator=True, audited=True)
def registrations_csv(event_id, coordinator):
    return Response(body=events.export_csv(event_id), status_code=200, headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="peerpost-event-{event_id}.csv"'})


@web.route(bp, "/api/coordinator/events", methods=["POST"], coordinator=True,
           model=events.EVENT_MODEL, responses=(201, 400, 401, 403))
def api_create_event(coordinator):
    """Create an event"""
    event = events.create(events.parse_event(web.body(bp.current_request)))
    return web.json_response(events.summary(event), status=201)


@web.route(bp, "/api/coordinator/events/{event_id}", coordinator=True, responses=(200, 401, 403, 404))
def api_event(event_id, coordinator):
    """An event's counts, registrations and waiting list"""
    event = events.get_or_404(event_id)
    positions = events.waiting_positions(event_id)
    return web.json_response({**events.summary(event), "registrations": [
        {"registration_id": r["registration_id"], "name": r["name"], "status": r["status"],
         "arrival": int(r["arrival"]), "position": positions.get(r["registration_id"])}
        for r in events.registrations(event_id)]})
