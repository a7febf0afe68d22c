"""Importing a list from CSV: upload, columns and basis, the check of every row, confirmation, progress."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib import imports, subscriptions, web
from chalicelib.errors import PayloadTooLarge, ValidationError
from chalicelib.rendering import render_page

bp = Blueprint(__name__)


def _upload_page(coordinator, errors: dict | None = None, status: int = 200) -> Response:
    return web.html(render_page("coordinator/import_upload.html", coordinator=coordinator, errors=errors or {},
                                submission=subscriptions.new_submission(), max_mb=imports.MAX_FILE_BYTES // 2**20),
                    status=status)


@web.route(bp, "/coordinator/import", coordinator=True)
def import_form(coordinator):
    return _upload_page(coordinator)


@web.route(bp, "/coordinator/import", methods=["POST"], coordinator=True)
def import_upload(coordinator):
    request = bp.current_request
    if len(request.raw_body or b"") > imports.MAX_FILE_BYTES + web.MAX_BODY_BYTES:
        return _upload_page(coordinator, {"file": imports.TOO_LARGE}, status=413)
    try:
        sent = web.files(request)
    except PayloadTooLarge:
        return _upload_page(coordinator, {"file": imports.TOO_LARGE}, status=413)
    data = web.body(request)
    upload = sent.get("file")
    if not upload:
        return _upload_page(coordinator, {"file": "Choose a CSV file to upload."}, status=400)
    try:
        job_id = imports.upload(upload.data, upload.filename, coordinator.email, subscriptions.submission_of(data))
    except PayloadTooLarge:
        return _upload_page(coordinator, {"file": imports.TOO_LARGE}, status=413)
    except ValidationError as error:
        return _upload_page(coordinator, error.errors, status=400)
    return web.redirect(f"/coordinator/import/{job_id}")


def _job_page(coordinator, job: dict, values: dict | None = None, errors: dict | None = None,
              status: int = 200) -> Response:
    choices = job.get("choices") or {}
    if values is None:
        values = {f"{field}_column": str(index) for field, index in (job.get("mapping") or {}).items()}
        values.update({"basis": choices.get("basis", "re-permission"),
                       "evidence_source": choices.get("source", ""), "evidence_date": choices.get("date", ""),
                       "evidence_wording": choices.get("wording", "")})
        values["topics"] = choices.get("topics") or ["newsletter"]
        if choices.get("basis") == "soft-opt-in":
            values.update({k: "yes" for k in imports.SOFT_OPT_IN_CONDITIONS})
    topics = values.get("topics", [])
    state = job["state"]
    show_preview = state in ("uploaded", "checked") or errors
    return web.html(render_page(
        "coordinator/import_job.html", coordinator=coordinator, job=job, state=state, values=values,
        errors=errors or {}, chosen_topics=[topics] if isinstance(topics, str) else topics,
        fields=imports.FIELDS, bases=imports.BASES, conditions=imports.SOFT_OPT_IN_CONDITIONS,
        topic_labels=subscriptions.TOPICS, basis_labels=imports.BASIS_LABELS,
        preview=imports.preview(job) if show_preview and state != "done" else [],
        summary=imports.summary(job), outcomes=imports.OUTCOMES,
        report=imports.report_rows(job["job_id"]) if state in ("checked", "done") else [],
        shown=imports.REPORT_ROWS_SHOWN, expiry_hours=subscriptions.get_settings().pending_expiry_hours,
        percent=int(100 * int(job.get("rows_done", 0)) / max(1, int(job.get("rows", 1))))), status=status)


@web.route(bp, "/coordinator/import/{job_id}", coordinator=True)
def import_job(job_id, coordinator):
    return _job_page(coordinator, imports.load(job_id))


@web.route(bp, "/coordinator/import/{job_id}/choices", methods=["POST"], coordinator=True)
def import_choices(job_id, coordinator):
    data = web.body(bp.current_request)
    job = imports.load(job_id)
    try:
        imports.choose(job_id, data)
    except ValidationError as error:
        values = {k: v for k, v in data.items() if k != "csrf_token"}
        return _job_page(coordinator, job, values=values, errors=error.errors, status=400)
    return web.redirect(f"/coordinator/import/{job_id}")


@web.route(bp, "/coordinator/import/{job_id}/start", methods=["POST"], coordinator=True)
def import_start(job_id, coordinator):
    data = web.body(bp.current_request)
    imports.load(job_id)
    version = str(data.get("version", ""))
    imports.start(job_id, int(version) if version.isdigit() else -1)  # a second press finds it started: no-op
    return web.redirect(f"/coordinator/import/{job_id}")


@web.route(bp, "/coordinator/import/{job_id}/progress.json", coordinator=True)
def import_progress(job_id, coordinator):
    """How far an import's check or import has gone"""
    return web.json_response(_progress(imports.load(job_id)))


def _progress(job: dict) -> dict:
    return {"id": job["job_id"], "state": job["state"], "rows": int(job.get("rows", 0)),
            "processed": int(job.get("rows_done", 0)), "version": int(job.get("choices_version", 0)),
            "summary": imports.summary(job) if job["state"] in ("checked", "done") else None}


@web.route(bp, "/coordinator/import/{job_id}/report.csv", coordinator=True, audited=True)
def import_report(job_id, coordinator):
    return Response(body=imports.report_csv(job_id), status_code=200, headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": 'attachment; filename="peerpost-import-report.csv"'})


@web.route(bp, "/api/coordinator/imports", methods=["POST"], content_types=["application/json", "multipart/form-data"],
           coordinator=True, model=imports.IMPORT_MODEL, responses=(202, 400, 401, 403, 413))
def api_import(coordinator):
    """Upload a CSV of subscribers and queue the check of every row; then start it with /start"""
    request = bp.current_request
    multipart = web.content_type(request) == "multipart/form-data"
    limit = imports.MAX_FILE_BYTES + web.MAX_BODY_BYTES if multipart else web.MAX_BODY_BYTES
    if len(request.raw_body or b"") > limit:
        raise PayloadTooLarge(imports.TOO_LARGE if multipart else (
            "Send at most 256 kB of CSV in a JSON request. For a larger file send it as multipart/form-data "
            f"(the file in a part named \"file\", up to {imports.MAX_FILE_BYTES // 2**20} MB)."))
    try:
        data = dict(web.body(request))
        if multipart:
            upload = web.files(request).get("file")
            data["csv"] = imports.decode(upload.data) if upload else None
    except PayloadTooLarge as exc:
        raise PayloadTooLarge(imports.TOO_LARGE) from exc
    job = imports.run_from_api(data, coordinator.email)
    return web.json_response(_progress(job), status=202)


@web.route(bp, "/api/coordinator/imports/{job_id}", coordinator=True)
def api_import_status(job_id, coordinator):
    """An import's state, progress and counts by outcome"""
    return web.json_response(_progress(imports.load(job_id)))


@web.route(bp, "/api/coordinator/imports/{job_id}/start", methods=["POST"], content_types=["application/json"],
           coordinator=True, responses=(202, 400, 401, 403, 409))
def api_import_start(job_id, coordinator):
    """Import the checked rows (once: a second call changes nothing)"""
    data = web.body(bp.current_request)
    job = imports.load(job_id)
    version = data.get("version", job.get("choices_version", 0))
    if not isinstance(version, int):
        raise ValidationError({"version": "Send the version the check reported."})
    started = imports.start(job_id, version)
    return web.json_response({**_progress(imports.load(job_id)), "started": started}, status=202)
