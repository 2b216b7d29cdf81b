#!/usr/bin/env python3
"""Load generator and analysis of the fault drill (scripts/fault-drill.sh).

Python 3 standard library only. Two sub-commands:

  load     N threads send signed webhooks until told to stop. Every logical
           request has its own Idempotency-Key and a body that names it; on a
           connection error, a timeout, 408, 429 or 5xx the SAME request (same
           key, same bytes) is sent again after a short back-off, as a real
           sender does, until a 202 arrives or the drill gives up. Every attempt
           is one JSON line in --out:
             {"t": unix time, "phase": "...", "key": "...", "try": n,
              "status": 202 | null, "error": "timeout" | null,
              "execution_id": "..." | null, "ms": latency}
           The current phase is read from --phase-file (the driver rewrites it);
           "stop" there means: start no new requests, finish the ones in hand
           (at most --stop-grace seconds), then exit.

  analyze  Reads the attempts, the driver's events, and CSV dumps of
           agent_executions and webhook_deliveries, prints the report and
           exits 1 when an accepted execution was lost or duplicated.
"""

import argparse
import collections
import csv
import datetime
import hashlib
import hmac
import http.client
import json
import re
import socket
import sys
import threading
import time
import urllib.parse

# ------------------------------------------------------------------ load


class Phase:
    """The driver's current phase, re-read from a file every 50 ms."""

    def __init__(self, path):
        self.path = path
        self.value = "starting"
        self.stop_at = None
        self._read()
        threading.Thread(target=self._poll, daemon=True).start()

    def _read(self):
        try:
            with open(self.path, encoding="utf-8") as f:
                value = f.read().strip()
        except OSError:
            return
        if value and value != self.value:
            self.value = value
            if value == "stop" and self.stop_at is None:
                self.stop_at = time.time()

    def _poll(self):
        while True:
            time.sleep(0.05)
            self._read()


class Recorder:
    """Appends attempt records (JSON lines) to one file from many threads."""

    def __init__(self, path):
        self.file = open(path, "a", encoding="utf-8")
        self.lock = threading.Lock()
        self.counts = collections.Counter()

    def write(self, record):
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self.lock:
            self.file.write(line)
            self.counts[record["status"] or record["error"]] += 1

    def close(self):
        with self.lock:
            self.file.close()


def sign(secret, body):
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return "sha256=" + digest


RETRY_STATUSES = {408, 429} | set(range(500, 600))


def sender(number, args, url, secret, phase, recorder, run_id):
    """One thread: logical requests one after the other, each retried to a 202."""
    interval = args.threads / args.rate if args.rate > 0 else 0.0
    next_start = time.time()
    conn = None
    seq = 0
    while phase.value != "stop":
        if interval:
            pause = next_start - time.time()
            if pause > 0:
                time.sleep(pause)
            # Never burst to catch up after an outage: at most one interval behind.
            next_start = max(next_start + interval, time.time() - interval)
        if phase.value == "stop":
            break
        seq += 1
        key = f"drill-{run_id}-t{number}-{seq}"
        body = json.dumps(
            {
                "event": "fault_drill",
                "idempotency_key": key,
                "thread": number,
                "seq": seq,
                "first_sent_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            },
            separators=(",", ":"),
        ).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign(secret, body),
            "Idempotency-Key": key,
        }
        backoff = 0.05
        attempt = 0
        while True:
            attempt += 1
            started = time.time()
            status = error = execution_id = None
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=args.timeout)
                conn.request("POST", url.path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                status = response.status
                if status == 202:
                    execution_id = json.loads(data).get("execution_id")
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (socket.timeout, TimeoutError):
                error = "timeout"
            except ConnectionRefusedError:
                error = "refused"
            except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
                error = "reset"
            except (OSError, http.client.HTTPException, ValueError) as exc:
                error = type(exc).__name__
            if error is not None and conn is not None:
                conn.close()
                conn = None
            now = time.time()
            recorder.write(
                {
                    "t": round(started, 4),
                    "phase": phase.value,
                    "key": key,
                    "try": attempt,
                    "status": status,
                    "error": error,
                    "execution_id": execution_id,
                    "ms": round((now - started) * 1000, 1),
                }
            )
            if status is not None and status not in RETRY_STATUSES:
                break  # 202, or a definitive refusal (reported by the analysis)
            if phase.stop_at is not None and now > phase.stop_at + args.stop_grace:
                break  # the drill is over; this key stays unanswered
            time.sleep(backoff)
            backoff = min(backoff * 2, args.max_backoff)
    if conn is not None:
        conn.close()


def load(args):
    url = urllib.parse.urlsplit(args.url)
    if url.scheme != "http":
        sys.exit("only http:// URLs are supported")
    with open(args.secret_file, encoding="utf-8") as f:
        secret = f.read().strip()
    phase = Phase(args.phase_file)
    recorder = Recorder(args.out)
    run_id = args.run_id or time.strftime("%Y%m%dT%H%M%S")
    threads = [
        threading.Thread(
            target=sender, args=(n, args, url, secret, phase, recorder, run_id), daemon=True
        )
        for n in range(args.threads)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorder.close()
    summary = ", ".join(f"{k} x{v}" for k, v in sorted(recorder.counts.items(), key=str))
    print(f"load: {args.threads} threads done; attempts: {summary}", file=sys.stderr)


# ------------------------------------------------------------------ analyze


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def read_csv(path, fields):
    with open(path, encoding="utf-8", newline="") as f:
        return [dict(zip(fields, row)) for row in csv.reader(f)]


REPAIR = re.compile(r"(\w+): (\d+)")


def completions_in_logs(paths):
    """execution_id -> number of "execution completed" lines in the worker logs, the same for
    "execution run started" (runs, a fault may repeat one), and the sums of the reaper's
    repairs ("reaper repaired stale work")."""
    counts = collections.Counter()
    runs = collections.Counter()
    repairs = collections.Counter()
    for path in paths:
        try:
            f = open(path, encoding="utf-8", errors="replace")
        except OSError:
            continue
        with f:
            for line in f:
                if ('"execution completed"' not in line and '"reaper repaired' not in line
                        and '"execution run started"' not in line):
                    continue
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if event.get("message") == "execution completed":
                    counts[event.get("execution_id")] += 1
                elif event.get("message") == "execution run started":
                    runs[event.get("execution_id")] += 1
                elif event.get("message") == "reaper repaired stale work":
                    for name, n in REPAIR.findall(str(event.get("repairs", ""))):
                        repairs[name] += int(n)
    return counts, runs, repairs


def analyze(args):
    attempts = read_jsonl(args.attempts)
    events = read_jsonl(args.events)
    executions = read_csv(
        args.executions, ["id", "delivery_id", "status", "attempts", "created_at", "completed_at"]
    )
    deliveries = read_csv(args.deliveries, ["delivery_id", "execution_id"])
    tasks = read_csv(args.tasks, ["state", "count"])
    logged, runs, repairs = completions_in_logs(args.worker_log)
    meta = next((e for e in events if e["event"] == "drill.start"), {})
    t0 = meta.get("t", attempts[0]["t"] if attempts else 0.0)

    # What the senders saw.
    first_sent = {}
    ids_by_key = collections.defaultdict(set)
    accepted_at = {}
    accepted_try = {}
    refused = {}
    for a in attempts:
        first_sent.setdefault(a["key"], a["t"])
        if a["status"] == 202:
            ids_by_key[a["key"]].add(a["execution_id"])
            accepted_at.setdefault(a["key"], a["t"] + a["ms"] / 1000)
            accepted_try.setdefault(a["key"], (a["try"], a["t"]))
        elif a["status"] is not None and a["status"] not in RETRY_STATUSES:
            refused[a["key"]] = a["status"]
    accepted_keys = set(ids_by_key)
    unanswered = set(first_sent) - accepted_keys - set(refused)

    # What the database holds.
    rows = {e["id"]: e for e in executions}
    rows_by_key = collections.defaultdict(list)
    for e in executions:
        rows_by_key[e["delivery_id"]].append(e)
    delivery_of = {d["delivery_id"]: d["execution_id"] for d in deliveries}

    accepted_ids = {i for ids in ids_by_key.values() for i in ids}
    recorded = [i for i in accepted_ids if i in rows]
    completed = [i for i in recorded if rows[i]["status"] == "completed"]
    rerun = [i for i in completed if int(rows[i]["attempts"]) > 1]
    lost = sorted(i for i in accepted_ids if i not in rows or rows[i]["status"] != "completed")
    wrong_key = sorted(
        i for k, ids in ids_by_key.items() for i in ids if i in rows and rows[i]["delivery_id"] != k
    )
    keys_with_two_rows = sorted(k for k, r in rows_by_key.items() if k and len(r) > 1)
    keys_with_two_ids = sorted(k for k, ids in ids_by_key.items() if len(ids) > 1)
    keys_not_in_deliveries = sorted(
        k for k, ids in ids_by_key.items() if delivery_of.get(k) not in ids
    )
    ran_twice = sorted(i for i, n in logged.items() if n > 1)
    # Runs a fault interrupted are run again (at-least-once runs, exactly-once completion):
    # reported apart from completions, which must never repeat.
    run_again = sorted(i for i, n in runs.items() if n > 1)
    # One row for the key, status completed, completion logged at most once.
    once = [i for i in completed if len(rows_by_key[rows[i]["delivery_id"]]) == 1 and logged[i] <= 1]
    duplicated = len(keys_with_two_rows) + len(keys_with_two_ids)
    unanswered_with_row = [k for k in unanswered if k in rows_by_key]
    statuses = collections.Counter(e["status"] for e in executions)
    # A retry answered with the execution an earlier attempt committed (its answer was lost):
    # the row was created before the attempt that got the 202 was sent.
    retried = {k: t for k, (n, t) in accepted_try.items() if n > 1}
    reused = 0
    for k, sent in retried.items():
        for i in ids_by_key[k]:
            if i in rows and float(rows[i]["created_at"]) < sent:
                reused += 1

    out = []
    p = out.append
    started = datetime.datetime.fromtimestamp(t0, datetime.timezone.utc)
    p(f"Fault drill of {started:%Y-%m-%d %H:%M} UTC on {meta.get('host', '?')} "
      f"({meta.get('cpus', '?')} CPUs), {meta.get('build', '?')} build, "
      f"{meta.get('threads', '?')} sender threads, {meta.get('rate', '?')} new requests/s target, "
      f"lease {meta.get('lease', '?')} s")
    p("")

    # Per phase: what the senders saw.
    order = []
    per_phase = collections.defaultdict(collections.Counter)
    for a in attempts:
        name = a["phase"]
        if name not in order:
            order.append(name)
        c = per_phase[name]
        c["requests"] += 1
        if a["status"] == 202:
            c["202"] += 1
        elif a["status"] is not None and a["status"] >= 500:
            c["5xx"] += 1
            c[f"s{a['status']}"] += 1
        elif a["status"] is not None:
            c["other"] += 1
        elif a["error"] == "timeout":
            c["timeouts"] += 1
        else:
            c["conn"] += 1
            c[f"e{a['error']}"] += 1
        c["slowest_ms"] = max(c["slowest_ms"], int(a["ms"]))
    # Longest time from first attempt to 202, by the phase of the first attempt.
    waits = collections.defaultdict(float)
    first_phase = {}
    for a in attempts:
        first_phase.setdefault(a["key"], a["phase"])
    for k, t in accepted_at.items():
        name = first_phase[k]
        waits[name] = max(waits[name], t - first_sent[k])
    # How long each phase lasted, from the driver's events.
    marks = [(e["t"], e["name"]) for e in events if e["event"] == "phase"]
    ends = [e["t"] for e in events if e["event"] == "load.stopped"]
    seconds = {}
    for i, (t, name) in enumerate(marks):
        end = marks[i + 1][0] if i + 1 < len(marks) else (ends[0] if ends else t)
        seconds[name] = seconds.get(name, 0.0) + end - t
    p("phase             secs  requests    202   5xx  conn.err  timeouts  other  slowest  longest wait for a 202")
    for name in order:
        c = per_phase[name]
        secs = f"{seconds[name]:5.1f}" if name in seconds else "    ?"
        codes = " ".join(
            f"{k[1:]} x{v}" for k, v in sorted(c.items()) if k[0] in "se" and k != "slowest_ms"
        )
        p(f"{name:<16} {secs} {c['requests']:>9} {c['202']:>6} {c['5xx']:>5} {c['conn']:>9} {c['timeouts']:>9}"
          f" {c['other']:>6} {c['slowest_ms'] / 1000:>7.1f}s {waits.get(name, 0.0):>8.1f}s"
          + (f"   ({codes})" if codes else ""))
    p("")

    # The faults as the driver recorded them, relative to the drill's start.
    p("faults (seconds since the start of the load):")
    for e in events:
        if e["event"] in ("drill.start", "phase"):
            continue
        detail = " ".join(f"{k}={v}" for k, v in e.items() if k not in ("t", "event"))
        p(f"  +{e['t'] - t0:6.1f}  {e['event']:<22} {detail}".rstrip())
    p("")

    p("result:")
    rows_out = [
        ("accepted (distinct keys answered 202)", len(accepted_keys), ""),
        ("recorded (their execution ids in agent_executions)", len(recorded), ""),
        ("completed exactly once", len(once), ""),
        ("  of which re-run after a fault (attempts > 1)", len(rerun), ""),
        ("lost (accepted, missing or not completed)", len(lost), "must be 0"),
        ("duplicated (key with 2+ rows, or 2 ids in 202s)", duplicated, "must be 0"),
    ]
    for label, value, note in rows_out:
        p(f"  {label:<52} {value:>7}" + (f"   {note}" if note else ""))
    p("")
    p("checks:")
    p(f"  202 execution id whose row names another key ........ {len(wrong_key)}")
    p(f"  accepted key whose webhook_deliveries row disagrees .. {len(keys_not_in_deliveries)}")
    p(f"  execution completed twice (worker logs) .............. {len(ran_twice)}")
    p(f"  execution run more than once (worker logs) ........... {len(run_again)}"
      f" (allowed: a run a fault interrupted runs again; {sum(runs.values())} runs in all)")
    p(f"  definitive refusals (4xx other than 408/429) ......... {len(refused)}"
      + (f" {dict(collections.Counter(refused.values()))}" if refused else ""))
    p(f"  keys accepted only after retries ..................... {len(retried)}"
      f" (answered with an earlier attempt's execution: {reused})")
    p(f"  keys still unanswered when the senders gave up ....... {len(unanswered)}"
      f" (an execution row exists for {len(unanswered_with_row)})")
    p(f"  executions by status at the end ...................... "
      + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    p(f"  reaper repairs (worker logs) ......................... "
      + (", ".join(f"{k} {v}" for k, v in sorted(repairs.items())) if repairs else "none"))
    p(f"  fang_tasks left ...................................... "
      + (", ".join(f"{t['state']} {t['count']}" for t in tasks) if tasks else "none"))
    fault_5xx = ", ".join(
        f"{name} {per_phase[name]['5xx']}" for name in order if name not in ("baseline", "cooldown", "stop")
    )
    p(f"  5xx seen during each fault ........................... {fault_5xx}")
    p("")
    failed = bool(lost or duplicated or wrong_key or ran_twice or not accepted_keys)
    p("verdict: " + ("FAIL" if failed else "PASS") + " (lost and duplicated must be 0)")
    for label, items in (
        ("lost", lost),
        ("keys with two rows", keys_with_two_rows),
        ("keys with two ids", keys_with_two_ids),
        ("completed twice", ran_twice),
        ("wrong key", wrong_key),
    ):
        if items:
            p(f"  {label}: {', '.join(items[:10])}" + (" ..." if len(items) > 10 else ""))
    print("\n".join(out))
    return 1 if failed else 0


# ------------------------------------------------------------------ main


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    lo = sub.add_parser("load", help="send signed webhooks until the phase file says stop")
    lo.add_argument("--url", required=True, help="the agent's webhook URL (http://...)")
    lo.add_argument("--secret-file", required=True, help="file holding the 44-char secret")
    lo.add_argument("--phase-file", required=True)
    lo.add_argument("--out", required=True, help="JSONL file of attempts (appended)")
    lo.add_argument("--threads", type=int, default=8)
    lo.add_argument("--rate", type=float, default=200, help="new requests/s in all (0: no pacing)")
    lo.add_argument("--timeout", type=float, default=5, help="seconds per attempt")
    lo.add_argument("--max-backoff", type=float, default=1.0, help="longest pause between retries")
    lo.add_argument("--stop-grace", type=float, default=30, help="retry time after 'stop'")
    lo.add_argument("--run-id", default="")
    an = sub.add_parser("analyze", help="print the report")
    an.add_argument("--attempts", required=True)
    an.add_argument("--events", required=True)
    an.add_argument("--executions", required=True, help="CSV: id,delivery_id,status,attempts,created_at (unix seconds),completed_at")
    an.add_argument("--deliveries", required=True, help="CSV: delivery_id,execution_id")
    an.add_argument("--tasks", required=True, help="CSV: state,count")
    an.add_argument("--worker-log", action="append", default=[])
    args = parser.parse_args()
    if args.command == "load":
        load(args)
        return 0
    return analyze(args)


if __name__ == "__main__":
    sys.exit(main())
