#!/usr/bin/env python3
"""Sends signed webhooks to one agent with the Python standard library only, and checks
every answer. See docs/webhook-integration.md.

    WEBHOOK_URL=https://…/agents/<id>/webhook WEBHOOK_SECRET='<44-char base64>' \
        python3 examples/python/send.py

WEBHOOK_SECRET is the secret exactly as revealed (`hmac_secret`; a `whsec_…` value is
accepted too). It sends:
  1. a GitHub-style delivery (X-Hub-Signature-256)            -> expects 202 + execution id
  2. the same delivery again (same X-GitHub-Delivery)          -> expects 202, same execution id
  3. a Standard Webhooks delivery (webhook-id/-timestamp/-signature) -> expects 202
  4. the body of (1) changed by one value, with (1)'s signature -> expects 401
and exits non-zero as soon as an answer differs. The secret and the signatures are never
printed.
"""

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request


def fail(message: str) -> None:
    print(f"FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def read_secret() -> str:
    text = os.environ.get("WEBHOOK_SECRET", "").strip()
    if not text:
        fail("set WEBHOOK_SECRET to the agent's secret (44 characters of base64)")
    text = text.removeprefix("whsec_")
    try:
        decoded = base64.b64decode(text, validate=True)
    except binascii.Error:
        decoded = b""
    if len(text) != 44 or len(decoded) != 32:
        fail("WEBHOOK_SECRET must be the 44-character base64 secret as revealed (or whsec_ + it)")
    return text


def hub_signature(secret: str, body: bytes) -> str:
    """GitHub style: `sha256=` + lowercase hex HMAC-SHA256 of the exact body bytes, keyed
    with the UTF-8 bytes of the secret *text* (not its base64-decoded bytes)."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks: `v1,` + base64 HMAC-SHA256 of "{id}.{timestamp}.{body}", keyed
    with the 32 bytes the secret decodes to."""
    key = base64.b64decode(secret)
    signed = f"{msg_id}.{timestamp}.".encode("utf-8") + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def post(url: str, body: bytes, headers: dict) -> tuple[int, str]:
    """POSTs the exact bytes that were signed; returns (status, response body)."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:  # 4xx and 5xx still carry a JSON answer
        return err.code, err.read().decode("utf-8", "replace")
    except (urllib.error.URLError, TimeoutError) as err:
        fail(f"could not reach {url}: {err}")
        raise  # unreachable


def expect_202(what: str, status: int, answer: str) -> str:
    try:
        execution_id = json.loads(answer).get("execution_id") if status == 202 else None
    except (ValueError, AttributeError):
        execution_id = None
    if not execution_id:
        fail(f"{what}: expected 202 with an execution id, got {status} {answer}")
    return execution_id


def main() -> None:
    url = os.environ.get("WEBHOOK_URL", "").strip()
    if not url:
        fail("set WEBHOOK_URL to the agent's webhook URL")
    secret = read_secret()

    run = secrets.token_hex(6)
    payload = {
        "ticket_id": 42,
        "title": "VPN down in Zürich",  # non-ASCII on purpose: the signature covers bytes
        "sent_by": "examples/python/send.py",
        "sent_at": int(time.time()),
    }
    # Serialize once and sign and send these very bytes.
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    delivery = f"example-python-{run}"
    print(f"POST {url}")

    # 1. GitHub style, with a delivery id for idempotency.
    hub = {"X-Hub-Signature-256": hub_signature(secret, body), "X-GitHub-Delivery": delivery}
    status, answer = post(url, body, hub)
    first = expect_202("X-Hub-Signature-256", status, answer)
    print(f"  1. X-Hub-Signature-256, X-GitHub-Delivery {delivery} -> {status}, execution {first}")

    # 2. The same delivery again: answered with the first execution, nothing new is queued.
    status, answer = post(url, body, hub)
    again = expect_202("repeated delivery", status, answer)
    if again != first:
        fail(f"repeated delivery: expected execution {first} again, got {again}")
    print(f"  2. same delivery again -> {status}, same execution {again} (idempotent)")

    # 3. Standard Webhooks: the message id doubles as the delivery id.
    msg_id = f"msg_example_python_{run}"
    timestamp = int(time.time())
    status, answer = post(url, body, {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(secret, msg_id, timestamp, body),
    })
    third = expect_202("Standard Webhooks", status, answer)
    print(f"  3. Standard Webhooks, webhook-id {msg_id} -> {status}, execution {third}")

    # 4. One value changed after signing: the signature no longer matches.
    tampered = body.replace(b'"ticket_id":42', b'"ticket_id":43')
    assert tampered != body
    status, answer = post(url, tampered, {
        "X-Hub-Signature-256": hub_signature(secret, body),
        "X-GitHub-Delivery": f"{delivery}-tampered",
    })
    if status != 401:
        fail(f"tampered body: expected 401, got {status} {answer}")
    print(f"  4. tampered body with the original signature -> {status} {answer} (refused, as it must be)")

    print("ok: 4 answers as expected")


if __name__ == "__main__":
    main()
