"""Coordinator roles, and which role each coordinator route needs: the one table of who may do what.

A person may hold several roles. Every coordinator route is matched against RULES when it is registered
(chalicelib.web.route); a route no rule covers is an error at import, so a new page cannot go out open
to every coordinator by accident. SIGNED_IN marks the few pages every coordinator shares.
"""
from __future__ import annotations

import re

ADMIN = "admin"
EDITOR = "editor"
MODERATOR = "moderator"
SAFEGUARDING = "safeguarding"
EVENTS = "events"
SIGNED_IN = ""

ALL = (ADMIN, EDITOR, MODERATOR, SAFEGUARDING, EVENTS)
LABELS = {ADMIN: "Admin", EDITOR: "Editor", MODERATOR: "Moderator", SAFEGUARDING: "Safeguarding lead",
          EVENTS: "Events"}
DUTIES = {
    ADMIN: "accounts and settings: invites the team, sets roles, reads the audit trail, answers a "
           "subscriber's request for their data or erasure",
    EDITOR: "newsletter issues and announcements, and the audience they go to: subscribers, tags, "
            "suppressions, imports",
    MODERATOR: "stories: reviewing, editing, publishing, declining and writing to contributors",
    SAFEGUARDING: "safeguarding flags, and the only role that sees a contributor's contact details",
    EVENTS: "events, registrations, waiting lists and offers",
}
# A password alone is not enough for these: they reach accounts and contributors' contact details.
TWO_FACTOR_REQUIRED = frozenset({ADMIN, SAFEGUARDING})

# (path pattern, role or roles): the first whose pattern matches the whole registered path wins, for every
# method; a tuple means any one of them will do.
RULES: tuple[tuple[str, str | tuple[str, ...]], ...] = (
    (r"/coordinator", SIGNED_IN),
    (r"/coordinator/sign-out", SIGNED_IN),
    (r"/coordinator/charts/[\w.-]+", SIGNED_IN),
    (r"/coordinator/account(/.*)?", SIGNED_IN),
    (r"/coordinator/(team|audit)([/.].*)?", ADMIN),
    (r"/coordinator/subscribers/\{sid\}/(erase|data\.json)", ADMIN),
    (r"/(api/)?coordinator/(subscribers|add-subscriber|tags|suppressions|imports?)([/.].*)?", EDITOR),
    (r"/coordinator/events/\{event_id\}/announcement", EDITOR),
    (r"/(api/)?coordinator/events(/.*)?", EVENTS),
    (r"/(api/)?coordinator/issues(/.*)?", EDITOR),
    (r"/coordinator/stories/\{story_id\}/(contact|safeguarding)(/.*)?", SAFEGUARDING),
    (r"/coordinator/stories/\{story_id\}", (MODERATOR, SAFEGUARDING)),  # a lead reads the story a flag is on
    (r"/(api/)?coordinator/(stories|story-exports)(/.*)?", MODERATOR),
)
_COMPILED = tuple((re.compile(pattern), role) for pattern, role in RULES)


class Uncovered(LookupError):
    """A coordinator route that no rule gives a role: add one to RULES."""


def required(path: str) -> str | tuple[str, ...]:
    """The role a coordinator route needs (SIGNED_IN: any coordinator)."""
    for pattern, role in _COMPILED:
        if pattern.fullmatch(path):
            return role
    raise Uncovered(f"No role is set for {path}: add a rule to chalicelib/roles.py RULES.")


def label(role: str | tuple[str, ...]) -> str:
    if isinstance(role, tuple):
        return " or ".join(LABELS.get(r, r) for r in role)
    return LABELS.get(role, role)


def allows(role: str | tuple[str, ...], held) -> bool:
    """Whether someone holding `held` may use a route that needs `role`."""
    if role == SIGNED_IN:
        return True
    return bool(set(role if isinstance(role, tuple) else (role,)) & set(held))


def clean(chosen) -> list[str]:
    """The known roles among those ticked on a form, in the usual order."""
    chosen = {chosen} if isinstance(chosen, str) else set(chosen or ())
    return [role for role in ALL if role in chosen]


def needs_two_factor(held) -> bool:
    return bool(TWO_FACTOR_REQUIRED & set(held))
