"""`python -m localdev` (what `make run` runs): the whole of PeerPost on loopback, no AWS account."""
from __future__ import annotations

import argparse
import functools
import os
import secrets
import signal
import sys
import threading
import time


def _request_handler():
    from chalice.local import ChaliceRequestHandler

    class LocalRequestHandler(ChaliceRequestHandler):
        """API Gateway answers methods no route has with 405; Python's HTTP server would say 501."""

        def _not_allowed(self) -> None:
            body = b'{"message": "Method not allowed"}'
            self.send_response(405)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path.startswith("/media/"):
                return self._media()
            return super().do_GET()

        def _media(self) -> None:
            """Uploaded images, from moto's S3: what CloudFront in front of the bucket does when deployed."""
            from chalicelib import images
            from chalicelib.errors import NotFound

            try:
                data, kind = images.read(self.path.split("?")[0][len("/media/"):])
            except NotFound:
                self.send_error(404, "No such image")
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", images.CACHE_CONTROL)
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            self.wfile.write(data)

        def __getattr__(self, name: str):
            if name.startswith("do_"):  # TRACE, CONNECT, QUERY, anything no route serves
                return self._not_allowed
            raise AttributeError(name)

    return LocalRequestHandler


def _greedy_route_matcher():
    """API Gateway's /{proxy+} catches an unknown path of any depth; chalice local's matcher only
    one segment. Unmatched paths go to the catch-all here too, so /a/b/c gets the 404 page as deployed."""
    from chalice import local

    class GreedyRouteMatcher(local.RouteMatcher):
        def match_route(self, url: str) -> local.MatchResult:
            try:
                return super().match_route(url)
            except ValueError:
                if "/{proxy+}" not in self.route_urls:
                    raise
                from urllib.parse import parse_qs, urlparse

                parsed = urlparse(url)
                return local.MatchResult("/{proxy+}", {"proxy": parsed.path.strip("/")},
                                         parse_qs(parsed.query, keep_blank_values=True))

    local.RouteMatcher = GreedyRouteMatcher


def configure_environment(args) -> None:
    """Point boto3 at moto and PeerPost at local settings, before anything builds a client."""
    # moto accepts any credentials; these dummies keep boto3 from looking for real ones.
    os.environ.update({
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",  # nosec B105
        "AWS_DEFAULT_REGION": "eu-west-2", "AWS_REGION": "eu-west-2",
        "AWS_ENDPOINT_URL": f"http://{args.host}:{args.moto_port}",
        "PEERPOST_STAGE": "local",
        "PEERPOST_PUBLIC_BASE_URL": f"http://{args.host}:{args.port}",
        "POWERTOOLS_METRICS_DISABLED": os.environ.get("POWERTOOLS_METRICS_DISABLED", "true"),
        "POWERTOOLS_SERVICE_NAME": "peerpost",
    })
    # Without a data folder a fresh secret each run is fine: the stored data does not outlive the process.
    os.environ.setdefault("PEERPOST_SIGNING_SECRET", secrets.token_urlsafe(32))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PEERPOST_PORT", 8000)))
    parser.add_argument("--outbox-port", type=int, default=int(os.environ.get("PEERPOST_OUTBOX_PORT", 8025)))
    parser.add_argument("--moto-port", type=int, default=int(os.environ.get("PEERPOST_MOTO_PORT", 5050)))
    parser.add_argument("--tick", type=float, default=5.0, help="seconds between scheduled-handler runs")
    parser.add_argument("--no-demo", action="store_true", help="start empty, without the demo content")
    parser.add_argument("--data-dir", default=os.environ.get("PEERPOST_DATA_DIR", ""),
                        help="keep the stored data in this folder across restarts (make run: .peerpost-data); "
                             "without it, everything is gone when the process stops")
    args = parser.parse_args(argv)
    started = time.monotonic()
    from localdev.persist import DataFolder

    from chalicelib import wiring

    folder = DataFolder(args.data_dir, wiring.TABLE, wiring.MEDIA_BUCKET) if args.data_dir else None
    if folder:
        os.environ["PEERPOST_SIGNING_SECRET"] = folder.signing_secret()  # links in the outbox outlive a restart
    configure_environment(args)

    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request lines drown PeerPost's

    from localdev import atomic

    atomic.install()
    moto_server = ThreadedMotoServer(ip_address=args.host, port=args.moto_port, verbose=False)
    moto_server.start()

    import boto3
    from chalice.config import Config
    from chalice.local import create_local_server

    from localdev import demo, outbox, stack
    from localdev.runner import Runner

    session = boto3.session.Session(region_name="eu-west-2")
    stack.create_all(session)
    dynamodb, s3 = session.client("dynamodb"), session.client("s3")
    if folder and not folder.is_new:
        kept, pictures = folder.restore(dynamodb), folder.restore_media(s3)
        data_line = (f"  Data:        {args.data_dir} ({kept} items and {pictures} images kept from last time; "
                     "make reset starts afresh)\n")
    else:
        if not args.no_demo:
            demo.seed()
        data_line = f"  Data:        {args.data_dir} (new; kept across restarts)\n" if folder else ""
    if folder:
        folder.save(dynamodb)
        folder.keep_saving(dynamodb, s3)

    from app import app

    RequestHandler = _request_handler()
    _greedy_route_matcher()

    config = Config.create(chalice_stage="local", app_name="peerpost", lambda_timeout=300)
    from chalice.local import ThreadedHTTPServer

    # API Gateway queues a burst of requests; socketserver's default backlog of 5 would reset them.
    ThreadedHTTPServer.request_queue_size = 128
    api = create_local_server(app, config, args.host, args.port)
    api.server.RequestHandlerClass = functools.partial(RequestHandler, app_object=api.app_object, config=config)
    threading.Thread(target=api.serve_forever, name="api", daemon=True).start()
    outbox_server = outbox.serve(args.host, args.outbox_port, "eu-west-2")
    runner = Runner(app, session, tick_seconds=args.tick)
    runner.start()

    email, password = demo.coordinator_credentials()
    print(
        f"\nPeerPost is running locally (ready in {time.monotonic() - started:.1f}s)\n"
        f"  Site:        http://{args.host}:{args.port}/\n"
        f"  Coordinator: http://{args.host}:{args.port}/coordinator"
        + ("" if args.no_demo else f"  (sign in as {email} / {password};\n"
                                   f"               code: `make code`, or key {demo.coordinator_totp()} in an authenticator app)")
        + f"\n  Outbox:      http://{args.host}:{args.outbox_port}/  (JSON: /api/messages)\n"
        f"  moto:        http://{args.host}:{args.moto_port}/\n"
        + data_line
        + "Press Ctrl-C to stop.\n",
        flush=True,
    )

    stopping = threading.Event()

    def stop(*_):
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    stopping.wait()
    print("Stopping PeerPost...", flush=True)
    runner.stop()
    if folder:
        folder.stop(dynamodb, s3)
    api.shutdown()
    outbox_server.shutdown()
    moto_server.stop()
    print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
