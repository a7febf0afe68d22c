"""Story pages: the public form, the contributor's private page, and coordinator moderation and exports."""
from __future__ import annotations

import json
import secrets

from chalice import Blueprint, Response

from chalicelib import consent, forms, moderation, roles, stories, team, web
from chalicelib.errors import Conflict, NotFound, PayloadTooLarge, RateLimited, ValidationError
from chalicelib.rendering import render_page

bp = Blueprint(__name__)

THANKS = ("Thank you for your story",
          "We have it safely. A coordinator will read it soon. If you gave an email address, we have sent you a "
          "private link where you can see your story and change or withdraw your consent at any time.")


def _form_context() -> dict:
    return {"levels": consent.LEVELS, "level_labels": consent.LEVEL_LABELS,
            "level_explanations": consent.LEVEL_EXPLANATIONS, "channels": consent.CHANNELS,
            "channel_labels": consent.CHANNEL_LABELS, "consent_version": consent.WORDING_VERSION,
            "consent_wording": consent.WORDING[consent.WORDING_VERSION],
            "max_chars": stories.get_settings().max_story_chars}


def _chosen(values: dict) -> list[str]:
    raw = values.get("channels", [])
    return [raw] if isinstance(raw, str) else list(raw or [])


def _story_form(values: dict, errors: dict, status: int = 200, form_error: str = "") -> Response:
    # Kept through a re-shown form, so a corrected resend is still the same story.
    submission_id = str(values.get("submission_id") or "")[:stories.MAX_SUBMISSION_ID] or secrets.token_urlsafe(16)
    return web.html(render_page("stories/new.html", values=values, errors=errors, chosen=_chosen(values),
                                form_error=form_error, submission_id=submission_id, **_form_context()),
                    status=status)


@web.route(bp, "/stories/new")
def new_story():
    return _story_form({}, {})


# Past the shared body limit a story would be lost behind an error page; read it anyway (API Gateway
# caps requests at 10 MB) so the length check can re-show it beside its error.
STORY_FORM_MAX_BYTES = 2 * 1024 * 1024


def _story_body(request) -> dict:
    from urllib.parse import parse_qs

    try:
        return web.body(request)
    except PayloadTooLarge:
        raw = request.raw_body or b""
        if len(raw) > STORY_FORM_MAX_BYTES or web.content_type(request) != "application/x-www-form-urlencoded":
            raise
        fields = parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=200)
        return {k: v[0] if len(v) == 1 else v for k, v in fields.items()}


@web.route(bp, "/stories/new", methods=["POST"])
def submit_story():
    request = bp.current_request
    data = _story_body(request)
    if data.get("website"):  # the honeypot: answer exactly as for a person, keep nothing
        return web.redirect("/stories/thanks")
    try:
        stories.submit(stories.parse_submission(data), web.client_id(request))
    except ValidationError as error:
        return _story_form(data, error.errors, status=400)
    except RateLimited as error:
        return _story_form(data, {}, status=429, form_error=error.message)
    return web.redirect("/stories/thanks")  # reloading the thank-you page sends nothing again


@web.route(bp, "/stories/thanks")
def story_thanks():
    return web.html(render_page("message.html", title=THANKS[0], message=THANKS[1]))


@web.route(bp, "/api/stories", methods=["POST"], content_types=["application/json"],
           model=stories.STORY_MODEL, responses=(202, 400, 413, 429))
def submit_story_api():
    """Submit a story with its consent level and channels"""
    request = bp.current_request
    data = web.body(request)
    if not data.get("website"):
        stories.submit(stories.parse_submission(data), web.client_id(request))
    return web.json_response({"status": "received", "message": THANKS[1]}, status=202)


# ---------------------------------------------------------------- the contributor's private page

# Every form answers with a redirect (POST/redirect/GET) to the page, which says what was done.
CONTRIBUTOR_DONE = {
    "consent": "Your choices are saved. They apply everywhere from now on.",
    "approved": "Thank you. You have approved the edited version.",
    "kept": "We will keep your words as you wrote them. The edit will not be used.",
}


def _done() -> str:
    return str((bp.current_request.query_params or {}).get("done", ""))


def _contributor_page(token: str, errors: dict | None = None, values: dict | None = None,
                      notice: str = "", status: int = 200) -> Response:
    story_id = stories.story_id_from_token(token)
    story = stories.load(story_id)
    if story is not None and story["status"] == "withdrawn" and _done() == "withdrawn":
        return web.html(render_page(
            "message.html", title="Your story is withdrawn",
            message="We have erased your story and your name, and it will not appear anywhere again, including "
                    "past newsletter issues on our website. Thank you for having shared it with us."))
    if story is None or story["status"] == "withdrawn":
        return web.html(render_page(
            "message.html", title="This story has been withdrawn",
            message="Your story and your name have been erased. We keep only a record that a story was "
                    "withdrawn, and when."), status=200 if story else 404)
    values = values if values is not None else {"level": story["consent"]["level"],
                                                "channels": list(story["consent"]["channels"])}
    return web.html(render_page(
        "stories/mine.html", token=token, story=story, approved=stories.approved(story),
        latest=stories.current(story), values=values, errors=errors or {}, chosen=_chosen(values), notice=notice,
        contributor_status_labels=stories.CONTRIBUTOR_STATUS_LABELS,
        shared={c: consent.decide(story, c) for c in consent.CHANNELS}, difference=_edit_difference(story),
        **_form_context()), status=status)


def _edit_difference(story: dict) -> str:
    """What the waiting edit changed from the words the contributor last approved (their page shows it)."""
    mine, latest = stories.approved(story), stories.current(story)
    if story["status"] != "awaiting_approval" or not mine or not latest:
        return ""
    return moderation.difference_html(mine["text"], latest["text"])


def _diffs(story: dict) -> dict:
    """Each version's difference from the one before it (by number), as HTML with <del> and <ins>."""
    versions = story.get("versions", [])
    return {int(after["number"]): moderation.difference_html(before["text"], after["text"])
            for before, after in zip(versions, versions[1:])}


def _back_to_contributor(token: str, done: str) -> Response:
    return web.redirect(f"/stories/mine/{token}?done={done}")


@web.route(bp, "/stories/mine/{token}")
def my_story(token):
    return _contributor_page(token, notice=CONTRIBUTOR_DONE.get(_done(), ""))


@web.route(bp, "/stories/mine/{token}/consent", methods=["POST"])
def my_story_consent(token):
    data = web.body(bp.current_request)
    try:
        stories.change_consent(stories.story_id_from_token(token), data)
    except ValidationError as error:
        return _contributor_page(token, error.errors, data, status=400)
    return _back_to_contributor(token, "consent")


def _version_shown() -> int:
    """The version number the contributor's page showed: a stale or missing one asks for a reload."""
    try:
        return int(str(web.body(bp.current_request).get("version", "")))
    except ValueError as exc:
        raise Conflict("Please reload the page and try again.") from exc


@web.route(bp, "/stories/mine/{token}/approve", methods=["POST"])
def my_story_approve(token):
    stories.approve_version(stories.story_id_from_token(token), _version_shown())
    return _back_to_contributor(token, "approved")


@web.route(bp, "/stories/mine/{token}/keep-mine", methods=["POST"])
def my_story_keep_mine(token):
    stories.keep_my_version(stories.story_id_from_token(token), _version_shown())
    return _back_to_contributor(token, "kept")


@web.route(bp, "/stories/mine/{token}/withdraw", methods=["POST"])
def my_story_withdraw(token):
    data = web.body(bp.current_request)
    if not forms.ticked(data.get("confirm")):
        return _contributor_page(token, {"confirm": "Tick the box to confirm you want to withdraw your story."},
                                 status=400)
    stories.withdraw(stories.story_id_from_token(token))
    return _back_to_contributor(token, "withdrawn")


# ---------------------------------------------------------------- coordinators

@web.route(bp, "/coordinator/stories", coordinator=True)
def moderation_queue(coordinator):
    query = bp.current_request.query_params or {}
    status = query.get("status", "")
    if status and status not in stories.STATUSES:
        raise NotFound("There is no such status.")
    shown = [status] if status else [s for s in stories.STATUSES if s != "withdrawn"]
    rows = [item for s in shown for item in stories.iter_by_status(s)]
    return web.html(render_page("coordinator/stories.html", coordinator=coordinator, rows=rows, status=status,
                                counts=stories.counts_by_status(), status_labels=stories.STATUS_LABELS,
                                channels=consent.CHANNELS, level_labels=consent.LEVEL_LABELS))


def _story_page(coordinator, story_id: str, errors: dict | None = None, values: dict | None = None,
                done: str = "", status: int = 200) -> Response:
    story = stories.get(story_id)
    notice = _coordinator_notice(story, done)
    latest = stories.current(story)
    values = {**_typed(story_id, {}, story), **(values or {})}
    return web.html(render_page(
        "coordinator/story.html", coordinator=coordinator, story=story, latest=latest,
        approved=stories.approved(story), values=values, errors=errors or {}, notice=notice,
        status_labels=stories.STATUS_LABELS, transitions=stories.TRANSITIONS.get(story["status"], ()),
        shared={c: consent.decide(story, c) for c in consent.CHANNELS}, moderators=team.holders(roles.MODERATOR),
        diffs=_diffs(story), **_form_context()), status=status)


def _typed(story_id: str, data: dict, story: dict | None = None) -> dict:
    """The story page's forms as first shown (the latest words, the suggested decline message), with
    whatever was just typed over them."""
    story = story or stories.get(story_id)
    latest = stories.current(story)
    shown = {"title": latest["title"], "text": latest["text"],
             "content_notes": ", ".join(latest.get("content_notes") or [])} if latest else {}
    shown["decline_message"] = moderation.decline_wording(story)
    return {**shown, **{k: str(v) for k, v in data.items() if k != "csrf_token"}}


def _coordinator_notice(story: dict, done: str) -> str:
    if done == "status":
        return f"Status changed to {stories.STATUS_LABELS[story['status']].lower()}."
    if done == "edited":
        return ("Saved as a new version. It cannot be published until the contributor approves it"
                + ("; we have emailed them." if story.get("email") else
                   ". They gave no email address, so they cannot be asked."))
    return {"consent": "Consent changed as the contributor asked.", "message": "Message sent to the contributor.",
            "note": "Note added.", "assigned": "Assignee saved.", "handled": "Safeguarding flag marked handled.",
            "kept": "Kept on purpose: retention will not erase it.", "unkept": "Normal retention applies.",
            "withdrawn": "Withdrawn: the story's words and name are erased."}.get(done, "")


def _back_to_story(story_id: str, done: str) -> Response:
    """303 to the story's page, which says what was done: Back and reload repeat nothing."""
    return web.redirect(f"/coordinator/stories/{story_id}?done={done}")


@web.route(bp, "/coordinator/stories/{story_id}", coordinator=True)
def story_detail(coordinator, story_id):
    return _story_page(coordinator, story_id, done=_done())


@web.route(bp, "/coordinator/stories/{story_id}/status", methods=["POST"], coordinator=True)
def story_status(coordinator, story_id):
    data = web.body(bp.current_request)
    new = str(data.get("status", ""))
    if new == "rejected":  # a reason, and the contributor told in words the coordinator can adjust
        try:
            moderation.decline(story_id, coordinator, str(data.get("reason", "")), str(data.get("decline_message", "")))
        except ValidationError as error:
            if web.wants_json(bp.current_request):
                raise
            return _story_page(coordinator, story_id, error.errors, values=_typed(story_id, data), status=400)
    else:
        stories.set_status(story_id, new)
    if web.wants_json(bp.current_request):
        return web.json_response({"status": new})
    return _back_to_story(story_id, "status")


@web.route(bp, "/coordinator/stories/{story_id}/versions", methods=["POST"], coordinator=True)
def story_edit(coordinator, story_id):
    data = web.body(bp.current_request)
    try:
        story = stories.edit(story_id, data, coordinator.email)
    except ValidationError as error:
        if web.wants_json(bp.current_request):
            raise
        return _story_page(coordinator, story_id, error.errors, data, status=400)
    if web.wants_json(bp.current_request):
        return web.json_response({"version": int(story["current_version"]), "status": story["status"]}, status=201)
    return _back_to_story(story_id, "edited")


@web.route(bp, "/coordinator/stories/{story_id}/consent", methods=["POST"], coordinator=True)
def story_consent(coordinator, story_id):
    data = web.body(bp.current_request)
    try:
        stories.change_consent(story_id, data, actor="coordinator", method="on-request")
    except ValidationError as error:
        return _story_page(coordinator, story_id, error.errors, status=400)
    return _back_to_story(story_id, "consent")


@web.route(bp, "/coordinator/stories/{story_id}/keep", methods=["POST"], coordinator=True)
def story_keep(coordinator, story_id):
    keep = forms.ticked(web.body(bp.current_request).get("keep"))
    stories.set_keep(story_id, keep)
    return _back_to_story(story_id, "kept" if keep else "unkept")


@web.route(bp, "/coordinator/stories/{story_id}/withdraw", methods=["POST"], coordinator=True)
def story_withdraw(coordinator, story_id):
    data = web.body(bp.current_request)
    if not forms.ticked(data.get("confirm")):
        return _story_page(coordinator, story_id, {"confirm": "Tick the box to confirm the contributor asked."},
                           status=400)
    stories.withdraw(story_id, actor="coordinator", method="on-request")
    return _back_to_story(story_id, "withdrawn")


def _story_form_post(story_id: str, coordinator, action, done: str) -> Response:
    """A story-page form: done, and back to the page saying so; or the page again with what was typed."""
    data = web.body(bp.current_request)
    try:
        action(data)
    except ValidationError as error:
        return _story_page(coordinator, story_id, error.errors, values=_typed(story_id, data), status=400)
    except Conflict as error:
        return _story_page(coordinator, story_id, {"message": error.message} if done == "message" else
                           {"form": error.message}, values=_typed(story_id, data), status=409)
    return _back_to_story(story_id, done)


@web.route(bp, "/coordinator/stories/{story_id}/message", methods=["POST"], coordinator=True)
def story_message(coordinator, story_id):
    return _story_form_post(story_id, coordinator, lambda data: moderation.write(
        story_id, coordinator, str(data.get("subject", "")), str(data.get("message", ""))), "message")


@web.route(bp, "/coordinator/stories/{story_id}/notes", methods=["POST"], coordinator=True)
def story_note(coordinator, story_id):
    return _story_form_post(story_id, coordinator, lambda data: moderation.add_note(
        story_id, coordinator, str(data.get("note", ""))), "note")


@web.route(bp, "/coordinator/stories/{story_id}/assignee", methods=["POST"], coordinator=True)
def story_assign(coordinator, story_id):
    return _story_form_post(story_id, coordinator, lambda data: moderation.assign(
        story_id, str(data.get("assignee", ""))), "assigned")


@web.route(bp, "/coordinator/stories/{story_id}/safeguarding", methods=["POST"], coordinator=True)
def story_safeguarding_handled(coordinator, story_id):
    return _story_form_post(story_id, coordinator, lambda data: moderation.mark_handled(
        story_id, coordinator, str(data.get("handled_note", ""))), "handled")


@web.route(bp, "/coordinator/stories/{story_id}/contact", coordinator=True, audited=True)
def story_contact(coordinator, story_id):
    """Safeguarding leads only, and every view is in the audit trail."""
    return web.html(render_page("coordinator/story_contact.html", coordinator=coordinator, story_id=story_id,
                                contact=moderation.contact(story_id)), headers={"Cache-Control": "private, no-store"})


def _download(body: str, kind: str, filename: str) -> Response:
    return Response(body=body, status_code=200, headers={
        "Content-Type": kind, "Content-Disposition": f'attachment; filename="{filename}"'})


@web.route(bp, "/coordinator/story-exports/records.json", coordinator=True, audited=True)
def export_records_json(coordinator):
    return _download(json.dumps({"stories": stories.export_records()}, indent=2), "application/json",
                     "peerpost-story-consent.json")


@web.route(bp, "/coordinator/story-exports/records.csv", coordinator=True, audited=True)
def export_records_csv(coordinator):
    return _download(stories.export_records_csv(), "text/csv; charset=utf-8", "peerpost-story-consent.csv")


@web.route(bp, "/coordinator/story-exports/channel/{channel}", coordinator=True, audited=True)
def export_channel(coordinator, channel):
    if channel not in consent.CHANNELS:
        raise NotFound("There is no such channel.")
    return _download(stories.export_channel_csv(channel), "text/csv; charset=utf-8",
                     f"peerpost-stories-{channel}.csv")
