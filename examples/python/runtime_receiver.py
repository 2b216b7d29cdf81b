#!/usr/bin/env python3
"""A minimal receiver for an agent's http runtime, with the Python standard library only.

    RUNTIME_SECRET='whsec_…' PORT=8000 python3 examples/python/runtime_receiver.py

RUNTIME_SECRET is the agent's runtime secret (GET /api/agents/{id}/runtime-secret). Every
request must carry a valid Standard Webhooks signature made within the last 5 minutes, or
it gets 401. The JSON answered with a 2xx becomes the execution's result; a 5xx (or no
answer) makes agent-webhooks try again, a 4xx fails the execution.
"""

import base64
import hashlib
import hmac
import json
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KEY = base64.b64decode(os.environ["RUNTIME_SECRET"].removeprefix("whsec_"))
TOLERANCE_SECONDS = 300


def signed_by_agent_webhooks(headers, body: bytes) -> bool:
    msg_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(KEY, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(expected, entry[3:])
        for entry in headers.get("webhook-signature", "").split()
        if entry.startswith("v1,")
    )


class Runtime(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if not signed_by_agent_webhooks(self.headers, body):
            return self.answer(401, {"error": "invalid signature"})
        payload = json.loads(body)
        # The agent's work goes here. webhook-id is the execution id, the same on every
        # attempt: use it to do the work once.
        self.answer(200, {
            "execution_id": self.headers["webhook-id"],
            "attempt": int(self.headers["x-execution-attempt"]),
            "fields": sorted(payload) if isinstance(payload, dict) else [],
        })

    def answer(self, status: int, document: dict):
        data = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8000"))
    ThreadingHTTPServer(("127.0.0.1", port), Runtime).serve_forever()
