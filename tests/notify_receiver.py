#!/usr/bin/env python3
"""A cooperative's webhook receiver for Rabt's end-to-end tests.

It verifies every notification with the Standard Webhooks reference library
(`standardwebhooks` from PyPI), exactly as a cooperative would, and appends what it saw
to a JSON-lines file: the webhook-id, whether the signature verified (and why not), the
status it answered, and the body. It answers 503 to the first --fail-first deliveries of
each webhook-id (to make Rabt retry), 401 to a notification that does not verify, and
204 otherwise. It serves on 127.0.0.1:--port until killed.

    python3 tests/notify_receiver.py --port 9999 --secret whsec_... --out seen.jsonl
"""

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError
except ImportError:
    sys.exit(
        "notify_receiver.py needs the standardwebhooks package: "
        "python3 -m pip install standardwebhooks (tests/run.sh installs it)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--fail-first", type=int, default=0)
    args = parser.parse_args()

    webhook = Webhook(args.secret)
    lock = threading.Lock()
    seen: dict = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {name: value for name, value in self.headers.items()}
            record = {"path": self.path, "webhook_id": headers.get("webhook-id", "")}
            try:
                record["event"] = webhook.verify(body, headers)
                record["verified"] = True
            except (WebhookVerificationError, ValueError) as err:
                record["verified"] = False
                record["error"] = str(err)
            with lock:
                count = seen.get(record["webhook_id"], 0) + 1
                seen[record["webhook_id"]] = count
                if not record["verified"]:
                    status = 401
                elif count <= args.fail_first:
                    status = 503
                else:
                    status = 204
                record["delivery"] = count
                record["answered"] = status
                with open(args.out, "a", encoding="utf-8") as out:
                    out.write(json.dumps(record) + "\n")
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args) -> None:  # noqa: A002
            pass  # the JSON lines are the log

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"listening on 127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
