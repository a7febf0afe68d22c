"""Issue 13: the overview leads with what needs a coordinator, then charts with their numbers beside."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree

from tests.functional.test_audience import person, sid_of
from tests.functional.test_audience_sends import send
from tests.functional.test_subscriptions import confirmed, link
from tests.functional.test_team import member


def _story(title: str, text: str) -> str:
    from chalicelib import stories

    return stories.submit(stories.parse_submission({
        "title": title, "text": text, "name": "", "level": "anonymous", "channels": ["newsletter"],
        "consent": "yes"}), "test")


def test_the_overview_counts_what_needs_attention_and_charts_known_numbers(client, outbox, coordinator):
    from chalicelib import clock, issues, ses_events, subscriptions
    from tests.functional.test_events import make_event
    from tests.functional.test_newsletter_send import new_issue

    people = [person(n, name=f"P{n}") for n in range(4)]
    welcomes = [confirmed(client, outbox, p) for p in people]  # four joined this month
    first = new_issue(title="December")
    send(client, coordinator, first)
    # After it: one unsubscribes by their link, one is erased, one bounces (tagged with the issue).
    client.http.post(link(welcomes[0], "unsubscribe"), headers={"Content-Type": "application/x-www-form-urlencoded"},
                     body="List-Unsubscribe=One-Click")
    subscriptions.erase_subscriber(sid_of(people[1]["email"]))
    ses_events.handle(json.dumps({"eventType": "Bounce", "mail": {"tags": {"issue": [first]}},
                                  "bounce": {"bounceType": "Permanent",
                                             "bouncedRecipients": [{"emailAddress": people[2]["email"]}]}}))

    _story("A good day", "Peer support helped me through a hard winter.")
    flagged = _story("Not today", "Some days I want to end my life.")
    event = make_event(capacity=2, title="Peer Support Training")
    scheduled = new_issue(title="January")
    issues.schedule(scheduled, f"{clock.in_london(clock.now()).year + 1}-01-05 09:00", by="zoe@peerpost.test")

    page = client.http.get("/coordinator", headers=coordinator["headers"]).body.decode()
    assert 'id="stories-waiting">2<' in page
    assert 'id="safeguarding-open">1<' in page and f"/coordinator/stories/{flagged}" in page
    assert "January</a>" in page.split('id="scheduled"')[1].split("</ul>")[0]
    assert f'/coordinator/events/{event["event_id"]}">Peer Support Training</a>: 0 of 2 places taken' in page
    assert "no open or click tracking" in page

    month = f"{clock.in_london(clock.now()):%b %Y}"
    growth = page.split('id="growth"')[1].split("</table>")[0]
    assert f'<th scope="row">{month}</th><td>4</td><td>3</td>' in growth  # unsubscribed, erased, bounced
    sends = page.split('id="sends"')[1].split("</table>")[0]
    assert "December</a></th><td>4</td><td>0</td><td>1</td><td>0</td><td>3</td>" in sends
    moderator = member(client, "mo@peerpost.test", ["moderator"])  # may not open an issue: offered no link to one
    theirs = client.http.get("/coordinator", headers=moderator["headers"]).body.decode().split('id="sends"')[1]
    assert '<th scope="row">December<' in theirs and "/coordinator/issues/" not in theirs.split("</table>")[0]

    for chart in ("growth", "sends"):
        response = client.http.get(f"/coordinator/charts/{chart}.svg", headers=coordinator["headers"])
        assert response.status_code == 200 and response.headers["Content-Type"].startswith("image/svg+xml")
        svg = ElementTree.fromstring(response.body)  # well-formed SVG
        assert svg.get("role") == "img" and svg.get("aria-label")
        assert "script-src" not in response.headers["Content-Security-Policy"]
        signed_out = client.http.get(f"/coordinator/charts/{chart}.svg")
        assert signed_out.status_code == 303 and "/coordinator/sign-in" in signed_out.headers["Location"]
    assert b"Joined" in client.http.get("/coordinator/charts/growth.svg", headers=coordinator["headers"]).body
