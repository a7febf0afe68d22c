"""moto's server in a process of its own, optionally taking one request at a time.

Served by waitress rather than moto's own werkzeug server: werkzeug's development server closes the
connection after every answer, so each DynamoDB call from a sender paid a new TCP connection (and the
server a new thread), which AWS's endpoints never make it pay. waitress keeps connections alive over
HTTP/1.1, as they do.

moto's DynamoDB is not thread-safe: an UpdateItem reads the item, evaluates its condition and
expression, then writes, with no lock, so two concurrent ADDs to one counter can lose one. DynamoDB
applies each single-item write atomically. `--serial` holds one lock around every request, which gives
back that atomicity (the GIL lets only one request run at a time anyway). Never for SQS: a long poll
would hold the lock for its whole wait.
"""
from __future__ import annotations

import argparse
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app


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


def query_without_the_table_sort(original):
    """DynamoDB answers a Query on the table from the one partition it names. moto 5.2 gathers and
    sorts every item of the table for each Query instead (then filters, and sorts the matches again),
    so on a table holding a 16,000-reader send, a story's consent re-read took 140 ms of moto's time
    and a page of the audience index seconds, during which the one-at-a-time server answered no one.
    Wrapped, each Query sees its items unsorted: only its partition's, on the table; all of them, on
    an index. moto's own sort of the matches (by the key, then the table's key) orders the answer as
    before. Only where one request runs at a time (--serial): the wrapper sets an attribute for the call."""
    import inspect

    signature = inspect.signature(original)

    def query(self, *args, **kwargs):
        arguments = signature.bind(self, *args, **kwargs).arguments
        if not self.range_key_attr:
            return original(self, *args, **kwargs)
        if arguments.get("index_name"):
            items = [item for partition in self.items.values() for item in partition.values()]
        else:
            items = list(self.items.get(arguments["hash_key"], {}).values())
        self.all_items = lambda: items  # this call only: the instance attribute hides the method
        try:
            return original(self, *args, **kwargs)
        finally:
            del self.all_items

    return query


def answers_as_they_are(original):
    """moto 5.2 builds each DynamoDB answer, already in DynamoDB's JSON, then walks it again through
    botocore's output model to serialise it: about 2 ms an item, so a 1,400-id page of the audience
    took seconds and a 100-reader BatchGetItem 160 ms. An answer that is plain JSON as it stands (no
    binary values or dates, which the model's walk encodes) is sent as it stands; any other goes the
    model's way. botocore reads both alike: it parses by the output shape, and skips nulls."""
    import json

    def execute_result(self, context):
        try:
            body = json.dumps(self.result, separators=(",", ":"))
        except TypeError:  # bytes, a datetime: only the model's walk encodes them
            return original(self, context)
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, body

    return execute_result


def projections_read_once(original):
    """moto 5.2 projects an item by turning the whole of it into plain JSON once for every name in the
    ProjectionExpression, picking that name out, then building a new item from the JSON, checking
    the size of the whole item again as each attribute goes in: a send's BatchGetItem of 100 readers,
    eight names each, took 20-60 ms of the one-at-a-time server. Where every name is a top-level
    attribute (all of PeerPost's projections), the new item holds the stored item's own values for
    those names, in the expression's order, as moto's GetItem without a projection hands out the
    stored item itself (every answer is turned into JSON before the next request starts, and nothing
    writes to a projected item), and no size is checked again: part of a stored item cannot be larger
    than it. A nested path or a list index goes moto's way."""
    from moto.dynamodb.models import dynamo_type

    def project(self, projection_expressions):
        if any(len(path) != 1 or "[" in path[0] for path in projection_expressions):
            return original(self, projection_expressions)
        item = dynamo_type.Item(hash_key=self.hash_key, range_key=self.range_key, attrs={})
        dict.update(item.attrs, {name: self.attrs[name] for (name,) in projection_expressions if name in self.attrs})
        return item

    return project


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
    if args.serial:
        from moto.dynamodb.models.dynamo_type import Item
        from moto.dynamodb.models.table import Table

        from moto.dynamodb.responses import DynamoResult

        Table.query = query_without_the_table_sort(Table.query)
        Item.project = projections_read_once(Item.project)
        DynamoResult.execute_result = answers_as_they_are(DynamoResult.execute_result)
    app = DomainDispatcherApplication(create_backend_app)
    from waitress import create_server

    # Enough threads for every sender's long poll at once (SQS) and connections for all their clients.
    server = create_server(serialised(app) if args.serial else app, host="127.0.0.1", port=args.port, threads=96,
                           connection_limit=2000, channel_timeout=600, asyncore_use_poll=True, ident="moto")
    server.run()


if __name__ == "__main__":
    main()
