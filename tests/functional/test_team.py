"""Coordinators as a team, through the routes: roles on every route, invitations, password resets, two
factors, sessions, removal, and the audit trail every action writes."""
from __future__ import annotations

import re

import pytest

from tests.conftest import COORDINATOR, FORM, OPEN_COORDINATOR_PATHS, form, sign_in_http, text_of

PASSWORD = "a walk by the river at dawn"


def member(client, email: str, granted, secret: str = "") -> dict:
    from chalicelib import auth

    auth.create_coordinator(email, PASSWORD, name=email.split("@")[0].title(), granted=tuple(granted),
                            totp_secret=secret)
    return sign_in_http(client, email, PASSWORD, totp_secret=secret)


def audit_items() -> list[dict]:
    from chalicelib import aws

    return [item for item in aws.table().scan()["Items"] if item["PK"].startswith("AUDIT#")]


def link_in(outbox, address: str, path: str) -> str:
    (message,) = outbox.to(address)
    found = re.search(r"https?://[^\s]+(" + re.escape(path) + r"\?token=[^\s]+)", text_of(message))
    assert found, text_of(message)
    return found.group(1)


def coordinator_routes():
    """Every coordinator route: (method, concrete path, its view), views unwrapped."""
    from app import app

    for path, methods in app.routes.items():
        if not (path.startswith("/coordinator") or path.startswith("/api/coordinator")) or path in OPEN_COORDINATOR_PATHS:
            continue
        for method, entry in methods.items():
            view = getattr(entry.view_function, "__wrapped__", entry.view_function)
            yield method, re.sub(r"{\w+}", "x", path), view, entry.content_types


# Requests that would end the walking session itself: they are tested on their own below.
ENDS_THE_SESSION = {"/coordinator/sign-out", "/coordinator/account/sessions/end"}


@pytest.mark.parametrize("held", [(), ("admin",), ("editor",), ("moderator",), ("safeguarding",), ("events",)],
                         ids=lambda held: "+".join(held) or "no-role")
def test_every_coordinator_route_enforces_its_role(client, held):
    from chalicelib import roles

    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP" if roles.needs_two_factor(held) else ""
    person = member(client, f"{'-'.join(held) or 'nobody'}@peerpost.test", held, secret)
    walked = refused = 0
    for method, path, view, kinds in coordinator_routes():
        if getattr(view, "explains_post_only", False) or path in ENDS_THE_SESSION:
            continue
        kind = FORM["Content-Type"] if FORM["Content-Type"] in kinds else kinds[0]
        body = None if method == "GET" else (form({"csrf_token": person["csrf"]}) if kind != "application/json" else "{}")
        headers = {**person["headers"], "Content-Type": kind, "X-CSRF-Token": person["csrf"]}
        response = getattr(client.http, method.lower())(path, headers=headers, body=body)
        allowed = roles.allows(view.role, held)
        walked += 1
        if allowed:
            assert response.status_code not in (401, 403), (method, path, response.status_code)
        else:
            refused += 1
            assert response.status_code == 403, (method, path, response.status_code)
            if "api" not in path:
                assert f"the {roles.label(view.role)} role" in response.body.decode(), path
    assert walked > 60 and (refused > 0 or set(held) == set(roles.ALL))
    refusals = [item for item in audit_items() if item["outcome"] == "refused"]
    assert len(refusals) == refused and all(item["who_id"] == person["id"] for item in refusals)


def test_every_coordinator_post_writes_an_audit_entry_unless_it_says_why_not(client, coordinator):
    """A new coordinator POST route is audited unless it is declared audited=False (autosave only)."""
    unaudited = {(method, path) for method, path, view, _ in coordinator_routes()
                 if method != "GET" and not getattr(view, "audited", False)}
    assert unaudited == {("POST", "/coordinator/issues/x/autosave")}
    # And an audited POST does write one, naming the person, the action and the record by id.
    client.http.post("/coordinator/tags", headers=coordinator["form_headers"],
                     body=form({"csrf_token": coordinator["csrf"], "tag": "peer worker"}))
    (entry,) = [item for item in audit_items() if item["action"] == "add_tag"]
    assert entry["who_id"] == coordinator["id"] and entry["outcome"] == "done"


def test_exports_and_sends_are_in_the_trail_and_no_entry_holds_an_address(client, coordinator, outbox):
    from tests.functional.test_newsletter_send import new_issue

    issue_id = new_issue()
    client.http.get("/coordinator/subscribers.csv", headers=coordinator["headers"])
    sent = client.http.post(f"/coordinator/issues/{issue_id}/test", headers=coordinator["form_headers"],
                            body=form({"csrf_token": coordinator["csrf"]}))
    assert sent.status_code == 303
    actions = {item["action"]: item for item in audit_items()}
    assert {"subscribers_csv", "sign_in", "send_test"} <= set(actions)
    assert actions["send_test"]["record"] == f"issue_id={issue_id}"
    for item in audit_items():
        assert "@" not in " ".join(str(value) for value in item.values()), item


def test_an_invitation_sets_a_password_once_and_the_new_editor_can_do_only_editing(client, coordinator, outbox):
    from chalicelib import clock

    weak = client.http.post("/coordinator/team/invitations", headers=coordinator["form_headers"],
                            body=form({"csrf_token": coordinator["csrf"], "email": "not an address", "name": ""}))
    assert weak.status_code == 400 and b"Choose at least one role" in weak.body and b"not an address" in weak.body
    sent = client.http.post("/coordinator/team/invitations", headers=coordinator["form_headers"],
                            body=form({"csrf_token": coordinator["csrf"], "email": "Sam@Example.org", "name": "Sam",
                                       "roles": ["editor"]}))
    assert sent.status_code == 303
    link = link_in(outbox, "sam@example.org", "/coordinator/invitation")
    token = link.split("token=", 1)[1]
    page = client.http.get(link)
    assert page.status_code == 200 and b"Welcome, Sam" in page.body

    common = client.http.post("/coordinator/invitation", headers=FORM,
                              body=form({"token": token, "password": "password1234", "confirm": "password1234"}))
    assert common.status_code == 400 and b"most commonly used" in common.body
    short = client.http.post("/coordinator/invitation", headers=FORM,
                             body=form({"token": token, "password": "short", "confirm": "short"}))
    assert short.status_code == 400 and b"at least 12 characters" in short.body
    done = client.http.post("/coordinator/invitation", headers=FORM,
                            body=form({"token": token, "password": PASSWORD, "confirm": PASSWORD}))
    assert done.status_code == 303 and "ready=1" in done.headers["Location"]
    again = client.http.post("/coordinator/invitation", headers=FORM,
                             body=form({"token": token, "password": PASSWORD, "confirm": PASSWORD}))
    assert again.status_code == 400 and b"already used" in again.body
    assert client.http.get(link).status_code == 400
    assert client.http.get("/coordinator/invitation?token=" + token[:-3] + "abc").status_code == 400

    sam = sign_in_http(client, "sam@example.org", PASSWORD)  # an editor: a password is enough
    assert client.http.get("/coordinator/issues", headers=sam["headers"]).status_code == 200
    stories = client.http.get("/coordinator/stories", headers=sam["headers"])
    assert stories.status_code == 403 and b"Moderator role" in stories.body
    assert b"/coordinator/stories" not in client.http.get("/coordinator", headers=sam["headers"]).body  # not in the menu

    # An invitation left too long no longer works, and says so.
    client.http.post("/coordinator/team/invitations", headers=coordinator["form_headers"],
                     body=form({"csrf_token": coordinator["csrf"], "email": "late@example.org", "name": "Late",
                                "roles": ["events"]}))
    late = link_in(outbox, "late@example.org", "/coordinator/invitation")
    clock.advance(8 * 86400)
    expired = client.http.get(late)
    assert expired.status_code == 410 and b"expired" in expired.body


def test_a_reset_answers_the_same_for_anyone_works_once_and_ends_every_session(client, coordinator, outbox):
    editor = member(client, "ed@peerpost.test", ["editor"])
    for address in ("nobody@peerpost.test", "ed@peerpost.test"):
        page = client.http.post("/coordinator/reset", headers=FORM, body=form({"email": address}))
        assert page.status_code == 200 and b"If " in page.body and b"belongs to a coordinator account" in page.body
    assert outbox.to("nobody@peerpost.test") == []
    link = link_in(outbox, "ed@peerpost.test", "/coordinator/reset/new")
    token = link.split("token=", 1)[1]
    assert client.http.get(link).status_code == 200
    mismatch = client.http.post("/coordinator/reset/new", headers=FORM,
                                body=form({"token": token, "password": "a brand new long phrase", "confirm": "other"}))
    assert mismatch.status_code == 400 and b"not the same" in mismatch.body
    saved = client.http.post("/coordinator/reset/new", headers=FORM, body=form(
        {"token": token, "password": "a brand new long phrase", "confirm": "a brand new long phrase"}))
    assert saved.status_code == 303
    assert client.http.get("/coordinator/issues", headers=editor["headers"]).status_code == 303  # signed out
    assert client.http.get(link).status_code == 400  # used
    sign_in_http(client, "ed@peerpost.test", "a brand new long phrase")


def test_a_reset_link_expires_after_an_hour(client, coordinator, outbox):
    from chalicelib import clock

    member(client, "ed@peerpost.test", ["editor"])
    client.http.post("/coordinator/reset", headers=FORM, body=form({"email": "ed@peerpost.test"}))
    link = link_in(outbox, "ed@peerpost.test", "/coordinator/reset/new")
    clock.advance(3601)
    assert client.http.get(link).status_code == 410


def test_an_admin_sets_up_two_factors_at_first_sign_in_and_codes_work_once(client, outbox):
    from chalicelib import auth, clock, two_factor
    from tests.conftest import cookie_of

    auth.create_coordinator("ada@peerpost.test", PASSWORD, name="Ada")  # the operator's first admin
    signed = client.http.post("/coordinator/sign-in", headers=FORM,
                              body=form({"email": "ada@peerpost.test", "password": PASSWORD}))
    assert signed.headers["Location"].startswith("/coordinator/sign-in/two-factor")
    pending = {"Cookie": cookie_of(signed, "pp_pending")}
    assert client.http.get("/coordinator", headers=pending).status_code == 303  # not signed in yet
    setup = client.http.get("/coordinator/sign-in/two-factor", headers=pending).body.decode()
    assert "<svg" in setup
    secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', setup).group(1).replace(" ", "")
    wrong = client.http.post("/coordinator/sign-in/two-factor", headers={**FORM, **pending}, body=form({"code": "000000"}))
    assert wrong.status_code == 400 and b"did not match" in wrong.body
    done = client.http.post("/coordinator/sign-in/two-factor", headers={**FORM, **pending},
                            body=form({"code": two_factor.current_code(secret)}))
    assert done.status_code == 200 and done.headers.get("Cache-Control") == "no-store"
    codes = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", done.body.decode())
    assert len(codes) == 10
    session = cookie_of(done, "pp_session")
    assert client.http.get("/coordinator/team", headers={"Cookie": session}).status_code == 200

    # Next time: password, then a code; the same code twice is refused (replay), a recovery code works once.
    def second_step(code):
        again = client.http.post("/coordinator/sign-in", headers=FORM,
                                 body=form({"email": "ada@peerpost.test", "password": PASSWORD}))
        assert again.headers["Location"].startswith("/coordinator/sign-in/code")
        return client.http.post("/coordinator/sign-in/code", headers={**FORM, "Cookie": cookie_of(again, "pp_pending")},
                                body=form({"code": code}))

    clock.advance(two_factor.STEP_SECONDS)
    code = two_factor.current_code(secret)
    assert second_step(code).status_code == 303
    replay = second_step(code)
    assert replay.status_code == 400 and b"did not work" in replay.body
    assert second_step(codes[0].upper()).status_code == 303
    assert second_step(codes[0]).status_code == 400
    assert [i["detail"] for i in audit_items() if i["action"] == "sign_in" and i["outcome"] == "failed"] == [
        "second factor did not match", "second factor did not match"]  # the replay and the spent recovery code
    # A pending sign-in left for more than ten minutes has to start again.
    late = client.http.post("/coordinator/sign-in", headers=FORM,
                            body=form({"email": "ada@peerpost.test", "password": PASSWORD}))
    clock.advance(11 * 60)
    stale = client.http.post("/coordinator/sign-in/code", headers={**FORM, "Cookie": cookie_of(late, "pp_pending")},
                             body=form({"code": two_factor.current_code(secret)}))
    assert stale.status_code == 303 and stale.headers["Location"] == "/coordinator/sign-in"


def test_a_removed_coordinator_is_signed_out_at_once_and_the_last_admin_stays(client, coordinator):
    from chalicelib import auth

    ed = member(client, "ed@peerpost.test", ["editor"])
    assert client.http.get("/coordinator/issues", headers=ed["headers"]).status_code == 200
    unticked = client.http.post(f"/coordinator/team/{ed['id']}/remove", headers=coordinator["form_headers"],
                                body=form({"csrf_token": coordinator["csrf"]}))
    assert unticked.status_code == 400 and b"Tick the box to confirm this person should be removed" in unticked.body
    assert client.http.get("/coordinator/issues", headers=ed["headers"]).status_code == 200  # nothing happened
    removed = client.http.post(f"/coordinator/team/{ed['id']}/remove", headers=coordinator["form_headers"],
                               body=form({"csrf_token": coordinator["csrf"], "confirm": "yes"}))
    assert removed.status_code == 303
    assert client.http.get("/coordinator/issues", headers=ed["headers"]).status_code == 303
    assert client.http.get("/api/coordinator/subscribers", headers={"Authorization": "Bearer " + ed["token"]}).status_code == 401

    demote = client.http.post(f"/coordinator/team/{coordinator['id']}/roles", headers=coordinator["form_headers"],
                              body=form({"csrf_token": coordinator["csrf"], "roles": ["editor"]}))
    assert demote.status_code == 409 and b"at least one admin" in demote.body
    assert "admin" in auth.authenticate(coordinator["token"]).roles
    promote = member(client, "pat@peerpost.test", ["events"])
    change = client.http.post(f"/coordinator/team/{promote['id']}/roles", headers=coordinator["form_headers"],
                              body=form({"csrf_token": coordinator["csrf"], "roles": ["events", "editor"]}))
    assert change.status_code == 303
    assert auth.authenticate(promote["token"]).roles == {"events", "editor"}  # at once, same session


def test_sign_out_everywhere_else_keeps_this_session(client, coordinator):
    from tests.conftest import COORDINATOR_TOTP

    other = sign_in_http(client, *COORDINATOR, totp_secret=COORDINATOR_TOTP)
    page = client.http.get("/coordinator/account", headers=coordinator["headers"]).body.decode()
    assert page.count("<tr><td>") == 2 and "This browser" in page
    client.http.post("/coordinator/account/sessions/end", headers=coordinator["form_headers"],
                     body=form({"csrf_token": coordinator["csrf"], "which": "others"}))
    assert client.http.get("/coordinator", headers=coordinator["headers"]).status_code == 200
    assert client.http.get("/coordinator", headers=other["headers"]).status_code == 303
    everywhere = client.http.post("/coordinator/account/sessions/end", headers=coordinator["form_headers"],
                                  body=form({"csrf_token": coordinator["csrf"], "which": "all"}))
    assert everywhere.status_code == 303
    assert client.http.get("/coordinator", headers=coordinator["headers"]).status_code == 303


def test_the_audit_page_filters_and_exports_and_the_trail_cannot_be_changed(client, coordinator):
    from chalicelib import clock

    ed = member(client, "ed@peerpost.test", ["editor"])
    client.http.post("/coordinator/tags", headers=ed["form_headers"], body=form({"csrf_token": ed["csrf"], "tag": "volunteer"}))
    client.http.get("/coordinator/stories", headers=ed["headers"])  # refused: recorded
    page = client.http.get(f"/coordinator/audit?who={ed['id']}", headers=coordinator["headers"]).body.decode()
    assert "add tag" in page and "refused: needs the Moderator role" in page and "Zoe" not in page.split("<table>")[1]
    only = client.http.get("/coordinator/audit?action=add_tag", headers=coordinator["headers"]).body.decode()
    assert "add tag" in only and "sign in" not in only.split("<table>")[1]
    csv = client.http.get(f"/coordinator/audit.csv?who={ed['id']}", headers=coordinator["headers"])
    assert csv.status_code == 200 and csv.body.decode().splitlines()[0].startswith("at,who_id,who,action")
    bad = client.http.get("/coordinator/audit?from=yesterday", headers=coordinator["headers"])
    assert bad.status_code == 400 and b"Enter a date" in bad.body and b'value="yesterday"' in bad.body
    ahead = clock.now().date().isoformat()
    assert client.http.get(f"/coordinator/audit?from={ahead}&to=2020-01-01", headers=coordinator["headers"]).status_code == 400
    assert client.http.get("/coordinator/audit", headers=ed["headers"]).status_code == 403
