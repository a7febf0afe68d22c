"""Importing a list from CSV through the routes, against moto: upload, columns and basis, the check of
every row (the report read row by row), confirmation once only, the queued work, bad files, the API."""
from __future__ import annotations

import csv
import io
import json
import re

import pytest

from tests.conftest import as_json, form
from tests.functional.test_subscriptions import confirmed, link, subscribe

BOUNDARY = "peerpostboundary"
MIXED = (
    "Email Address,First Name,Groups,Where\n"
    "good1@example.org,Asha,peer worker,march meeting\n"
    "not-an-address,Ben,,\n"
    "good2@example.org,Cara,,\n"
    "GOOD1@example.org,Asha again,,\n"
    "subscribed@example.org,Dee,,\n"
    "left@example.org,Eli,,\n"
    "bounced@example.org,Fay,,\n"
    "complained@example.org,Gus,,\n"
    "erased@example.org,Hal,,\n"
    "formula@example.org,=HYPERLINK(\"x\"),,\n"
    "control@example.org,Iv\x07y,,\n"
    ",,,\n"
    "good3@example.org,Jo,organisation,\n"
)
EXPECTED_SKIPS = {
    3: "invalid address",
    5: "duplicate in file (first on row 2)",
    6: "already subscribed",
    7: "previously unsubscribed",
    8: "suppressed: the address bounced",
    9: "suppressed: they complained",
    10: "suppressed: they asked to be erased",
    11: "Name looks like a spreadsheet formula",
    12: "Name contains control characters",
    13: "empty row",
}
GOOD_ROWS = {2: "good1@example.org", 4: "good2@example.org", 14: "good3@example.org"}


def multipart(fields: dict, file_bytes: bytes | None, filename: str = "list.csv") -> bytes:
    parts = []
    for name, value in fields.items():
        for one in value if isinstance(value, list) else [value]:
            parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{one}\r\n'.encode())
    if file_bytes is not None:
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                     f'Content-Type: text/csv\r\n\r\n'.encode() + file_bytes + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def upload(client, coordinator, data: bytes, submission: str = "sub-0000001"):
    return client.http.post("/coordinator/import", headers={
        **coordinator["headers"], "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        body=multipart({"csrf_token": coordinator["csrf"], "submission": submission}, data))


def post(client, coordinator, path: str, data: dict):
    return client.http.post(path, headers=coordinator["form_headers"],
                            body=form({"csrf_token": coordinator["csrf"], **data}))


def drain_imports() -> int:
    import boto3
    from chalice.app import SQSEventConfig

    from app import app
    from localdev.runner import Runner

    runner = Runner(app, boto3.session.Session(region_name="eu-west-2"))
    [config] = [c for c in app.event_sources if isinstance(c, SQSEventConfig) and c.name == "import_subscribers"]
    total = 0
    while done := runner.drain(config, wait_seconds=0):
        total += done
    return total


def report(client, coordinator, job_path: str) -> dict[int, dict]:
    response = client.http.get(f"{job_path}/report.csv", headers=coordinator["headers"])
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    return {int(row["row"]): row for row in csv.DictReader(io.StringIO(response.body.decode()))}


def known_people(client, outbox, coordinator):
    """An address for each way PeerPost must never re-subscribe someone."""
    from chalicelib import audience, subscriptions

    audience.define_tag("peer worker")
    audience.define_tag("organisation")
    for email in ("subscribed@example.org", "left@example.org", "bounced@example.org",
                  "complained@example.org", "erased@example.org"):
        confirmed(client, outbox, {"email": email, "first_name": "X", "topics": ["newsletter"], "consent": "yes"})
    subscriptions.unsubscribe_for(subscriptions.email_id("left@example.org"), "asked", "zoe@peerpost.test")
    subscriptions.suppress("bounced@example.org", "bounce")
    subscriptions.suppress("complained@example.org", "complaint")
    subscriptions.erase_subscriber(subscriptions.email_id("erased@example.org"))
    outbox.clear()


def through_check(client, coordinator, choices: dict, data: str = MIXED) -> str:
    response = upload(client, coordinator, data.encode())
    assert response.status_code == 303, response.body
    job_path = response.headers["Location"]
    page = client.http.get(job_path, headers=coordinator["headers"])
    assert page.status_code == 200
    assert b"The first 5 rows of the file" in page.body
    # the columns are guessed from the header
    assert re.search(rb'<select id="email_column".*?<option value="0" selected', page.body, re.S)
    assert re.search(rb'<select id="name_column".*?<option value="1" selected', page.body, re.S)
    assert re.search(rb'<select id="tags_column".*?<option value="2" selected', page.body, re.S)
    # what evidence needs is not marked optional
    assert re.search(rb'<label for="evidence_source">Where their details came from \(needed for both\)</label>', page.body)
    assert re.search(rb'<label for="evidence_wording">The wording they agreed to \(needed for evidence\)</label>', page.body)
    response = post(client, coordinator, f"{job_path}/choices",
                    {"email_column": "0", "name_column": "1", "tags_column": "2", "source_column": "3",
                     "topics": ["newsletter", "events"], **choices})
    assert response.status_code == 303, response.body
    checking = client.http.get(job_path, headers=coordinator["headers"])
    assert b"<progress" in checking.body and b"Refresh to see progress" in checking.body
    assert drain_imports() == 1
    return job_path


def check_report(rows: dict[int, dict], good: str) -> None:
    assert set(rows) == set(range(2, 15))
    for number, reason in EXPECTED_SKIPS.items():
        assert rows[number]["outcome"] == "skipped" and rows[number]["reason"] == reason, (number, rows[number])
    for number, email in GOOD_ROWS.items():
        assert rows[number]["outcome"] == good and rows[number]["email"] == email
    assert rows[11]["name"] == "'=HYPERLINK(\"x\")"  # the downloaded cell cannot run as a formula


def confirm_import(client, coordinator, job_path: str) -> None:
    page = client.http.get(job_path, headers=coordinator["headers"]).body.decode()
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    for _ in range(2):  # a double click, then a reload of the form's answer: one import
        response = post(client, coordinator, f"{job_path}/start", {"version": version})
        assert response.status_code == 303
    assert drain_imports() == 1
    assert drain_imports() == 0


def test_re_permission_import_reports_every_row_and_sends_confirmations_through_ses(client, outbox, coordinator):
    from chalicelib import subscriptions

    known_people(client, outbox, coordinator)
    job_path = through_check(client, coordinator, {"basis": "re-permission"})
    page = client.http.get(job_path, headers=coordinator["headers"]).body.decode()
    assert "<strong>3</strong> people will get the confirmation email" in page
    assert "<strong>10</strong> rows will be skipped" in page
    assert "1: already subscribed" in page and "1: duplicate in file" in page
    check_report(report(client, coordinator, job_path), "confirm")
    assert outbox.messages() == [] and subscriptions.load(subscriptions.email_id("good1@example.org")) is None

    confirm_import(client, coordinator, job_path)
    done = client.http.get(job_path, headers=coordinator["headers"]).body.decode()
    assert "Import finished" in done and "<strong>3</strong> people were sent the confirmation email" in done
    rows = report(client, coordinator, job_path)
    assert rows[2]["reason"] == "Sent the confirmation email"
    assert sorted(m["To"] for m in outbox.messages()) == sorted(GOOD_ROWS.values())  # once each, nobody else
    for email in GOOD_ROWS.values():
        item = subscriptions.load(subscriptions.email_id(email))
        assert item["status"] == "pending" and item["basis"] == "re-permission"
        assert item["consent_history"][0]["event"] == "imported" and item["consent"]["method"] == "import"
    from chalicelib import audience

    tagged = subscriptions.load(subscriptions.email_id("good1@example.org"))["tags"]
    assert audience.names_of(tagged) == ["peer worker"] and tagged != {"peer worker"}  # held by id
    assert subscriptions.load(subscriptions.email_id("left@example.org"))["status"] == "unsubscribed"
    assert subscriptions.load(subscriptions.email_id("erased@example.org")) is None
    # the confirmation is the ordinary one: it confirms
    path = link(outbox.to("good2@example.org")[-1], "confirm")
    assert client.http.post(path, headers={"Content-Type": "application/x-www-form-urlencoded"}, body="").status_code in (200, 303)
    assert subscriptions.load(subscriptions.email_id("good2@example.org"))["status"] == "confirmed"


def test_evidence_import_adds_people_confirmed_with_the_stated_evidence(client, outbox, coordinator):
    from chalicelib import subscriptions

    known_people(client, outbox, coordinator)
    job_path = through_check(client, coordinator, {
        "basis": "evidence", "evidence_source": "paper forms", "evidence_date": "2025-03-14",
        "evidence_wording": "Yes, email me the #PeerTalk newsletter."})
    page = client.http.get(job_path, headers=coordinator["headers"]).body.decode()
    assert "<strong>3</strong> people will be added as confirmed, with your evidence" in page
    check_report(report(client, coordinator, job_path), "add")
    confirm_import(client, coordinator, job_path)
    assert outbox.messages() == []  # nothing is sent to people who already agreed
    item = subscriptions.load(subscriptions.email_id("good1@example.org"))
    assert item["status"] == "confirmed" and item["basis"] == "evidence"
    assert item["consent"]["source"] == "march meeting"  # the row's own source wins
    assert item["consent"]["given_at"] == "2025-03-14"
    assert item["consent"]["wording"] == "Yes, email me the #PeerTalk newsletter."
    assert subscriptions.load(subscriptions.email_id("good2@example.org"))["consent"]["source"] == "paper forms"
    person = client.http.get(f"/coordinator/subscribers/{subscriptions.email_id('good1@example.org')}",
                             headers=coordinator["headers"])
    assert person.status_code == 200


def test_soft_opt_in_needs_every_condition_and_labels_the_people(client, outbox, coordinator):
    from chalicelib import imports, subscriptions

    known_people(client, outbox, coordinator)
    response = upload(client, coordinator, MIXED.encode())
    job_path = response.headers["Location"]
    refused = post(client, coordinator, f"{job_path}/choices", {
        "email_column": "0", "basis": "soft-opt-in", "topics": "newsletter", "evidence_source": "our open day",
        "soft_interest": "yes"})
    assert refused.status_code == 400 and b"applies only if all three are true" in refused.body
    assert b'value="our open day"' in refused.body  # what was typed is kept
    job_path = through_check(client, coordinator, {
        "basis": "soft-opt-in", "evidence_source": "our open day",
        **{k: "yes" for k in imports.SOFT_OPT_IN_CONDITIONS}})
    check_report(report(client, coordinator, job_path), "soft")
    confirm_import(client, coordinator, job_path)
    item = subscriptions.load(subscriptions.email_id("good3@example.org"))
    assert item["status"] == "confirmed" and item["basis"] == "soft-opt-in"
    assert set(item["topics"]) <= set(imports.SOFT_OPT_IN_TOPICS)
    assert item["consent"]["conditions"] == list(imports.SOFT_OPT_IN_CONDITIONS.values())
    assert outbox.messages() == []
    # the subscribers page filters by basis
    listed = client.http.get("/coordinator/subscribers?status=confirmed&basis=soft-opt-in",
                             headers=coordinator["headers"]).body.decode()
    assert "good3@example.org" in listed and "subscribed@example.org" not in listed
    own = client.http.get("/coordinator/subscribers?status=confirmed&basis=signed-up",
                          headers=coordinator["headers"]).body.decode()
    assert "subscribed@example.org" in own and "good3@example.org" not in own


@pytest.mark.parametrize("data, message", [
    (b"", "Choose a CSV file"),
    ("email\nzo\xe9@example.org\n".encode("latin-1"), "not UTF-8 text"),
    (b"PK\x03\x04\x00\x00binary", "not CSV"),
    (b"email,name\n", "no people under it"),
    (b'email,name\n"unclosed@example.org,Zed\n', "not valid CSV"),
])
def test_bad_files_get_a_clear_message_and_the_form_again(client, coordinator, data, message):
    response = upload(client, coordinator, data)
    assert response.status_code == 400, response.body
    assert message.encode() in response.body and b'type="file"' in response.body


def test_a_file_with_no_email_column_cannot_be_checked(client, coordinator):
    response = upload(client, coordinator, b"name,town\nAsha,Leeds\n")
    job_path = response.headers["Location"]
    refused = post(client, coordinator, f"{job_path}/choices", {"basis": "re-permission", "topics": "newsletter"})
    assert refused.status_code == 400
    assert b"Choose the column that holds the email addresses" in refused.body
    assert drain_imports() == 0


def test_a_file_over_the_limit_is_413_with_a_clear_message(client, coordinator):
    from chalicelib import imports

    big = b"email\n" + b"x" * (imports.MAX_FILE_BYTES + 10)
    response = upload(client, coordinator, big)
    assert response.status_code == 413
    assert b"larger than 4 MB" in response.body and b"Nothing was imported" in response.body
    fifty = b"email\n" + b"x" * (50 * 2**20)
    response = upload(client, coordinator, fifty)
    assert response.status_code == 413 and b"at most 4 MB" in response.body and b"Nothing was saved" in response.body


def test_uploading_the_same_form_twice_is_one_import(client, coordinator):
    first = upload(client, coordinator, MIXED.encode(), submission="same-form-1")
    second = upload(client, coordinator, MIXED.encode(), submission="same-form-1")
    assert first.headers["Location"] == second.headers["Location"]


def test_import_needs_a_coordinator_and_the_csrf_token(client, coordinator):
    assert client.http.get("/coordinator/import").status_code == 303
    response = client.http.post("/coordinator/import", headers={
        **coordinator["headers"], "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        body=multipart({"submission": "no-csrf-0001"}, MIXED.encode()))
    assert response.status_code == 403


def test_the_api_imports_the_same_way_and_is_described(client, outbox, coordinator):
    from chalicelib import subscriptions

    headers = {"Authorization": f"Bearer {coordinator['token']}", "Content-Type": "application/json"}
    body = {"csv": "email,name\napi1@example.org,Kit\nbad,Lee\napi1@example.org,Kit\n",
            "basis": "re-permission", "topics": ["newsletter"], "submission": "api-import-01"}
    response = client.http.post("/api/coordinator/imports", headers=headers, body=as_json(body))
    assert response.status_code == 202, response.body
    job = json.loads(response.body)
    assert job["state"] == "checking" and job["rows"] == 3
    drain_imports()
    status = json.loads(client.http.get(f"/api/coordinator/imports/{job['id']}", headers=headers).body)
    assert status["state"] == "checked"
    assert status["summary"]["confirm"] == 1 and status["summary"]["skipped"] == 2
    started = client.http.post(f"/api/coordinator/imports/{job['id']}/start", headers=headers,
                               body=as_json({"version": status["version"]}))
    assert started.status_code == 202 and json.loads(started.body)["started"] is True
    again = client.http.post(f"/api/coordinator/imports/{job['id']}/start", headers=headers,
                             body=as_json({"version": status["version"]}))
    assert json.loads(again.body)["started"] is False
    drain_imports()
    assert [m["To"] for m in outbox.messages()] == ["api1@example.org"]
    assert subscriptions.load(subscriptions.email_id("api1@example.org"))["basis"] == "re-permission"
    refused = client.http.post("/api/coordinator/imports", headers=headers,
                               body=as_json({"csv": "name\nKit\n", "basis": "re-permission", "topics": ["newsletter"]}))
    assert refused.status_code == 400 and "email_column" in json.loads(refused.body)["fields"]
    spec = json.loads(client.http.get("/openapi.json").body)
    assert "/api/coordinator/imports" in spec["paths"]
    assert "SubscriberImport" in json.dumps(spec)


def test_ses_failing_mid_import_then_a_retry_mails_everyone_once_and_reports_them_right(client, outbox, coordinator):
    """SES refuses the second confirmation: the message is retried; the retry finds the people this
    import wrote, mails only the one not yet mailed, and its report still says what happened to each."""
    from chalicelib import imports, mail, subscriptions
    from chalicelib.errors import SendThrottled

    known_people(client, outbox, coordinator)
    job_path = through_check(client, coordinator, {"basis": "re-permission"})
    job_id = job_path.rsplit("/", 1)[1]
    page = client.http.get(job_path, headers=coordinator["headers"]).body.decode()
    version = int(re.search(r'name="version" value="(\d+)"', page).group(1))

    class Flaky(mail.SesSender):
        def send(self, message):
            if message.to == "good2@example.org":
                raise SendThrottled("slow down")
            return super().send(message)

    mail.use_sender(Flaky(sleep=lambda s: None))
    assert imports.start(job_id, version)
    with pytest.raises(SendThrottled):
        imports.run(job_id, "import", version)
    mail.use_sender(None)
    assert sorted(m["To"] for m in outbox.messages()) == ["good1@example.org"]
    assert "confirmation_sent_at" not in subscriptions.load(subscriptions.email_id("good2@example.org"))

    imports.run(job_id, "import", version)  # SQS delivers the message again
    imports.run(job_id, "import", version)  # ... and once more: done already, nothing happens
    assert sorted(m["To"] for m in outbox.messages()) == sorted(GOOD_ROWS.values())
    check_report(report(client, coordinator, job_path), "confirm")
    assert "<strong>3</strong> people were sent the confirmation email" in (
        client.http.get(job_path, headers=coordinator["headers"]).body.decode())


def test_an_import_near_its_time_limit_goes_on_in_a_fresh_run(client, outbox, coordinator, monkeypatch):
    from chalicelib import imports

    known_people(client, outbox, coordinator)
    job_path = through_check(client, coordinator, {"basis": "re-permission"})
    job_id = job_path.rsplit("/", 1)[1]
    page = client.http.get(job_path, headers=coordinator["headers"]).body.decode()
    version = int(re.search(r'name="version" value="(\d+)"', page).group(1))
    monkeypatch.setattr(imports, "CHUNK", 1)
    assert imports.start(job_id, version)
    runs = []

    def nearly_out_of_time():
        return 1_000 if len(runs) < 3 else 900_000

    while drain := drain_imports_with(nearly_out_of_time):
        runs.append(drain)
    assert len(runs) >= 3  # it stopped and queued itself again, more than once
    assert sorted(m["To"] for m in outbox.messages()) == sorted(GOOD_ROWS.values())  # once each
    check_report(report(client, coordinator, job_path), "confirm")
    assert imports.load(job_id)["state"] == "done"


def drain_imports_with(remaining) -> int:
    """One pass over the imports queue, with the time a Lambda invocation has left."""
    import json

    from chalicelib import aws, imports
    from chalicelib.settings import get_settings

    url = aws.queue_url(get_settings().import_queue)
    got = aws.sqs().receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages", [])
    for message in got:
        body = json.loads(message["Body"])
        imports.run(body["job"], body["phase"], int(body["version"]), remaining)
        aws.sqs().delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return len(got)
