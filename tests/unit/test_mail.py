"""MIME building: structure, headers, and no header injection from anything a person typed."""
from __future__ import annotations

from email import message_from_bytes, policy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.mail import Attachment, OutgoingMessage, RecordingSender, SesSender, build_mime

BASE = OutgoingMessage(to="Sam <sam@example.org>", subject="Hello", text="Plain words", html="<p>Rich words</p>",
                       sender="#PeerTalk <news@peerpost.example.org>", reply_to="help@peerpost.example.org",
                       list_id="PeerTalk <peertalk.peerpost.example.org>",
                       unsubscribe_url="https://peerpost.test/unsubscribe/tok", unsubscribe_mailto="unsub@peerpost.example.org")


def parse(raw: bytes):
    message = message_from_bytes(raw, policy=policy.strict)
    assert not message.defects
    return message


def test_structure_and_list_headers():
    message = parse(build_mime(BASE))
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["From"].addresses[0].display_name == "#PeerTalk"
    assert message["List-Unsubscribe"] == ("<https://peerpost.test/unsubscribe/tok>, "
                                           "<mailto:unsub@peerpost.example.org?subject=unsubscribe>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"].endswith("@peerpost.example.org>")
    assert message["Reply-To"] == "help@peerpost.example.org"


def test_attachment_makes_mixed():
    ics = Attachment("event.ics", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "text", "calendar", {"method": "PUBLISH"})
    message = parse(build_mime(OutgoingMessage(**{**BASE.__dict__, "attachments": (ics,)})))
    assert message.get_content_type() == "multipart/mixed"
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "event.ics"


@given(st.text(min_size=1, max_size=40), st.text(max_size=60))
def test_no_header_injection_from_names_or_subjects(name, subject):
    message = OutgoingMessage(**{**BASE.__dict__, "to": f"{name}\r\nBcc: victim@example.org <sam@example.org>",
                                 "subject": f"{subject}\r\nBcc: victim@example.org"})
    try:
        raw = build_mime(message)
    except ValueError:
        return  # refusing an unusable address is fine; injecting is not
    parsed = parse(raw)
    assert parsed["Bcc"] is None
    assert all("\n" not in str(value) and "\r" not in str(value) for value in parsed.values())


class ThrottlingClient:
    def __init__(self, failures: int) -> None:
        self.failures, self.calls = failures, 0

    def send_email(self, **request):
        from botocore.exceptions import ClientError

        self.calls += 1
        if self.calls <= self.failures:
            raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "slow down"}}, "SendEmail")
        return {"MessageId": "ok-1"}


def test_throttling_is_retried_with_backoff():
    slept: list[float] = []
    client = ThrottlingClient(failures=3)
    assert SesSender(client, sleep=slept.append).send(BASE) == "ok-1"
    assert client.calls == 4 and len(slept) == 3 and slept[0] < slept[-1] * 2


def test_throttling_that_never_ends_raises_for_a_later_retry():
    import pytest

    from chalicelib.errors import SendThrottled

    with pytest.raises(SendThrottled):
        SesSender(ThrottlingClient(failures=99), sleep=lambda _: None).send(BASE)


class FailingClient:
    """SES answers 500 (it failed, and says so), then accepts."""

    def __init__(self, failures: int) -> None:
        self.failures, self.calls = failures, 0

    def send_email(self, **request):
        from botocore.exceptions import ClientError

        self.calls += 1
        if self.calls <= self.failures:
            raise ClientError({"Error": {"Code": "InternalFailure", "Message": "oops"},
                               "ResponseMetadata": {"HTTPStatusCode": 500}}, "SendEmail")
        return {"MessageId": "ok-1"}


def test_an_ses_failure_it_answers_is_retried_but_an_unanswered_send_never_is():
    from botocore.exceptions import ReadTimeoutError

    from chalicelib import aws

    client = FailingClient(failures=2)
    assert SesSender(client, sleep=lambda _: None).send(BASE) == "ok-1" and client.calls == 3
    # botocore itself must not resend: a timed-out SendEmail may have been sent.
    config = aws.sesv2().meta.config
    assert config.retries["total_max_attempts"] == 1 and config.read_timeout == aws.SES_READ_TIMEOUT_SECONDS

    class Silent:
        calls = 0

        def send_email(self, **request):
            Silent.calls += 1
            raise ReadTimeoutError(endpoint_url="https://email.test")

    with pytest.raises(ReadTimeoutError):
        SesSender(Silent(), sleep=lambda _: None).send(BASE)
    assert Silent.calls == 1


def test_recording_sender_keeps_messages():
    fake = RecordingSender()
    fake.send(BASE)
    assert fake.to("Sam <sam@example.org>") == [BASE]


@given(st.binary(max_size=4000))
def test_the_per_copy_base64_is_what_the_standard_library_writes(data):
    import base64

    from chalicelib.mail import base64_lines

    assert base64_lines(data) == base64.encodebytes(data).rstrip(b"\n")


@given(st.sampled_from(["sam@example.org", "a.b+c@mail.example-1.org", "o'neil@example.org", "x@y",
                        "Sam <sam@example.org>", "\"a b\"@example.org", "a..b@example.org", ".a@example.org",
                        "sam@example.org ", "sam@[127.0.0.1]", "#PeerTalk <news@peerpost.example.org>"]))
def test_the_quick_path_for_a_bare_address_parses_as_getaddresses_does(value):
    from email.headerregistry import Address
    from email.utils import getaddresses

    from chalicelib import mail

    (name, addr), = getaddresses([mail._clean(value)])
    if "@" not in addr:
        with pytest.raises(ValueError):
            mail._address(value)
        return
    username, domain = addr.rsplit("@", 1)
    assert mail._address(value) == Address(display_name=mail._clean(name), username=username, domain=domain)
