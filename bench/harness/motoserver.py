"""moto's server in a process of its own, optionally taking one request at a time.

moto's DynamoDB is not thread-safe: an UpdateItem reads the item, evaluates its condition and
expression, then writes, with no lock, so two concurrent ADDs to one counter can lose one. DynamoDB
applies each single-item write atomically. `--serial` holds one lock around every request, which gives
back that atomicity (the GIL lets only one request run at a time anyway). Never for SQS: a long poll
would hold the lock for its whole wait.
"""
from __future__ import annotations

import argparse
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server


def _quicker() -> None:
    """moto's server spends much of each request on work whose answer never changes while it runs:
    listing its own package directory to route the request, and inspecting the handler class for its
    method names. Both answers are kept after the first request; no answer moto gives changes. Nor is
    each request logged to a stderr nobody reads. (What is left is moto's own cost, the stand-in's.)"""
    import functools

    from moto import backends
    from moto.core import responses

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    responses.method_names_from_class = functools.cache(responses.method_names_from_class)
    MotoRequestHandler.log_request = lambda self, *args, **kwargs: None


def serialised(app):
    lock = threading.Lock()

    def one_at_a_time(environ, start_response):
        with lock:
            return list(app(environ, start_response))  # the whole answer, before the next request starts

    return one_at_a_time


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--serial", action="store_true")
    args = parser.parse_args(argv)
    _quicker()
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", args.port, serialised(app) if args.serial else app, True,
                         request_handler=MotoRequestHandler)
    server.serve_forever()


if __name__ == "__main__":
    main()
