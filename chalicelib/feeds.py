"""The Atom feed of published issues, written by feedgen (a well-kept library that gets the Atom
details right: ids, dates with zones, escaping), so feed readers and aggregators can follow #PeerTalk."""
from __future__ import annotations

from chalicelib.settings import get_settings


def atom(published: list[dict]) -> str:
    from feedgen.feed import FeedGenerator

    from chalicelib import clock, issues, newsletter

    settings = get_settings()
    base = settings.public_base_url
    feed = FeedGenerator()
    feed.id(f"{base}/archive")
    feed.title(f"#PeerTalk from {settings.organisation_name}")
    feed.subtitle("The newsletter of the peer support network")
    feed.link(href=f"{base}/archive", rel="alternate")
    feed.link(href=f"{base}/archive.atom", rel="self")
    feed.language("en-GB")
    feed.author({"name": settings.organisation_name})
    newest = max((i.get("completed_at") or i.get("send_started_at") or clock.iso() for i in published),
                 default=clock.iso())
    feed.updated(clock.parse_iso(newest))
    for issue in reversed(published):  # feedgen lists entries newest first when added oldest first
        entry = feed.add_entry()
        url = base + issues.archive_path(issue)
        entry.id(f"{base}/archive/{issue['issue_id']}")  # stable even if the address changes
        entry.title(issue["title"])
        entry.link(href=url, rel="alternate")
        entry.summary(newsletter.summary(issue, limit=500) or issue["title"])
        moment = clock.parse_iso(issue.get("send_started_at") or issue.get("created_at") or newest)
        entry.published(moment)
        entry.updated(clock.parse_iso(issue.get("completed_at") or issue.get("send_started_at") or newest))
    return feed.atom_str(pretty=True).decode("utf-8")
