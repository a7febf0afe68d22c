"""A prepared message: one MIME build, per-recipient copies by substitution that parse strictly."""
from __future__ import annotations

from email import message_from_bytes, policy

from chalicelib import mail, newsletter

MARKERS = mail.Markers.new()
P = MARKERS.placeholder


def prepared() -> mail.PreparedMessage:
    long_line = "<td style='padding: 0 8px'>caf\u00e9 \u2013 \u201cquoted\u201d</td>" * 200
    return mail.PreparedMessage(mail.OutgoingMessage(
        to=MARKERS.address, subject="#PeerTalk: caf\u00e9 \u2013 December",
        text=f"Hello{P('name')},\n\nCaf\u00e9 \u2013 news.\nUnsubscribe: {P('unsubscribe_url')}\n",
        html=f"<html lang='en-GB'><body><p>Hello{P('name')},</p>{long_line}"
             f"<a href='{P('unsubscribe_url')}'>Unsubscribe</a></body></html>",
        sender="#PeerTalk <news@peerpost.example.org>", list_id="PeerTalk <peertalk.peerpost.example.org>",
        unsubscribe_url=P("unsubscribe_url"), tags={"purpose": "newsletter"}), MARKERS)


def parse(raw: bytes):
    message = message_from_bytes(raw, policy=policy.strict)
    assert not message.defects
    for part in message.walk():
        assert not part.defects, part.defects
    return message


def test_each_copy_parses_strictly_with_its_own_values():
    message = prepared()
    values = newsletter.personal_values("Zo\u00eb <b>&", "https://p.test/preferences/a", "https://p.test/unsubscribe/b.c-_")
    raw = message.personalise("zoe@example.org", values, "20261201-abc.xyz")
    assert raw.isascii() and max(len(line) for line in raw.split(b"\n")) < 998
    parsed = parse(raw)
    assert str(parsed["To"]) == "zoe@example.org"
    assert parsed["Message-ID"] == "<20261201-abc.xyz@peerpost.example.org>"
    assert parsed["Subject"] == "#PeerTalk: caf\u00e9 \u2013 December"
    assert parsed["List-Unsubscribe"] == "<https://p.test/unsubscribe/b.c-_>"
    text = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    assert text.startswith("Hello Zo\u00eb <b>&,") and "Unsubscribe: https://p.test/unsubscribe/b.c-_" in text
    assert "Hello Zo&#235; &lt;b&gt;&amp;," in html and "href='https://p.test/unsubscribe/b.c-_'" in html
    assert "caf&#233; &#8211; &#8220;quoted&#8221;" in html


def test_copies_do_not_leak_into_each_other():
    message = prepared()
    first = message.personalise("a@example.org", newsletter.personal_values("A", "u1", "u2"), "m1")
    second = message.personalise("b@example.org", newsletter.personal_values("", "u3", "u4"), "m2")
    assert b"a@example.org" not in second and b"u2" not in second
    assert parse(second).get_body(("plain",)).get_content().startswith("Hello,")


def test_an_international_address_falls_back_to_a_full_build():
    raw = prepared().personalise("j\u00f6rg@example.org", newsletter.personal_values("J", "u1", "u2"), "m1")
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["To"].addresses[0].username == "j\u00f6rg"
    assert parsed.get_body(("plain",)).get_content().startswith("Hello J,")


def test_the_recording_sender_keeps_raw_sends():
    sender = mail.RecordingSender()
    mail.use_sender(sender)
    mail.send_prepared(prepared(), "a@example.org", newsletter.personal_values("A", "u1", "u2"), "m1")
    [(to, raw)] = sender.raw
    assert to == "a@example.org" and parse(raw)


TYPED = ("%%PP.name%% %%PP.unsubscribe_url%% %%PP.preferences_url%% %%PP.message_id%% %%PP.__text__%% "
         "pp-recipient@placeholder.invalid %%PP0123456789abcdef.name%% PPBLOCK0000X")


def test_marker_look_alikes_a_person_typed_stay_exactly_as_typed():
    typed_markers = mail.Markers.new()  # even someone who guessed the shape of another rendering's key
    message = mail.PreparedMessage(mail.OutgoingMessage(
        to=MARKERS.address, subject=f"Issue {TYPED}",
        text=f"Hello{P('name')}. {TYPED} {typed_markers.placeholder('name')}\n",
        html=f"<p>Hello{P('name')}. {TYPED} {typed_markers.placeholder('name')}</p>",
        sender="#PeerTalk <news@peerpost.example.org>", unsubscribe_url=P("unsubscribe_url")), MARKERS)
    raw = message.personalise("zoe@example.org", newsletter.personal_values("Zoe", "https://p/pref", "https://p/u"),
                              "m1")
    parsed = parse(raw)
    text = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    for part in (text, html):
        assert TYPED in part and typed_markers.placeholder("name") in part and "Hello Zoe." in part
        assert "zoe@example.org" not in part and "https://p/" not in part
    assert TYPED in parsed["Subject"]


def test_an_empty_name_fills_every_part():
    raw = prepared().personalise("a@example.org", newsletter.personal_values("", "u1", "u2"), "m1")
    html = parse(raw).get_body(("html",)).get_content()
    assert "%%PP" not in html and "<p>Hello,</p>" in html
