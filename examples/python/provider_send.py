#!/usr/bin/env python3
"""Sends webhooks signed the way Shopify, Zendesk, PagerDuty or Jira Cloud sign theirs, with
the Python standard library only, and checks every answer. See docs/webhook-integration.md
("Sender presets").

    WEBHOOK_URL=https://…/agents/<id>/webhook WEBHOOK_SECRET='<the secret>' \
        python3 examples/python/provider_send.py --scheme shopify|zendesk|pagerduty|jira

The agent's verification scheme must match: `shopify`, `zendesk` or `pagerduty`, with the
product's secret set by PUT /api/agents/{id}/webhook-secret; Jira Cloud uses the `default`
scheme (any agent secret, generated or set). Every one keys HMAC-SHA256 with the UTF-8
bytes of the secret text. It sends:
  1. a delivery signed as the product signs it, with its delivery id -> expects 202
  2. the same delivery again, as the product retries it             -> expects 202, same
     execution (not for Jira: the default scheme does not read Jira's delivery id)
  3. a changed body with the signature of (1)                       -> expects 401
  4. zendesk: signed 10 minutes ago                                  -> expects 401 "Request expired"
     pagerduty: two signatures, one of them by another secret        -> expects 202
and exits non-zero as soon as an answer differs. The secret and signatures are never printed.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone


def hmac_sha256(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()


# --- how each product signs ------------------------------------------------------------------
# sign(secret, body, now) -> the signature headers, exactly as the product sends them.

def shopify_sign(secret: str, body: bytes, now: int) -> dict:
    """Shopify: base64 HMAC of the body. No timestamp is signed."""
    return {"X-Shopify-Hmac-Sha256": base64.b64encode(hmac_sha256(secret, body)).decode()}


def zendesk_sign(secret: str, body: bytes, now: int) -> dict:
    """Zendesk: base64 HMAC of the timestamp header's text followed by the body (nothing
    between them); the timestamp is RFC 3339 in UTC and must be within 5 minutes."""
    timestamp = datetime.fromtimestamp(now, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    signature = base64.b64encode(hmac_sha256(secret, timestamp.encode() + body)).decode()
    return {
        "X-Zendesk-Webhook-Signature": signature,
        "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
    }


def pagerduty_sign(secret: str, body: bytes, now: int) -> dict:
    """PagerDuty (v3 webhooks): "v1=" + hex HMAC of the body; while PagerDuty rotates a
    secret it lists one v1= per secret, comma-separated. No timestamp is signed."""
    return {"X-PagerDuty-Signature": "v1=" + hmac_sha256(secret, body).hex()}


def jira_sign(secret: str, body: bytes, now: int) -> dict:
    """Jira Cloud admin webhooks: "sha256=" + hex HMAC of the body, in X-Hub-Signature (the
    WebSub header name; GitHub's is X-Hub-Signature-256). No timestamp is signed."""
    return {"X-Hub-Signature": "sha256=" + hmac_sha256(secret, body).hex()}


# --- what each product sends besides: a sample body and its delivery-id header ---------------

def shopify_delivery(run: str) -> tuple[dict, dict]:
    body = {"id": 820982911946154508, "email": "jon@example.com", "name": "#1001",
            "note": "Deliver to the Zürich office", "total_price": "42.00"}
    headers = {"X-Shopify-Topic": "orders/create", "X-Shopify-Shop-Domain": "example.myshopify.com",
               "X-Shopify-API-Version": "2025-10",
               "X-Shopify-Webhook-Id": f"b54557e4-bdd9-4b37-8a5f-{run}"}  # the delivery id
    return body, headers


def zendesk_delivery(run: str) -> tuple[dict, dict]:
    body = {"type": "zen:event-type:ticket.created", "detail": {"id": "42", "subject": "VPN down in Zürich",
            "priority": "HIGH"}}
    headers = {"X-Zendesk-Account-Id": "12345678",
               # The same for every delivery of one Zendesk webhook: not a delivery id.
               "X-Zendesk-Webhook-Id": "01HZEXAMPLEWEBHOOK",
               "X-Zendesk-Webhook-Invocation-Id": f"8350205{run}"}  # the delivery id
    return body, headers


def pagerduty_delivery(run: str) -> tuple[dict, dict]:
    body = {"event": {"id": f"01EXAMPLE{run.upper()}", "event_type": "incident.triggered",
                      "resource_type": "incident", "occurred_at": datetime.now(timezone.utc).isoformat(),
                      "data": {"id": "PGR0VU2", "type": "incident", "title": "VPN down in Zürich",
                               "urgency": "high"}}}
    headers = {"X-Webhook-Subscription": "PEXAMPLE",
               "X-Webhook-Id": f"ee3bca4f-0a4c-4a3b-9d9b-{run}"}  # the delivery id
    return body, headers


def jira_delivery(run: str) -> tuple[dict, dict]:
    body = {"timestamp": int(time.time() * 1000), "webhookEvent": "jira:issue_created",
            "issue": {"id": "10042", "key": "OPS-42", "fields": {"summary": "VPN down in Zürich"}}}
    # Jira's own delivery id, the same on its retries: the default scheme reads it.
    headers = {"X-Atlassian-Webhook-Identifier": f"{int(run, 16)}", "X-Atlassian-Webhook-Flow": "Primary"}
    return body, headers


SCHEMES = {
    "shopify": (shopify_sign, shopify_delivery),
    "zendesk": (zendesk_sign, zendesk_delivery),
    "pagerduty": (pagerduty_sign, pagerduty_delivery),
    "jira": (jira_sign, jira_delivery),
}


# --- sending and checking --------------------------------------------------------------------

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


def execution_id(what: str, status: int, answer: str) -> str:
    try:
        found = json.loads(answer).get("execution_id") if status == 202 else None
    except (ValueError, AttributeError):
        found = None
    if not found:
        fail(f"{what}: expected 202 with an execution id, got {status} {answer}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scheme", required=True, choices=sorted(SCHEMES))
    scheme = parser.parse_args().scheme
    url = os.environ.get("WEBHOOK_URL", "").strip()
    secret = os.environ.get("WEBHOOK_SECRET", "").strip()
    if not url or not secret:
        fail("set WEBHOOK_URL and WEBHOOK_SECRET (the secret the agent verifies with)")
    sign, sample = SCHEMES[scheme]

    run = secrets.token_hex(6)
    payload, extra = sample(run)
    # Serialize once; sign and send these very bytes.
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    print(f"POST {url} ({scheme})")
    step = iter(range(1, 5))

    # 1. Signed as the product signs it.
    signed = sign(secret, body, int(time.time()))
    status, answer = post(url, body, {**extra, **signed})
    first = execution_id(f"{scheme}-signed delivery", status, answer)
    print(f"  {next(step)}. {', '.join(signed)} -> {status}, execution {first}")

    # 2. The product retries with the same delivery id (and signs again).
    status, answer = post(url, body, {**extra, **sign(secret, body, int(time.time()))})
    again = execution_id("retried delivery", status, answer)
    if again != first:
        fail(f"retried delivery: expected execution {first} again, got {again}")
    print(f"  {next(step)}. the same delivery again -> {status}, same execution {again} (idempotent)")

    # 3. One value changed after signing.
    tampered = body.replace("Zürich".encode(), "Zurich".encode())
    assert tampered != body
    status, answer = post(url, tampered, {**extra, **signed})
    if status != 401:
        fail(f"changed body: expected 401, got {status} {answer}")
    print(f"  {next(step)}. changed body, same signature -> {status} {answer} (refused, as it must be)")

    if scheme == "zendesk":
        # 4. Zendesk signs its timestamp: an old delivery is refused even if correctly signed.
        _, fresh_extra = sample(secrets.token_hex(6))
        status, answer = post(url, body, {**fresh_extra, **sign(secret, body, int(time.time()) - 600)})
        if status != 401 or "Request expired" not in answer:
            fail(f"signed 10 minutes ago: expected 401 Request expired, got {status} {answer}")
        print(f"  {next(step)}. signed 10 minutes ago -> {status} {answer} (refused, as it must be)")
    elif scheme == "pagerduty":
        # 4. During PagerDuty's own rotation the header lists a signature per secret; one
        #    matching is enough.
        _, fresh_extra = sample(secrets.token_hex(6))
        old = pagerduty_sign(secrets.token_urlsafe(48), body, 0)["X-PagerDuty-Signature"]
        new = pagerduty_sign(secret, body, 0)["X-PagerDuty-Signature"]
        status, answer = post(url, body, {**fresh_extra, "X-PagerDuty-Signature": f"{old},{new}"})
        fourth = execution_id("two signatures", status, answer)
        print(f"  {next(step)}. X-PagerDuty-Signature with two v1= entries, one valid -> {status}, execution {fourth}")

    print(f"ok: {scheme}-style signatures are accepted")


if __name__ == "__main__":
    main()
