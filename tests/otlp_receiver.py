#!/usr/bin/env python3
"""An OTLP/HTTP trace receiver for Rabt's end-to-end tests.

It takes what an OpenTelemetry collector takes on `POST /v1/traces`: an
`ExportTraceServiceRequest` in protobuf (decoded with the `opentelemetry-proto` package
from PyPI, OpenTelemetry's own generated types), answers `200` with an empty
`ExportTraceServiceResponse`, and appends one JSON line per span to --out: trace and
span ids in hex, the parent span id, name, kind, status, attributes, links and the
`service.name` of the process that sent it. With --hang it accepts connections and
never answers, as an exporter endpoint that is down without refusing would. A POST to
/hooks... is answered 204: a notify_url for the notification of a traced request.

    python3 tests/otlp_receiver.py --port 4318 --out spans.jsonl
"""

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
        ExportTraceServiceResponse,
    )
except ImportError:
    sys.exit(
        "otlp_receiver.py needs the opentelemetry-proto package: "
        "python3 -m pip install opentelemetry-proto (tests/run.sh installs it)"
    )

KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
STATUS = {0: "unset", 1: "ok", 2: "error"}


def value(any_value):
    """An OTLP AnyValue as plain JSON."""
    which = any_value.WhichOneof("value")
    if which == "array_value":
        return [value(v) for v in any_value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: value(kv.value) for kv in any_value.kvlist_value.values}
    if which == "bytes_value":
        return any_value.bytes_value.hex()
    return getattr(any_value, which) if which else None


def attributes(kvs):
    return {kv.key: value(kv.value) for kv in kvs}


def spans_of(request):
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield {
                    "service": resource.get("service.name"),
                    "resource": resource,
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex(),
                    "name": span.name,
                    "kind": KINDS.get(span.kind, str(span.kind)),
                    "status": STATUS.get(span.status.code, str(span.status.code)),
                    "start_ns": span.start_time_unix_nano,
                    "end_ns": span.end_time_unix_nano,
                    "attributes": attributes(span.attributes),
                    "links": [
                        {"trace_id": link.trace_id.hex(), "span_id": link.span_id.hex()}
                        for link in span.links
                    ],
                    "events": [event.name for event in span.events],
                }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--hang", action="store_true")
    args = parser.parse_args()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if args.hang:
                time.sleep(3600)
                return
            if self.path.startswith("/hooks"):
                # A cooperative's notify_url, so a test's notification has somewhere to go.
                self.send_response(204)
                self.end_headers()
                return
            if self.path != "/v1/traces":
                self.send_error(404)
                return
            if self.headers.get("Content-Type") != "application/x-protobuf":
                self.send_error(415)
                return
            request = ExportTraceServiceRequest()
            try:
                request.ParseFromString(body)
            except Exception:  # noqa: BLE001 (protobuf raises its own DecodeError)
                self.send_error(400)
                return
            with lock, open(args.out, "a", encoding="utf-8") as out:
                for span in spans_of(request):
                    out.write(json.dumps(span) + "\n")
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
