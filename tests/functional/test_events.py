"""Events through the HTTP routes, against moto: registration, waiting list, offers, reminders, privacy."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.conftest import FORM, JSON, as_json, form, text_of

DAY = 86400


def make_event(capacity=2, mode="open", days=10, tbc=False, **extra):
    from chalicelib import clock, events

    # noon UTC, so an edit form's same-day start and end never straddle midnight
    start = (clock.now() + timedelta(days=days)).replace(hour=12, minute=0, second=0, microsecond=0)
    fields = {"title": "Peer Worker Network Meeting", "audience": "Peer workers in K&C and QPP",
              "venue": "K&C Mind Meeting Room", "online_url": "", "contact": "", "capacity": capacity,
              "mode": mode, "waiting_list": True,
              "starts_at": "" if tbc else clock.iso(start), "ends_at": "" if tbc else clock.iso(start + timedelta(hours=1.5)),
              **extra}
    return events.create(fields)


def until(moment_iso: str, offset_seconds: int = 0) -> None:
    """Move the clock to just around a stored time."""
    from chalicelib import clock

    clock.advance((clock.parse_iso(moment_iso) - clock.now()).total_seconds() + offset_seconds)


def person(n: int) -> dict:
    return {"name": f"Person {n}", "email": f"person{n}@example.org"}


def ask(client, event, data):
    """The public form alone: a request that counts for nothing until the address confirms it."""
    return client.http.post(f"/events/{event['event_id']}/register", headers=FORM, body=form(data))


def register(client, event, data):
    """The form, then the button behind the link it emails (as the address's owner would)."""
    from tests.conftest import Outbox

    response = ask(client, event, data)
    requests = [m for m in Outbox().to(str(data.get("email", "")).lower()) if m["Subject"].startswith("Please confirm")]
    if requests and response.status_code == 303:
        confirmed = client.http.post(link(requests[-1], "confirm"), headers=FORM, body="")
        assert confirmed.status_code == 303, confirmed.body
    return response


def mail_to(outbox, address: str):
    """What the address got apart from the requests to confirm."""
    return [m for m in outbox.to(address) if not m["Subject"].startswith("Please confirm")]


def link(message, path: str) -> str:
    found = re.search(rf"https://peerpost\.test(/events/{path}/[A-Za-z0-9_.\-]+)", text_of(message))
    assert found, f"no /events/{path}/ link in the message"
    return found.group(1)


def state(event_id):
    from chalicelib import events

    return events.get(event_id), {r["email"]: r for r in events.registrations(event_id)}


def ics_of(message):
    from icalendar import Calendar

    parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    return Calendar.from_ical(parts[0].get_payload(decode=True))


def test_register_confirms_and_emails_a_calendar_file(client, outbox):
    event = make_event(capacity=2, online_url="https://meet.example.org/abc")
    response = register(client, event, person(1))
    assert response.status_code == 303  # POST/redirect/GET: reload and Back never send the form again
    assert b"Check your email" in client.http.get(response.headers["Location"]).body
    [message] = mail_to(outbox, "person1@example.org")
    assert message["Subject"] == "Your place at Peer Worker Network Meeting is confirmed"
    assert "https://meet.example.org/abc" in text_of(message)  # the private link, to an attendee only
    calendar = ics_of(message)
    [vevent] = calendar.walk("VEVENT")
    assert str(vevent["SUMMARY"]) == "Peer Worker Network Meeting"
    assert vevent.decoded("DTSTART").isoformat() == event["starts_at"]
    assert "meet.example.org" in str(vevent["LOCATION"])
    assert "/events/registration/" in text_of(message)
    stored, regs = state(event["event_id"])
    assert (int(stored["free"]), int(stored["confirmed"])) == (1, 1)
    assert regs["person1@example.org"]["status"] == "confirmed"


def test_public_pages_never_show_the_online_link(client, outbox):
    event = make_event(online_url="https://meet.example.org/secret")
    for path in ("/events", f"/events/{event['event_id']}", f"/events/{event['event_id']}/calendar.ics"):
        response = client.http.get(path)
        assert response.status_code == 200
        assert b"meet.example.org/secret" not in response.body


def test_full_event_puts_people_on_the_waiting_list_with_positions(client, outbox):
    event = make_event(capacity=1)
    for n in range(1, 4):
        assert register(client, event, person(n)).status_code == 303
    stored, regs = state(event["event_id"])
    assert [regs[f"person{n}@example.org"]["status"] for n in (1, 2, 3)] == ["confirmed", "waiting", "waiting"]
    assert (int(stored["confirmed"]), int(stored["waiting"]), int(stored["free"])) == (1, 2, 0)
    third = mail_to(outbox, "person3@example.org")[0]
    assert third["Subject"] == "You are on the waiting list for Peer Worker Network Meeting"
    assert "You are number 2" in text_of(third)
    assert "Leave the waiting list" in text_of(third)
    page = client.http.get(link(third, "registration")).body.decode()
    assert "You are number 2" in page
    assert "Waiting list open" in client.http.get("/events").body.decode()


def test_registering_twice_same_page_one_place_and_an_already_registered_email(client, outbox):
    event = make_event(capacity=5)
    first = register(client, event, person(1))
    second = register(client, event, {**person(1), "email": "PERSON1@example.org"})
    assert first.status_code == second.status_code == 303
    assert first.body == second.body
    stored, regs = state(event["event_id"])
    assert len(regs) == 1 and int(stored["confirmed"]) == 1
    subjects = [m["Subject"] for m in mail_to(outbox, "person1@example.org")]
    assert subjects == ["Your place at Peer Worker Network Meeting is confirmed",
                        "You are already registered for Peer Worker Network Meeting"]
    assert "/events/registration/" in text_of(mail_to(outbox, "person1@example.org")[1])


def test_same_page_for_new_and_known_addresses_on_a_full_event(client, outbox):
    event = make_event(capacity=1)
    register(client, event, person(1))
    known = register(client, event, person(1))
    unknown = register(client, event, person(2))
    assert known.body == unknown.body


def test_cancelling_offers_the_place_to_the_next_person_who_accepts(client, outbox):
    event = make_event(capacity=1)
    for n in (1, 2, 3):
        register(client, event, person(n))
    manage = link(mail_to(outbox, "person1@example.org")[0], "registration")
    assert b"Give my place back" in client.http.get(manage).body
    response = client.http.post(manage + "/give-back", headers=FORM, body="")
    assert response.status_code == 303
    assert b"given your place back" in client.http.get(response.headers["Location"]).body
    stored, regs = state(event["event_id"])
    assert regs["person1@example.org"]["status"] == "cancelled"
    assert regs["person2@example.org"]["status"] == "offered"
    assert (int(stored["free"]), int(stored["held"]), int(stored["waiting"])) == (0, 1, 1)
    # the held place is not for the public: a newcomer joins the queue
    register(client, event, person(4))
    assert state(event["event_id"])[1]["person4@example.org"]["status"] == "waiting"
    offer_mail = mail_to(outbox, "person2@example.org")[-1]
    assert offer_mail["Subject"] == "A place is free for you at Peer Worker Network Meeting"
    offer = link(offer_mail, "offer")
    assert b"Accept the place" in client.http.get(offer).body
    accepted = client.http.post(offer + "/accept", headers=FORM, body="")
    assert accepted.status_code == 303 and accepted.headers["Location"] == offer
    assert b"Your place is confirmed" in client.http.get(offer).body
    stored, regs = state(event["event_id"])
    assert regs["person2@example.org"]["status"] == "confirmed"
    assert (int(stored["confirmed"]), int(stored["held"]), int(stored["waiting"])) == (1, 0, 2)
    assert mail_to(outbox, "person2@example.org")[-1]["Subject"].startswith("Your place at")
    # a second click changes nothing
    client.http.post(offer + "/accept", headers=FORM, body="")
    assert b"Your place is confirmed" in client.http.get(offer).body
    assert int(state(event["event_id"])[0]["confirmed"]) == 1


def test_offer_expires_and_passes_on_and_late_accept_is_explained(client, outbox):
    from chalicelib import clock, events, settings

    event = make_event(capacity=1)
    for n in (1, 2, 3):
        register(client, event, person(n))
    client.http.post(link(mail_to(outbox, "person1@example.org")[0], "registration") + "/give-back", headers=FORM, body="")
    offer = link(mail_to(outbox, "person2@example.org")[-1], "offer")
    clock.advance(settings.get_settings().offer_window_hours * 3600 + 60)
    assert events.pass_on_expired_offers() == 1
    assert events.pass_on_expired_offers() == 0
    _, regs = state(event["event_id"])
    assert regs["person2@example.org"]["status"] == "expired"
    assert regs["person3@example.org"]["status"] == "offered"
    assert len([m for m in mail_to(outbox, "person3@example.org") if "A place is free" in m["Subject"]]) == 1
    late = client.http.post(offer + "/accept", headers=FORM, body="")
    assert late.status_code == 303
    page = client.http.get(offer).body
    assert b"This offer has expired" in page and b"next person" in page
    assert regs["person2@example.org"]["status"] == state(event["event_id"])[1]["person2@example.org"]["status"]


def test_late_accept_before_the_sweep_passes_the_place_on_at_once(client, outbox):
    from chalicelib import clock, settings

    event = make_event(capacity=1)
    for n in (1, 2, 3):
        register(client, event, person(n))
    client.http.post(link(mail_to(outbox, "person1@example.org")[0], "registration") + "/give-back", headers=FORM, body="")
    offer = link(mail_to(outbox, "person2@example.org")[-1], "offer")
    clock.advance(settings.get_settings().offer_window_hours * 3600 + 1)
    client.http.post(offer + "/accept", headers=FORM, body="")
    assert b"This offer has expired" in client.http.get(offer).body
    assert state(event["event_id"])[1]["person3@example.org"]["status"] == "offered"


def test_decline_passes_on_and_leave_waiting_list(client, outbox):
    event = make_event(capacity=1)
    for n in (1, 2, 3, 4):
        register(client, event, person(n))
    client.http.post(link(mail_to(outbox, "person4@example.org")[0], "registration") + "/give-back", headers=FORM, body="")
    client.http.post(link(mail_to(outbox, "person1@example.org")[0], "registration") + "/give-back", headers=FORM, body="")
    offer = link(mail_to(outbox, "person2@example.org")[-1], "offer")
    client.http.post(offer + "/decline", headers=FORM, body="")
    assert b"You have declined" in client.http.get(offer).body
    stored, regs = state(event["event_id"])
    assert [regs[f"person{n}@example.org"]["status"] for n in (1, 2, 3, 4)] == ["cancelled", "declined", "offered", "left"]
    assert (int(stored["held"]), int(stored["waiting"]), int(stored["free"])) == (1, 0, 0)


def test_last_cancellation_with_nobody_waiting_frees_a_public_place(client, outbox):
    event = make_event(capacity=1)
    register(client, event, person(1))
    client.http.post(link(mail_to(outbox, "person1@example.org")[0], "registration") + "/give-back", headers=FORM, body="")
    assert "1 place left" in client.http.get(f"/events/{event['event_id']}").body.decode()
    # and the person can come back
    register(client, event, person(1))
    assert state(event["event_id"])[1]["person1@example.org"]["status"] == "confirmed"


def test_reminders_once_each_with_a_give_back_link(client, outbox):
    from chalicelib import clock, events

    event = make_event(capacity=3, days=3)
    register(client, event, person(1))
    register(client, event, person(2))
    client.http.post(link(mail_to(outbox, "person2@example.org")[0], "registration") + "/give-back", headers=FORM, body="")
    assert events.send_reminders() == 0  # three days ahead: too early
    until(event["starts_at"], -23 * 3600)
    assert events.send_reminders() == 1
    for _ in range(3):
        assert events.send_reminders() == 0
    reminders = [m for m in outbox.messages() if m["Subject"].startswith("Reminder:")]
    assert [str(m["To"]) for m in reminders] == ["person1@example.org"]
    assert "Can't come? Give your place back" in text_of(reminders[0])


def test_scheduled_handlers_run_through_the_app(client, outbox):
    from chalicelib import clock

    event = make_event(capacity=3, days=1)
    register(client, event, person(1))
    until(event["starts_at"], -3600)
    for _ in range(2):
        for name in ("send_event_reminders", "pass_on_expired_offers", "anonymise_past_attendees"):
            client.lambda_.invoke(name, client.events.generate_cw_event(
                source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))
    assert len([m for m in outbox.messages() if m["Subject"].startswith("Reminder:")]) == 1


def test_raising_capacity_offers_places_to_the_queue(client, coordinator, outbox):
    from chalicelib import events

    event = make_event(capacity=1)
    for n in (1, 2, 3, 4):
        register(client, event, person(n))
    values = {**events.form_values(event), "capacity": "3", "csrf_token": coordinator["csrf"]}
    response = client.http.post(f"/coordinator/events/{event['event_id']}/edit", headers=coordinator["form_headers"],
                                body=form(values))
    assert response.status_code == 303
    stored, regs = state(event["event_id"])
    assert [regs[f"person{n}@example.org"]["status"] for n in (1, 2, 3, 4)] == ["confirmed", "offered", "offered", "waiting"]
    assert (int(stored["held"]), int(stored["free"]), int(stored["waiting"])) == (2, 0, 1)


def test_tbc_training_getting_a_date_offers_places_and_tells_the_queue(client, coordinator, outbox):
    from chalicelib import clock, events

    event = make_event(capacity=None, mode="waitlist", tbc=True, title="Peer Support Training")
    for n in (1, 2, 3):
        register(client, event, person(n))
    assert "You are number 3" in text_of(mail_to(outbox, "person3@example.org")[0])
    assert "calendar" not in [p.get_content_type().split("/")[1] for p in mail_to(outbox, "person1@example.org")[0].walk()]
    day = (clock.now() + timedelta(days=20)).strftime("%Y-%m-%d")
    values = {**events.form_values(event), "tbc": "", "date": day, "start_time": "10:00", "end_time": "16:00",
              "capacity": "2", "mode": "open", "csrf_token": coordinator["csrf"]}
    assert client.http.post(f"/coordinator/events/{event['event_id']}/edit", headers=coordinator["form_headers"],
                            body=form(values)).status_code == 303
    _, regs = state(event["event_id"])
    assert [regs[f"person{n}@example.org"]["status"] for n in (1, 2, 3)] == ["offered", "offered", "waiting"]
    subjects = [m["Subject"] for m in mail_to(outbox, "person3@example.org")]
    assert "Changed: Peer Support Training" in subjects


def test_change_of_time_and_cancellation_are_told_to_everyone(client, coordinator, outbox):
    from chalicelib import events

    event = make_event(capacity=1)
    register(client, event, person(1))
    register(client, event, person(2))
    values = {**events.form_values(event), "venue": "Pain Quotidien, 15-17 Exhibition Road SW7 2HE",
              "csrf_token": coordinator["csrf"]}
    client.http.post(f"/coordinator/events/{event['event_id']}/edit", headers=coordinator["form_headers"], body=form(values))
    changed = mail_to(outbox, "person1@example.org")[-1]
    assert changed["Subject"] == "Changed: Peer Worker Network Meeting"
    assert "Pain Quotidien" in text_of(changed)
    assert int(ics_of(changed).walk("VEVENT")[0]["SEQUENCE"]) == 2
    for _ in range(2):  # a double click tells nobody twice
        client.http.post(f"/coordinator/events/{event['event_id']}/cancel", headers=coordinator["form_headers"],
                         body=form({"csrf_token": coordinator["csrf"], "confirm": "yes"}))
    for n in (1, 2):
        cancelled = [m for m in mail_to(outbox, f"person{n}@example.org") if m["Subject"].startswith("Cancelled:")]
        assert len(cancelled) == 1
    assert str(ics_of(mail_to(outbox, "person1@example.org")[-1])["METHOD"]) == "CANCEL"
    assert b"cancelled" in register(client, event, person(3)).body
    assert "Peer Worker Network Meeting" not in client.http.get("/events").body.decode()


@pytest.mark.parametrize("path", ["/events/nope", "/events/nope/calendar.ics", "/events/registration/abc",
                                  "/events/offer/abc", "/events/registration/" + "x" * 3000])
def test_unknown_events_and_tampered_links_get_clear_pages(client, path):
    response = client.http.get(path)
    assert response.status_code in (400, 404)
    assert b"<h1>" in response.body


def test_tampered_token_and_unknown_event_posts(client, outbox):
    event = make_event(capacity=1)
    register(client, event, person(1))
    manage = link(mail_to(outbox, "person1@example.org")[0], "registration")
    response = client.http.post(manage[:-3] + "xyz/give-back", headers=FORM, body="")
    assert response.status_code == 400 and b"changed" in response.body
    assert register(client, {"event_id": "nope"}, person(2)).status_code == 404


def test_past_event_refuses_registration(client, outbox):
    from chalicelib import clock

    event = make_event(capacity=5, days=1)
    clock.advance(2 * DAY)
    response = register(client, event, person(1))
    assert response.status_code == 409 and b"already taken place" in response.body
    assert outbox.messages() == []


def test_contact_mode_has_no_form(client, outbox):
    event = make_event(capacity=None, mode="contact", contact="zoe@example.org")
    page = client.http.get(f"/events/{event['event_id']}").body.decode()
    assert "contact the coordinator: zoe@example.org" in page and "<form" not in page.split("<main")[1]
    assert register(client, event, person(1)).status_code == 409


def test_bad_input_reshows_the_form_and_access_needs_need_consent(client, outbox):
    event = make_event()
    response = register(client, event, {"name": "Robin <b>", "email": "nope", "access_needs": "Step-free access"})
    assert response.status_code == 400
    page = response.body.decode()
    assert "Enter a valid email address" in page and "Tick the box" in page
    assert "Robin &lt;b&gt;" in page and "Step-free access" in page
    assert outbox.messages() == []
    register(client, event, {**person(1), "access_needs": "Step-free access", "access_consent": "yes"})
    reg = state(event["event_id"])[1]["person1@example.org"]
    assert reg["access_needs"] == "Step-free access" and reg["access_consent"]["wording_version"]


def test_json_registration(client, outbox):
    event = make_event()
    response = client.http.post(f"/events/{event['event_id']}/register", headers=JSON, body=as_json(person(1)))
    assert response.status_code == 202
    bad = client.http.post(f"/events/{event['event_id']}/register", headers=JSON, body=as_json({"name": ""}))
    assert bad.status_code == 400 and "fields" in bad.json_body


def test_access_needs_deleted_after_event_and_attendees_anonymised_later(client, outbox):
    from chalicelib import clock, events, settings

    event = make_event(days=1)
    register(client, event, {**person(1), "access_needs": "BSL interpreter", "access_consent": "yes"})
    until(event["ends_at"], 60)
    events.anonymise_past()
    reg = state(event["event_id"])[1]["person1@example.org"]
    assert "access_needs" not in reg and reg["name"] == "Person 1"
    clock.advance(settings.get_settings().attendee_retention_days * DAY)
    assert events.anonymise_past() == 1
    assert events.anonymise_past() == 0
    [reg] = events.registrations(event["event_id"])
    assert reg["email"] == "(anonymised)" and reg["name"] == "(anonymised)" and "access_needs" not in reg
    assert "person1@example.org" not in events.export_csv(event["event_id"])


def test_coordinator_pages_list_export_and_offer_by_hand(client, coordinator, outbox):
    event = make_event(capacity=1, mode="waitlist")
    for n in (1, 2):
        register(client, event, {**person(n), "name": "=cmd" if n == 2 else "Ann"})
    assert client.http.get(f"/coordinator/events/{event['event_id']}").status_code == 303  # no cookie: sign in
    page = client.http.get(f"/coordinator/events/{event['event_id']}", headers=coordinator["headers"]).body.decode()
    assert "Waiting: number 1" in page and "Waiting: number 2" in page
    csv_text = client.http.get(f"/coordinator/events/{event['event_id']}/registrations.csv",
                               headers=coordinator["headers"]).body.decode()
    assert "'=cmd" in csv_text and "waiting" in csv_text
    rid = state(event["event_id"])[1]["person2@example.org"]["registration_id"]
    forged = client.http.post(f"/coordinator/events/{event['event_id']}/offer", headers=coordinator["form_headers"],
                              body=form({"registration_id": rid}))
    assert forged.status_code == 403
    response = client.http.post(f"/coordinator/events/{event['event_id']}/offer", headers=coordinator["form_headers"],
                                body=form({"registration_id": rid, "csrf_token": coordinator["csrf"]}))
    assert response.status_code == 303
    assert state(event["event_id"])[1]["person2@example.org"]["status"] == "offered"
    assert mail_to(outbox, "person2@example.org")[-1]["Subject"].startswith("A place is free")


def test_coordinator_creates_event_with_validation(client, coordinator, outbox):
    bad = client.http.post("/coordinator/events", headers=coordinator["form_headers"],
                           body=form({"title": "", "csrf_token": coordinator["csrf"], "capacity": "many"}))
    assert bad.status_code == 400 and b"Enter a title" in bad.body and b"Enter a number" in bad.body
    good = client.http.post("/coordinator/events", headers=coordinator["form_headers"], body=form({
        "title": "Peer Support Network Meeting", "audience": "Local organisations", "date": "2030-07-13",
        "start_time": "10:30", "end_time": "12:00", "venue": "Pain Quotidien", "capacity": "12", "mode": "open",
        "waiting_list": "yes", "csrf_token": coordinator["csrf"]}))
    assert good.status_code == 303
    event_id = good.headers["Location"].rsplit("/", 1)[1].split("?")[0]
    from chalicelib import events

    [entry] = events.diary()
    assert entry.event_id == event_id
    assert entry.when == "Saturday 13 July 2030, 10:30am to 12:00pm"
    assert entry.availability == "12 places left" and entry.how_to_register == "Reserve a place"
    assert entry.url == f"https://peerpost.test/events/{event_id}"
    assert events.get(event_id)["starts_at"] == "2030-07-13T09:30:00+00:00"  # BST to UTC


def test_coordinator_event_pages_render(client, coordinator, outbox):
    event = make_event(capacity=4, mode="waitlist", tbc=True, title="Peer Support Training")
    register(client, event, person(1))
    for path in ("/coordinator/events", "/coordinator/events/new", f"/coordinator/events/{event['event_id']}",
                 f"/coordinator/events/{event['event_id']}/edit"):
        response = client.http.get(path, headers=coordinator["headers"])
        assert response.status_code == 200, path
        assert "Peer Support Training" in response.body.decode() or path.endswith("/new")
    api = client.http.get(f"/api/coordinator/events/{event['event_id']}",
                          headers={"Authorization": f"Bearer {coordinator['token']}"})
    assert api.json_body["waiting"] == 1 and api.json_body["registrations"][0]["position"] == 1
    assert client.http.get(f"/api/coordinator/events/{event['event_id']}").status_code == 401


def test_lowering_capacity_below_places_taken_is_explained(client, coordinator, outbox):
    from chalicelib import events

    event = make_event(capacity=2)
    register(client, event, person(1))
    register(client, event, person(2))
    values = {**events.form_values(event), "capacity": "1", "csrf_token": coordinator["csrf"]}
    response = client.http.post(f"/coordinator/events/{event['event_id']}/edit", headers=coordinator["form_headers"],
                                body=form(values))
    assert response.status_code == 400 and b"2 places are already taken" in response.body


def test_one_client_registering_many_addresses_is_rate_limited(client, outbox, monkeypatch):
    from chalicelib import settings

    monkeypatch.setenv("PEERPOST_EVENT_REGISTRATIONS_PER_CLIENT", "3")
    settings.reset()
    event = make_event(capacity=10)
    statuses = [ask(client, event, person(n)).status_code for n in range(5)]
    assert statuses == [303, 303, 303, 429, 429]
    assert len(outbox.messages()) == 3


def test_an_offer_never_outlives_the_start_of_the_event(client, outbox):
    from chalicelib import events

    event = make_event(capacity=1, days=1)
    register(client, event, person(1))
    register(client, event, person(2))
    client.http.post(link(mail_to(outbox, "person1@example.org")[0], "registration") + "/give-back", headers=FORM, body="")
    offered = state(event["event_id"])[1]["person2@example.org"]
    assert offered["status"] == "offered" and offered["offer_expires_at"] <= event["starts_at"]
    assert events.get(event["event_id"])["starts_at"] == event["starts_at"]


def test_a_failed_cancellation_notice_is_retried_for_that_person_only(client, outbox):
    import pytest

    from chalicelib import events, mail
    from chalicelib.errors import SendThrottled

    event = make_event(capacity=3)
    for n in range(3):
        register(client, event, person(n))

    class Flaky(mail.SesSender):
        def send(self, message):
            if message.to == "person1@example.org":
                raise SendThrottled("slow down")
            return super().send(message)

    mail.use_sender(Flaky(sleep=lambda s: None))
    with pytest.raises(SendThrottled):
        events.cancel_event(event["event_id"])
    mail.use_sender(None)
    events.cancel_event(event["event_id"])
    told = [str(m["To"]) for m in outbox.messages() if "cancelled" in str(m["Subject"]).lower()]
    assert sorted(told) == ["person0@example.org", "person1@example.org", "person2@example.org"]


def test_a_cancelled_tbc_event_is_anonymised_after_the_retention_period(client, outbox):
    from chalicelib import clock, events

    event = make_event(capacity=5, tbc=True, mode="waitlist")
    register(client, event, {**person(1), "access_needs": "wheelchair", "access_consent": "yes"})
    events.cancel_event(event["event_id"])
    clock.advance(31 * 86400)
    assert events.anonymise_past() == 1
    [reg] = events.registrations(event["event_id"])
    assert reg["name"] == "(anonymised)" and reg["email"] == "(anonymised)" and "access_needs" not in reg


# ---------------------------------------------------------------- issue 11: events

def coordinator_page(client, coordinator, path):
    return client.http.get(path, headers=coordinator["headers"]).body.decode()


def availability_shown(client, event):
    page = client.http.get(f"/events/{event['event_id']}").body.decode()
    return re.search(r'id="availability">([^<]*)<', page).group(1)


def test_a_stranger_typing_an_address_learns_nothing_from_the_places_left(client, coordinator, outbox):
    event = make_event(capacity=3)
    register(client, event, person(1))  # registered and confirmed by its owner
    assert availability_shown(client, event) == "2 places left"
    known = ask(client, event, person(1))    # a stranger types an address that is registered...
    assert availability_shown(client, event) == "2 places left"
    unknown = ask(client, event, person(2))  # ...and one that is not: the count moves for neither
    assert availability_shown(client, event) == "2 places left"
    assert known.status_code == unknown.status_code == 303 and known.headers == unknown.headers
    stored, regs = state(event["event_id"])
    assert (int(stored["confirmed"]), int(stored["free"])) == (1, 2) and "person2@example.org" not in regs
    assert "person2@example.org" not in coordinator_page(client, coordinator, f"/coordinator/events/{event['event_id']}")
    # only the address's owner, from the email, makes it count
    request = [m for m in outbox.to("person2@example.org") if m["Subject"].startswith("Please confirm")][-1]
    confirm = link(request, "confirm")
    assert b"Yes, confirm my place" in client.http.get(confirm).body
    assert availability_shown(client, event) == "2 places left"  # opening the link changes nothing
    pressed = client.http.post(confirm, headers=FORM, body="")
    assert pressed.status_code == 303 and "/events/registration/" in pressed.headers["Location"]
    assert b"Your place is confirmed" in client.http.get(pressed.headers["Location"]).body
    assert client.http.post(confirm, headers=FORM, body="").status_code == 303  # a second press: nothing twice
    assert availability_shown(client, event) == "1 place left"
    assert len([m for m in outbox.to("person2@example.org") if m["Subject"].startswith("Your place")]) == 1


def test_a_past_date_is_refused_and_the_waiting_list_survives(client, coordinator, outbox):
    from chalicelib import clock, events

    event = make_event(capacity=1)
    for n in (1, 2, 3):
        register(client, event, person(n))
    outbox.clear()
    past = (clock.now() - timedelta(days=3)).strftime("%Y-%m-%d")
    values = {**events.form_values(event), "date": past, "csrf_token": coordinator["csrf"]}
    refused = client.http.post(f"/coordinator/events/{event['event_id']}/edit", headers=coordinator["form_headers"],
                               body=form(values))
    assert refused.status_code == 400 and b"already passed" in refused.body
    assert f'value="{past}"'.encode() in refused.body  # what was typed is kept
    created = client.http.post("/coordinator/events", headers=coordinator["form_headers"], body=form({
        **values, "form_id": "past-one"}))
    assert created.status_code == 400 and b"already passed" in created.body
    assert outbox.messages() == []
    events.anonymise_past()
    stored, regs = state(event["event_id"])
    assert stored["starts_at"] == event["starts_at"]
    assert [regs[f"person{n}@example.org"]["status"] for n in (1, 2, 3)] == ["confirmed", "waiting", "waiting"]
    assert all(r["email"] != "(anonymised)" for r in regs.values())


def test_redating_keeps_counts_and_offers_freed_places(client, coordinator, outbox):
    from chalicelib import clock, events

    event = make_event(capacity=1)
    for n in (1, 2, 3):
        register(client, event, person(n))
    client.http.post(link(mail_to(outbox, "person1@example.org")[0], "registration") + "/give-back", headers=FORM, body="")
    day = (clock.now() + timedelta(days=40)).strftime("%Y-%m-%d")
    values = {**events.form_values(events.get(event["event_id"])), "date": day, "capacity": "2",
              "csrf_token": coordinator["csrf"]}
    moved = client.http.post(f"/coordinator/events/{event['event_id']}/edit", headers=coordinator["form_headers"],
                             body=form(values))
    assert moved.status_code == 303
    notice = coordinator_page(client, coordinator, moved.headers["Location"])
    assert "Your changes are saved. 2 people were emailed the new time or place." in notice
    stored, regs = state(event["event_id"])
    assert [regs[f"person{n}@example.org"]["status"] for n in (1, 2, 3)] == ["cancelled", "offered", "offered"]
    assert (int(stored["held"]), int(stored["free"]), int(stored["waiting"]), int(stored["confirmed"])) == (2, 0, 0, 0)
    assert availability_shown(client, event) == "Waiting list open"  # not "Full": newcomers queue for freed places
    assert any(m["Subject"].startswith("A place is free") for m in mail_to(outbox, "person3@example.org"))


def test_cancelling_asks_first_with_exact_counts_then_withdraws_offers_and_sends_the_message(client, coordinator, outbox):
    event = make_event(capacity=2)
    for n in (1, 2, 3, 4):
        register(client, event, person(n))
    client.http.post(link(mail_to(outbox, "person1@example.org")[0], "registration") + "/give-back", headers=FORM, body="")
    offer = link(mail_to(outbox, "person3@example.org")[-1], "offer")
    path = f"/coordinator/events/{event['event_id']}/cancel"
    page = coordinator_page(client, coordinator, path)
    assert re.search(r'id="affected-count"><strong>3</strong> people, once each', page)
    for kind in ("confirmed", "waiting", "offered"):
        assert re.search(rf'id="affected-{kind}">1 ', page), kind
    unconfirmed = client.http.post(path, headers=coordinator["form_headers"], body=form({"csrf_token": coordinator["csrf"]}))
    assert unconfirmed.status_code == 303 and unconfirmed.headers["Location"] == path
    assert state(event["event_id"])[0]["status"] == "scheduled" and not any(
        m["Subject"].startswith("Cancelled") for m in outbox.messages())
    done = client.http.post(path, headers=coordinator["form_headers"], body=form({
        "csrf_token": coordinator["csrf"], "confirm": "yes", "message": "The room flooded. We will rearrange."}))
    assert done.status_code == 303
    assert ("The event is cancelled. 3 people were emailed that it is cancelled, and 1 open offer was withdrawn."
            in coordinator_page(client, coordinator, done.headers["Location"]))
    stored, regs = state(event["event_id"])
    assert regs["person3@example.org"]["status"] == "withdrawn" and int(stored["held"]) == 0
    assert b"This offer has been withdrawn" in client.http.get(offer).body
    assert client.http.post(offer + "/accept", headers=FORM, body="").status_code == 303
    assert state(event["event_id"])[1]["person3@example.org"]["status"] == "withdrawn"
    for n in (2, 3, 4):
        [notice] = [m for m in outbox.to(f"person{n}@example.org") if m["Subject"].startswith("Cancelled:")]
        assert "The room flooded. We will rearrange." in text_of(notice)
    assert "offered you is withdrawn" in text_of([m for m in outbox.to("person3@example.org")
                                                  if m["Subject"].startswith("Cancelled:")][0])
    public = client.http.get(f"/events/{event['event_id']}").body.decode()
    assert "calendar.ics" not in public and "This event has been cancelled" in public


def test_registrations_csv_cleans_and_guards_every_cell(client, coordinator, outbox):
    from chalicelib import spreadsheet

    event = make_event(capacity=5)
    register(client, event, {"name": "\x00=cmd|' /C calc'!A0", "email": "person1@example.org",
                             "access_needs": "\x00=HYPERLINK(\"http://x.example\")\x07", "access_consent": "yes"})
    csv_text = client.http.get(f"/coordinator/events/{event['event_id']}/registrations.csv",
                               headers=coordinator["headers"]).body.decode()
    assert "\x00" not in csv_text and "\x07" not in csv_text
    assert "'=cmd" in csv_text and "'=HYPERLINK" in csv_text
    # stored before input was cleaned: the export still cleans and guards
    assert spreadsheet.safe_cell("\x00=1+1") == "'=1+1" and spreadsheet.safe_cell("\x1b@SUM(A1)") == "'@SUM(A1)"
    assert spreadsheet.safe_cell(" =1") == "' =1" and spreadsheet.safe_cell("Step-free") == "Step-free"


def test_event_times_follow_the_clock_changes(client, coordinator, outbox):
    from chalicelib import events

    def create(day, start, end, form_id):
        return client.http.post("/coordinator/events", headers=coordinator["form_headers"], body=form({
            "title": "Training", "audience": "All", "date": day, "start_time": start, "end_time": end,
            "mode": "open", "capacity": "5", "csrf_token": coordinator["csrf"], "form_id": form_id}))

    winter = create("2030-12-04", "10:00", "12:00", "winter")
    assert winter.status_code == 303
    event_id = winter.headers["Location"].rsplit("/", 1)[1].split("?")[0]
    assert events.get(event_id)["starts_at"] == "2030-12-04T10:00:00+00:00"  # GMT
    gap = create("2030-03-31", "01:30", "03:00", "gap")
    assert gap.status_code == 400 and b"does not exist in London" in gap.body
    twice = create("2030-10-27", "01:30", "03:00", "twice")
    assert twice.status_code == 400 and b"happens twice" in twice.body


def test_creating_says_so_and_a_second_submission_creates_nothing(client, coordinator, outbox):
    from chalicelib import events

    new_form = coordinator_page(client, coordinator, "/coordinator/events/new")
    form_id = re.search(r'name="form_id" value="([^"]+)"', new_form).group(1)
    values = {"title": "Peer Support Network Meeting", "audience": "Local organisations", "date": "2030-07-13",
              "start_time": "10:30", "end_time": "12:00", "capacity": "12", "mode": "open",
              "csrf_token": coordinator["csrf"], "form_id": form_id}
    first = client.http.post("/coordinator/events", headers=coordinator["form_headers"], body=form(values))
    again = client.http.post("/coordinator/events", headers=coordinator["form_headers"], body=form(values))
    assert first.status_code == again.status_code == 303
    assert "Event created." in coordinator_page(client, coordinator, first.headers["Location"])
    assert "nothing was created twice" in coordinator_page(client, coordinator, again.headers["Location"])
    assert len(events.all_events()) == 1


def test_access_needs_go_when_a_place_is_given_back(client, coordinator, outbox):
    event = make_event(capacity=5)
    register(client, event, {**person(1), "access_needs": "BSL interpreter", "access_consent": "yes"})
    client.http.post(link(mail_to(outbox, "person1@example.org")[0], "registration") + "/give-back", headers=FORM, body="")
    reg = state(event["event_id"])[1]["person1@example.org"]
    assert reg["status"] == "cancelled" and "access_needs" not in reg and "access_consent" not in reg
    assert "BSL interpreter" not in coordinator_page(client, coordinator, f"/coordinator/events/{event['event_id']}")
    assert "BSL interpreter" not in client.http.get(f"/coordinator/events/{event['event_id']}/registrations.csv",
                                                     headers=coordinator["headers"]).body.decode()


def test_the_offer_email_has_one_call_to_action(client, outbox):
    event = make_event(capacity=1)
    register(client, event, person(1))
    register(client, event, person(2))
    client.http.post(link(mail_to(outbox, "person1@example.org")[0], "registration") + "/give-back", headers=FORM, body="")
    offer = mail_to(outbox, "person2@example.org")[-1]
    assert offer["Subject"].startswith("A place is free")
    from tests.conftest import html_of

    for body in (text_of(offer), html_of(offer)):
        assert len(re.findall(r"/events/offer/", body)) == 1 and "/events/registration/" not in body


def test_registration_forms_post_redirect_get(client, outbox):
    event = make_event(capacity=2)
    response = ask(client, event, person(1))
    assert response.status_code == 303 and response.headers["Location"] == f"/events/{event['event_id']}/check-your-email"
    assert client.http.get(response.headers["Location"]).status_code == 200
    manage_page = client.http.get(f"/events/{event['event_id']}")
    assert manage_page.status_code == 200
    register(client, event, person(2))
    manage = link(mail_to(outbox, "person2@example.org")[0], "registration")
    for _ in range(2):  # a resubmission gives back nothing twice
        gave = client.http.post(manage + "/give-back", headers=FORM, body="")
        assert gave.status_code == 303 and gave.headers["Location"].startswith(manage)
    assert len([m for m in outbox.to("person2@example.org") if m["Subject"].startswith("You have given")]) == 1


def test_a_refused_transaction_names_the_item_whose_condition_failed(tables, outbox):
    """register, give_back and offer_by_hand choose their answer by which item was refused."""
    from chalicelib import dynamo, events
    from chalicelib.events import store

    event = make_event(capacity=1)
    events.register(event["event_id"], events.Registration("A", "a@example.org", "", False))
    waiting = events.register(event["event_id"], events.Registration("B", "b@example.org", "", False))
    stale = {**events.get(event["event_id"]), "free": 1}  # a free place the counter no longer has
    with pytest.raises(dynamo.TransactionFailed) as refused:
        dynamo.transact([store.event_change(event["event_id"], {"held": 1, "free": -1}, "free > :zero", {":zero": 0}),
                        store.offer_change(stale, waiting)])
    assert refused.value.failed == [store.EVENT] and not refused.value.conflict
    confirmed = store.registration_change(event["event_id"], waiting["registration_id"], "cancelled", "#s = :c",
                                          {":c": "confirmed"})
    with pytest.raises(dynamo.TransactionFailed) as refused:
        dynamo.transact([store.event_change(event["event_id"], {"confirmed": -1}, "confirmed > :zero", {":zero": 0}),
                        confirmed])
    assert refused.value.failed == [store.REGISTRATION]
