#!/usr/bin/env python3
"""Sends Slack-signed Events API requests to an agent whose verification scheme is `slack`,
signing with Slack's official SDK (`pip install slack_sdk`, see requirements.txt), and
checks every answer. See docs/webhook-integration.md ("Sender presets", Slack).

    WEBHOOK_URL=https://…/agents/<id>/webhook WEBHOOK_SECRET='<the app's signing secret>' \
        target/examples-venv/bin/python examples/python/slack_send.py

WEBHOOK_SECRET is the Slack app's Signing Secret (Basic Information → App Credentials), the
one set with PUT /api/agents/{id}/webhook-secret. Slack signs "v0:{timestamp}:{body}" with
it; `SignatureVerifier(secret).generate_signature(timestamp=…, body=…)` is the SDK's own
signer. It sends:
  1. the url_verification handshake Slack sends for a new Request URL
                                                     -> expects 200 {"challenge": <the same>}
  2. an event_callback                               -> expects 202 + execution id
  3. the same event again, as Slack retries it       -> expects 202, same execution
     (the delivery id is the body's `event_id`)
  4. a changed body with the headers of (2)          -> expects 401
and exits non-zero as soon as an answer differs. The secret and signatures are never printed.
"""

import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request

from slack_sdk.signature import SignatureVerifier


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
    url = os.environ.get("WEBHOOK_URL", "").strip()
    secret = os.environ.get("WEBHOOK_SECRET", "").strip()
    if not url or not secret:
        fail("set WEBHOOK_URL and WEBHOOK_SECRET (the Slack app's signing secret)")
    verifier = SignatureVerifier(secret)

    def slack_headers(body: bytes, **extra: str) -> dict:
        """The two headers Slack adds to every request, signed now."""
        timestamp = str(int(time.time()))
        return {
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": verifier.generate_signature(timestamp=timestamp, body=body),
            **extra,
        }

    print(f"POST {url}")

    # 1. Slack checks a new Request URL with a signed url_verification request and expects
    #    the challenge back; the agent answers it (and queues nothing).
    challenge = secrets.token_urlsafe(36)
    body = json.dumps({"token": "legacy-verification-token", "challenge": challenge,
                       "type": "url_verification"}).encode("utf-8")
    headers = slack_headers(body)
    assert verifier.is_valid_request(body, headers)  # the SDK accepts what it signed
    status, answer = post(url, body, headers)
    try:
        echoed = json.loads(answer).get("challenge") if status == 200 else None
    except (ValueError, AttributeError):
        echoed = None
    if echoed != challenge:
        fail(f"url_verification: expected 200 with the challenge, got {status} {answer}")
    print(f"  1. url_verification -> {status}, challenge echoed")

    # 2. An Events API event. Serialize once; sign and send these very bytes.
    event_id = f"Ev{secrets.token_hex(5).upper()}"
    body = json.dumps({
        "token": "legacy-verification-token",
        "team_id": "T0EXAMPLE",
        "api_app_id": "A0EXAMPLE",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "event": {"type": "app_mention", "user": "U0EXAMPLE", "channel": "C0EXAMPLE",
                  "text": "<@U0AGENT> VPN down in Zürich", "ts": f"{time.time():.6f}"},
    }, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    signed = slack_headers(body)
    status, answer = post(url, body, signed)
    first = execution_id("event_callback", status, answer)
    print(f"  2. event_callback, event_id {event_id} -> {status}, execution {first}")

    # 3. Slack retries an unanswered event with the same event_id, a new timestamp and
    #    X-Slack-Retry-Num: the same execution answers.
    status, answer = post(url, body, slack_headers(body, **{"X-Slack-Retry-Num": "1",
                                                            "X-Slack-Retry-Reason": "http_timeout"}))
    again = execution_id("retried event", status, answer)
    if again != first:
        fail(f"retried event: expected execution {first} again, got {again}")
    print(f"  3. the same event_id retried -> {status}, same execution {again} (idempotent)")

    # 4. One value changed after signing.
    tampered = body.replace(b"VPN down", b"VPN up")
    assert tampered != body
    status, answer = post(url, tampered, signed)
    if status != 401:
        fail(f"changed body: expected 401, got {status} {answer}")
    print(f"  4. changed body, same X-Slack-Signature -> {status} {answer} (refused, as it must be)")
    print("ok: the slack_sdk signature is accepted, and the url_verification handshake answered")


if __name__ == "__main__":
    main()
