"""Demo stories for local mode: invented examples in every state a coordinator meets (none are real people)."""
from __future__ import annotations

from chalicelib import stories

DEMO_STORIES = [
    {
        "title": "The group that waited for me",
        "text": ("The first time I went to the Tuesday group I sat in my car outside for twenty minutes.\n\n"
                 "When I finally walked in, nobody asked me to explain myself. Someone made me a cup of tea "
                 "and said I could just listen. I came back the next week, and the one after that.\n\n"
                 "Two years on, I am the one who puts the kettle on."),
        "name": "Amira Khalil", "email": "amira.story@example.org", "content_notes": "",
        "level": "first_name", "channels": ["newsletter", "archive"], "publish": True,
    },
    {
        "title": "Being a peer supporter taught me to ask for help",
        "text": ("I trained as a peer supporter because I wanted to give something back. What I did not expect "
                 "was how much it would change the way I look after myself.\n\nIn supervision we talk about "
                 "our own wellbeing as much as anyone else's. For the first time, asking for help felt normal."),
        "name": "", "email": "", "content_notes": "anxiety",
        "level": "anonymous", "channels": ["newsletter", "archive", "social"], "publish": True,
    },
    {
        "title": "After the ward",
        "text": ("When I left hospital, Sam from the peer support team rang me every Friday. Sam never told me "
                 "what to do. Sam just remembered what I had said the week before.\n\nThat was enough."),
        "name": "Daniel Osei", "email": "daniel.story@example.org", "content_notes": "hospital",
        "level": "full_name", "channels": ["reports"], "publish": False,
        "edit": ("When I left hospital, someone from the peer support team rang me every Friday. They never "
                 "told me what to do. They just remembered what I had said the week before.\n\nThat was enough."),
    },
    {
        "title": "Not sure I want to share this yet",
        "text": ("I am writing this down because my peer worker suggested it. There were weeks last year when I "
                 "felt I was not safe, and the group was the one place I kept going to.\n\n"
                 "I do not know yet whether I want anyone else to read it."),
        "name": "Lee", "email": "lee.story@example.org", "content_notes": "",
        "level": "private", "channels": [], "publish": False,
    },
]


def seed_stories() -> None:
    for demo in DEMO_STORIES:
        submission = stories.parse_submission({**demo, "consent": "yes"})
        story_id = stories.submit(submission, "demo-seed")
        if demo.get("publish"):
            for status in ("in_review", "approved", "published"):
                stories.set_status(story_id, status)
        if demo.get("edit"):
            stories.set_status(story_id, "in_review")
            stories.edit(story_id, {"title": demo["title"], "text": demo["edit"],
                                    "content_notes": demo["content_notes"]}, "demo coordinator")
