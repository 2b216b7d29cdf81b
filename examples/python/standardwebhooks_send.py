#!/usr/bin/env python3
"""Interoperability: signs a delivery with the official Standard Webhooks library for
Python (`pip install standardwebhooks`, see requirements.txt) and sends it with urllib.
See docs/webhook-integration.md.

    WEBHOOK_URL=https://…/agents/<id>/webhook WEBHOOK_SECRET='<44-char base64>' \
        target/examples-venv/bin/python examples/python/standardwebhooks_send.py

The library takes the secret in its `whsec_…` spelling (the revealed
`standard_webhooks_secret`, which is "whsec_" + the 44-character text) and keys its HMAC
with the decoded bytes, exactly like the server. It sends:
  1. a delivery signed by `Webhook.sign(msg_id, timestamp, payload)` -> expects 202
  2. the same headers with a changed body                          -> expects 401
and exits non-zero otherwise.
"""

import json
import os
import secrets
import sys
import urllib.error
import urllib.request
from datetime import datetime, timezone

from standardwebhooks import Webhook


def fail(message: str) -> None:
    print(f"FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def post(url: str, body: bytes, headers: dict) -> tuple[int, str]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", "replace")
    except (urllib.error.URLError, TimeoutError) as err:
        fail(f"could not reach {url}: {err}")
        raise  # unreachable


def main() -> None:
    url = os.environ.get("WEBHOOK_URL", "").strip()
    secret = os.environ.get("WEBHOOK_SECRET", "").strip()
    if not url or not secret:
        fail("set WEBHOOK_URL and WEBHOOK_SECRET (the 44-character base64 secret)")
    whsec = secret if secret.startswith("whsec_") else "whsec_" + secret
    webhook = Webhook(whsec)

    msg_id = f"msg_example_standardwebhooks_py_{secrets.token_hex(6)}"
    timestamp = datetime.now(tz=timezone.utc)
    payload = json.dumps(
        {"ticket_id": 42, "title": "VPN down in Zürich", "sent_by": "standardwebhooks (PyPI)"},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    # sign() takes the payload as text and signs its UTF-8 encoding: send exactly that.
    signature = webhook.sign(msg_id, timestamp, payload)
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
    }
    # The library's own verifier accepts what it signed (a sanity check of the headers).
    webhook.verify(payload.encode("utf-8"), headers)
    print(f"POST {url}")

    status, answer = post(url, payload.encode("utf-8"), headers)
    try:
        execution_id = json.loads(answer).get("execution_id") if status == 202 else None
    except (ValueError, AttributeError):
        execution_id = None
    if not execution_id:
        fail(f"standardwebhooks-signed delivery: expected 202 with an execution id, got {status} {answer}")
    print(f"  1. signed by standardwebhooks.Webhook.sign, webhook-id {msg_id} -> {status}, execution {execution_id}")

    tampered = payload.replace('"ticket_id":42', '"ticket_id":43').encode("utf-8")
    # Same headers, same (already used) webhook-id: signatures are checked before delivery
    # ids, so a replayed id never lets a changed body through.
    status, answer = post(url, tampered, headers)
    if status != 401:
        fail(f"tampered body: expected 401, got {status} {answer}")
    print(f"  2. changed body, same signature -> {status} {answer} (refused, as it must be)")
    print("ok: the standardwebhooks (PyPI) signature is accepted")


if __name__ == "__main__":
    main()
