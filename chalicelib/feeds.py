"""The Atom feed of published issues, so feed readers can follow #PeerTalk.

Written by feedgenerator (Django's feed writer as a standalone package, kept by the Pelican project):
it gets Atom's details right (ids, dates with zones, escaping) in pure Python, where feedgen would
add lxml and double the Lambda package."""
from __future__ import annotations

from chalicelib.settings import get_settings


def atom(published: list[dict]) -> str:
    from feedgenerator import Atom1Feed

    from chalicelib import clock, issues, newsletter

    settings = get_settings()
    base = settings.public_base_url
    feed = Atom1Feed(title=f"#PeerTalk from {settings.organisation_name}", link=f"{base}/archive",
                     description="The newsletter of the peer support network", language="en-GB",
                     feed_url=f"{base}/archive.atom", feed_guid=f"{base}/archive",
                     author_name=settings.organisation_name)
    for issue in published:  # newest first, as the archive lists them
        started = issue.get("send_started_at") or issue.get("created_at") or clock.iso()
        feed.add_item(
            title=issue["title"], link=base + issues.archive_path(issue),
            description=newsletter.summary(issue, limit=500) or issue["title"],
            unique_id=f"{base}/archive/{issue['issue_id']}",  # stable even if the address changes
            pubdate=clock.parse_iso(started), updateddate=clock.parse_iso(issue.get("completed_at") or started))
    return feed.writeString("utf-8")
