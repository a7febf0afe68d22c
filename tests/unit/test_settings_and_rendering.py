"""Typed settings and the one template environment."""
from __future__ import annotations

from chalicelib import rendering, settings


def test_settings_parse_types_from_environment():
    parsed = settings.from_environ({"PEERPOST_PUBLIC_BASE_URL": "https://news.example.org/",
                                    "PEERPOST_OFFER_WINDOW_HOURS": "12", "PEERPOST_SAFEGUARDING_PHRASES": "a|b "})
    assert parsed.public_base_url == "https://news.example.org"
    assert parsed.secure_cookies is True
    assert parsed.offer_window_hours == 12
    assert parsed.safeguarding_phrases == ("a", "b")


def test_pages_escape_and_text_email_does_not():
    page = rendering.render_page("message.html", title="<script>x</script>", message="{{ 7*7 }}")
    assert "<script>x</script>" not in page and "&lt;script&gt;" in page
    assert "{{ 7*7 }}" in page
    email = rendering.render_email("confirm", "Confirm", first_name="A & B <c>", confirm_url="https://x/y?a=1&b=2",
                                   topics=["News"], expiry_hours=72, unsubscribe_url="")
    assert "A & B <c>" in email.text
    assert "A &amp; B &lt;c&gt;" in email.html
    assert 'lang="en-GB"' in email.html
