"""The home page and static assets."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib import web
from chalicelib.errors import NotFound
from chalicelib.rendering import TEMPLATES_DIR, render_page

bp = Blueprint(__name__)

STATIC_TYPES = {".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".js": "text/javascript; charset=utf-8"}


@web.route(bp, "/")
def home():
    return web.html(render_page("home.html"))


@web.route(bp, "/openapi.json")
def openapi():
    from chalicelib import openapi as spec
    from chalicelib.settings import get_settings

    return web.json_response(spec.document(get_settings().public_base_url))


@web.route(bp, "/static/{name}")
def static(name):
    path = (TEMPLATES_DIR / "static" / name).resolve()
    kind = STATIC_TYPES.get(path.suffix)
    if kind is None or path.parent != (TEMPLATES_DIR / "static").resolve() or not path.is_file():
        raise NotFound("There is no such file.")
    return Response(body=path.read_text(), status_code=200,
                    headers={"Content-Type": kind, "Cache-Control": "public, max-age=3600"})
