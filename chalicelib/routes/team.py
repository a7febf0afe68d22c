"""The team's pages: the second factor at sign-in, one's own account and sessions, the admin's team
page (invitations, roles, removal), accepting an invitation, resetting a password, the audit trail."""
from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

from chalice import Blueprint, Response

from chalicelib import audit, auth, clock, forms, roles, team, two_factor, web
from chalicelib.errors import Conflict, RateLimited, Unauthorised, ValidationError
from chalicelib.rendering import render_page
from chalicelib.settings import get_settings

bp = Blueprint(__name__)


def _query() -> dict:
    return bp.current_request.query_params or {}


def _next() -> str:
    from chalicelib.routes.coordinator import _safe_next

    return _safe_next(str(web.body(bp.current_request).get("next", "") or _query().get("next", "")))


def _pending(kind: str) -> dict:
    """The account whose sign-in is half done (password right, second factor next)."""
    return auth.pending(auth.cookie_value(bp.current_request, auth.PENDING_COOKIE), kind)


def _setup_page(item: dict, template_values: dict, action: str, status: int = 200, coordinator=None,
                **extra) -> Response:
    secret = auth.start_setup(item)
    uri = two_factor.setup_uri(secret, item["email"], get_settings().organisation_name + " PeerPost")
    grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
    return web.html(render_page("coordinator/two_factor_setup.html", qr=two_factor.qr_svg(uri), secret=grouped,
                                action=action, values=template_values, next=_next(), coordinator=coordinator,
                                **extra), status=status)


# --- The second factor at sign-in -------------------------------------------------------------------

@web.route(bp, "/coordinator/sign-in/code")
def code_form():
    try:
        _pending("code")
    except Unauthorised:
        return web.redirect("/coordinator/sign-in")
    return web.html(render_page("coordinator/sign_in_code.html", errors={}, form_error="", next=_next()))


@web.route(bp, "/coordinator/sign-in/code", methods=["POST"])
def code_submit():
    request = bp.current_request
    try:
        token = auth.second_factor(auth.cookie_value(request, auth.PENDING_COOKIE),
                                   str(web.body(request).get("code", "")), web.client_id(request))
    except Unauthorised:
        return web.redirect("/coordinator/sign-in")
    except ValidationError as error:
        return web.html(render_page("coordinator/sign_in_code.html", errors=error.errors, form_error="",
                                    next=_next()), status=400)
    except RateLimited as error:
        return web.html(render_page("coordinator/sign_in_code.html", errors={}, form_error=error.message,
                                    next=_next()), status=429, headers=error.headers)
    return _two_cookies(web.redirect(_next()), auth.session_cookie(token), auth.clear_pending_cookie())


def _two_cookies(response: Response, *cookies: str) -> Response:
    """The session cookie set and the pending one cleared: a list is sent as multi-value headers."""
    response.headers["Set-Cookie"] = list(cookies)
    return response


@web.route(bp, "/coordinator/sign-in/two-factor")
def sign_in_setup_form():
    try:
        item = _pending("setup")
    except Unauthorised:
        return web.redirect("/coordinator/sign-in")
    return _setup_page(item, {}, "/coordinator/sign-in/two-factor", errors={}, required=True)


@web.route(bp, "/coordinator/sign-in/two-factor", methods=["POST"])
def sign_in_setup_submit():
    request = bp.current_request
    try:
        item = _pending("setup")
        token, codes = auth.finish_setup_and_sign_in(auth.cookie_value(request, auth.PENDING_COOKIE),
                                                     str(web.body(request).get("code", "")))
    except Unauthorised:
        return web.redirect("/coordinator/sign-in")
    except ValidationError as error:
        return _setup_page(item, {}, "/coordinator/sign-in/two-factor", status=400, errors=error.errors, required=True)
    page = web.html(render_page("coordinator/recovery_codes.html", codes=codes, next=_next(), coordinator=None),
                    headers={"Cache-Control": "no-store"})
    return _two_cookies(page, auth.session_cookie(token), auth.clear_pending_cookie())


# --- One's own account -------------------------------------------------------------------------------

def _account_page(coordinator, notice: str = "", errors: dict | None = None, status: int = 200) -> Response:
    item = auth.get_account(coordinator.id) or {}
    return web.html(render_page(
        "coordinator/account.html", coordinator=coordinator, notice=notice, errors=errors or {},
        roles_held=[roles.label(r) for r in roles.ALL if coordinator.has(r) and r],
        two_factor_on=bool(item.get("totp_enabled")), recovery_left=len(item.get("recovery", ())),
        two_factor_required=roles.needs_two_factor(coordinator.roles),
        sessions=auth.sessions(coordinator.id), this_session=coordinator.session_id), status=status)


@web.route(bp, "/coordinator/account", coordinator=True)
def account(coordinator):
    notices = {"two-factor-off": "Two-factor sign-in is off.", "signed-out-others": "Your other sessions have ended."}
    return _account_page(coordinator, notice=notices.get(_query().get("done", ""), ""))


@web.route(bp, "/coordinator/account/sessions/end", methods=["POST"], coordinator=True)
def end_other_sessions(coordinator):
    everywhere = str(web.body(bp.current_request).get("which", "")) == "all"
    auth.end_sessions(coordinator.id, keep="" if everywhere else coordinator.session_id)
    if everywhere:
        return web.redirect("/coordinator/sign-in", headers={"Set-Cookie": auth.clear_cookie()})
    return web.redirect("/coordinator/account?done=signed-out-others")


@web.route(bp, "/coordinator/account/two-factor", coordinator=True)
def two_factor_form(coordinator):
    return _setup_page(auth.get_account(coordinator.id), {}, "/coordinator/account/two-factor", errors={},
                       required=False, coordinator=coordinator)


@web.route(bp, "/coordinator/account/two-factor", methods=["POST"], coordinator=True)
def two_factor_on(coordinator):
    item = auth.get_account(coordinator.id)
    try:
        codes = auth.finish_setup(item, str(web.body(bp.current_request).get("code", "")))
    except ValidationError as error:
        return _setup_page(item, {}, "/coordinator/account/two-factor", status=400, errors=error.errors,
                           required=False, coordinator=coordinator)
    return web.html(render_page("coordinator/recovery_codes.html", codes=codes, next="/coordinator/account",
                                coordinator=coordinator), headers={"Cache-Control": "no-store"})


@web.route(bp, "/coordinator/account/two-factor/off", methods=["POST"], coordinator=True)
def two_factor_off(coordinator):
    if roles.needs_two_factor(coordinator.roles):
        raise Conflict("Your role needs two-factor sign-in, so it cannot be turned off.")
    item = auth.get_account(coordinator.id)
    if not auth.use_code(item, str(web.body(bp.current_request).get("code", ""))):
        return _account_page(coordinator, errors={"code": "That code did not work. Type the code your app shows now."},
                             status=400)
    auth.turn_off_two_factor(coordinator.id)
    return web.redirect("/coordinator/account?done=two-factor-off")


# --- The team (admins) -------------------------------------------------------------------------------

def _team_page(coordinator, values: dict | None = None, errors: dict | None = None, notice: str = "",
               status: int = 200) -> Response:
    return web.html(render_page("coordinator/team.html", coordinator=coordinator, members=team.members(),
                                invitations=team.invitations(), values=values or {}, errors=errors or {},
                                notice=notice, role_labels=roles.LABELS, duties=roles.DUTIES,
                                two_factor_roles=[roles.label(r) for r in roles.ALL if r in roles.TWO_FACTOR_REQUIRED]),
                    status=status)


@web.route(bp, "/coordinator/team", coordinator=True)
def team_page(coordinator):
    notices = {"invited": "Invitation sent.", "roles": "Roles saved.", "removed": "Coordinator removed. Their sessions have ended.",
               "withdrawn": "Invitation withdrawn: its link no longer works."}
    return _team_page(coordinator, notice=notices.get(_query().get("done", ""), ""))


@web.route(bp, "/coordinator/team/invitations", methods=["POST"], coordinator=True)
def invite(coordinator):
    data = web.body(bp.current_request)
    values = {"email": str(data.get("email", "")), "name": str(data.get("name", "")),
              "roles": roles.clean(data.get("roles"))}
    try:
        team.invite(coordinator, values["email"], values["name"], data.get("roles"))
    except ValidationError as error:
        return _team_page(coordinator, values=values, errors=error.errors, status=400)
    return web.redirect("/coordinator/team?done=invited")


@web.route(bp, "/coordinator/team/invitations/{invitation_id}/withdraw", methods=["POST"], coordinator=True)
def withdraw_invitation(invitation_id, coordinator):
    team.withdraw(invitation_id)
    return web.redirect("/coordinator/team?done=withdrawn")


@web.route(bp, "/coordinator/team/{member_id}/roles", methods=["POST"], coordinator=True)
def change_roles(member_id, coordinator):
    try:
        team.set_roles(coordinator, member_id, web.body(bp.current_request).get("roles"))
    except ValidationError as error:
        return _team_page(coordinator, errors={f"roles-{member_id}": error.errors["roles"]}, status=400)
    except Conflict as error:
        return _team_page(coordinator, errors={f"roles-{member_id}": error.message}, status=409)
    return web.redirect("/coordinator/team?done=roles")


@web.route(bp, "/coordinator/team/{member_id}/remove", methods=["POST"], coordinator=True)
def remove_member(member_id, coordinator):
    if not forms.ticked(web.body(bp.current_request).get("confirm")):
        return _team_page(coordinator, errors={f"remove-{member_id}": "Tick the box to confirm this person should be "
                                                                     "removed from the team."}, status=400)
    try:
        team.remove(coordinator, member_id)
    except Conflict as error:
        return _team_page(coordinator, errors={f"remove-{member_id}": error.message}, status=409)
    return web.redirect("/coordinator/team?done=removed")


# --- Accepting an invitation; resetting a password (signed out) -------------------------------------

# An invitation and a reset both end on a page that sets a password: (find the link's account, where
# the form goes, its heading, its introduction).
_SET_PASSWORD = {
    "invitation": (team.invitation_for, "/coordinator/invitation", "Accept your invitation",
                   lambda item: f"Welcome, {item['name']}. Choose a password to finish setting up your account."),
    "reset": (team.reset_account, "/coordinator/reset/new", "Choose a new password",
              lambda item: "Choosing a new password signs you out everywhere."),
}


def _set_password_page(kind: str, token: str, errors: dict | None = None, status: int = 200) -> Response:
    find, action, heading, intro = _SET_PASSWORD[kind]
    item = find(token)  # a changed, expired or used link is a page saying so
    return web.html(render_page("coordinator/set_password.html", heading=heading, intro=intro(item), action=action,
                                token=token, errors=errors or {}, email=item["email"]), status=status)


def _set_password(kind: str, change, done: str) -> Response:
    data = web.body(bp.current_request)
    token = str(data.get("token", ""))
    try:
        change(token, str(data.get("password", "")), str(data.get("confirm", "")))
    except ValidationError as error:
        return _set_password_page(kind, token, error.errors, status=400)
    return web.redirect("/coordinator/sign-in?" + urlencode({done: "1"}))


@web.route(bp, "/coordinator/invitation")
def invitation_form():
    return _set_password_page("invitation", str(_query().get("token", "")))


@web.route(bp, "/coordinator/invitation", methods=["POST"])
def invitation_accept():
    return _set_password("invitation", team.accept, "ready")


@web.route(bp, "/coordinator/reset")
def reset_form():
    return web.html(render_page("coordinator/reset_request.html", values={}, errors={}, sent=False))


@web.route(bp, "/coordinator/reset", methods=["POST"])
def reset_request():
    request = bp.current_request
    email = str(web.body(request).get("email", ""))
    try:
        team.request_reset(email, web.client_id(request))
    except ValidationError as error:
        return web.html(render_page("coordinator/reset_request.html", values={"email": email}, errors=error.errors,
                                    sent=False), status=400)
    return web.html(render_page("coordinator/reset_request.html", values={"email": email}, errors={}, sent=True))


@web.route(bp, "/coordinator/reset/new")
def reset_new_form():
    return _set_password_page("reset", str(_query().get("token", "")))


@web.route(bp, "/coordinator/reset/new", methods=["POST"])
def reset_new_submit():
    return _set_password("reset", team.reset_password, "reset")


# --- The audit trail (admins) ------------------------------------------------------------------------

def _audit_filters() -> tuple[dict, dict, date, date]:
    query = _query()
    today = clock.now().date()
    values = {"who": str(query.get("who", "")), "action": str(query.get("action", "")),
              "from": str(query.get("from", "")), "to": str(query.get("to", ""))}
    errors = {}
    try:
        start = date.fromisoformat(values["from"]) if values["from"] else today - timedelta(days=30)
    except ValueError:
        errors["from"], start = "Enter a date, like 2026-01-31.", today - timedelta(days=30)
    try:
        end = date.fromisoformat(values["to"]) if values["to"] else today
    except ValueError:
        errors["to"], end = "Enter a date, like 2026-01-31.", today
    if start > end:
        errors["from"] = "The first day must come before the last."
        start = end
    if (end - start).days > 366 * 7:
        errors["from"], start = "Choose at most seven years.", end - timedelta(days=366 * 7)
    values.setdefault("from", start.isoformat())
    return values, errors, start, end


AUDIT_PAGE_ROWS = 500


@web.route(bp, "/coordinator/audit", coordinator=True)
def audit_page(coordinator):
    values, errors, start, end = _audit_filters()
    rows, more = [], False
    for entry in audit.entries(start, end, values["who"], values["action"]):
        if len(rows) == AUDIT_PAGE_ROWS:
            more = True
            break
        rows.append(entry)
    return web.html(render_page("coordinator/audit.html", coordinator=coordinator, rows=rows, more=more,
                                values={"from": start.isoformat(), "to": end.isoformat(), **{
                                    k: v for k, v in values.items() if v and k in errors or k in ("who", "action")}},
                                errors=errors,
                                members=team.members(), actions=sorted(_actions()), words=audit.words,
                                csv_query=urlencode({**values, "from": start.isoformat(), "to": end.isoformat()})),
                    status=400 if errors else 200)


@web.route(bp, "/coordinator/audit.csv", coordinator=True, audited=True)
def audit_csv(coordinator):
    values, errors, start, end = _audit_filters()
    if errors:
        raise ValidationError(errors)
    return Response(body=audit.as_csv(audit.entries(start, end, values["who"], values["action"])), status_code=200,
                    headers={"Content-Type": "text/csv; charset=utf-8", "Cache-Control": "private, no-store",
                             "Content-Disposition": f'attachment; filename="audit-{start}-to-{end}.csv"'})


def _actions() -> set[str]:
    """Every action an entry can name: each audited route's view, and what sign-in and accounts write."""
    from app import app

    names = {"sign_in", "two_factor_on", "two_factor_off", "accept_invitation", "request_password_reset",
             "reset_password"}
    for methods in app.routes.values():
        for entry in methods.values():
            view = getattr(entry.view_function, "__wrapped__", entry.view_function)
            if getattr(view, "audited", False):
                names.add(view.__name__)
    return names
