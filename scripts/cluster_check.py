#!/usr/bin/env python3
"""The cluster test suite: checks a running `make cluster` (scripts/cluster.sh).

Python 3 standard library only. `scripts/cluster.sh --test` starts a cluster with two
worker processes, runs this suite and stops the cluster; against a cluster you started
yourself (`scripts/cluster.sh --detach --worker-processes 2`, with the environment --test
sets, see its header), run `python3 scripts/cluster_check.py`. Check 4 SIGKILLs web1:
restart the cluster afterwards.

It reads target/cluster/cluster.env (--env), creates an API token with the binary's
`create-token` (tenant "cluster"), one agent per check through the balancer, and prints
PASS or FAIL with the measured figure for each check, then a summary table; exit status 1
when a check failed. The whole suite has a deadline (--deadline, 150 s from its start): no
request waits past it, a check that is sending when it passes stops and fails saying so
(a cluster answering 503 to everything fails in that time, not after every delivery's
retries), and the checks not run yet fail as not run.

  1. rate limit across processes: 300 distinct signed deliveries for an agent limited to
     60 per minute, sent through the balancer by 16 threads as fast as they go. The limit
     is one bucket in PostgreSQL: at most 60 + 1 per second may get 202, at least the
     full bucket (60) must, every other answer is 429 with Retry-After, and both web
     processes must have answered (X-Served-By).
  2. regenerate propagates: the agent's cache is warmed on web1 and web2, the secret is
     regenerated through web1 (grace period 0); a delivery signed with the old secret must
     get 401 from web2 within 200 ms of the regenerate's answer, and one signed with the
     new secret 202.
  3. suspend propagates: the same with PATCH {"status": "suspended"} through web1 and 403
     from web2 (valid signature) within 200 ms.
  4. kill one web process under load: 8 sender threads at 200 deliveries/s for 10 s
     through the balancer, each delivery retried with the same Idempotency-Key and bytes
     on connection errors, timeouts, 408, 429 and 5xx; 3 s in, web1 (first waited for to be
     plainly UP in HAProxy's stats, up to --up-timeout) gets SIGKILL. HAProxy must mark web1
     DOWN (stats CSV), deliveries first sent 2 s or more after the kill must get 202 at
     their first attempt, from web2; after the queue drained, every execution
     id of a 202 exists and completed, no delivery has two executions, every accepted
     delivery's webhook_deliveries row names the execution its 202 named, none was left
     unanswered.
  5. exactly once with two worker processes: a burst of 2,000 deliveries (before check
     4's load) and everything else the suite queued, run with the runner's delay
     (BUILTIN_RUNNER_DELAY_MS) so that runs overlap: every execution of the suite's agents
     completed, and each is logged "execution completed" exactly once across the worker
     logs (read again for up to --log-wait seconds while a completed one has no line yet:
     it is logged just after its commit); each worker process completed a share (at least
     5%) of them, and every delivery of the burst got a 202.
"""

import argparse
import collections
import hashlib
import hmac
import http.client
import json
import math
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

import fault_drill_load  # scripts/, beside this file: the worker-log reader

RETRY_STATUSES = {408, 429} | set(range(500, 600))


# ------------------------------------------------------------------ plumbing


class SetupError(Exception):
    """The suite could not set a check up (not a verdict on the cluster)."""


class DeadlinePassed(Exception):
    """The suite's deadline (--deadline) passed: nothing more is sent. `in_flight`: it passed
    while a request was waiting for its answer (cut short; it may have been processed)."""

    def __init__(self, message="", in_flight=False):
        super().__init__(message)
        self.in_flight = in_flight


class Tee:
    """Writes to several streams (--output: the terminal and a file)."""

    def __init__(self, *streams):
        self.streams = streams

    def write(self, text):
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self):
        for stream in self.streams:
            stream.flush()


def counts(counter):
    """Counter({503: 12, 'timeout': 2}) -> '503 x12, timeout x2'."""
    return ", ".join(f"{k} x{v}" for k, v in sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))) or "none"


def read_env(path):
    """KEY='value' lines as scripts/cluster.sh writes them."""
    env = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, value = line.split("=", 1)
            words = shlex.split(value)
            env[key] = words[0] if words else ""
    return env


def sign(secret, body):
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return {}

    def header(self, name):
        return self.headers.get(name.lower())


class Client:
    """One keep-alive connection to one base URL (a thread owns it). With a deadline (an
    epoch time), no request waits past it: each gets min(timeout, time left), and a request
    asked for once it passed raises DeadlinePassed."""

    def __init__(self, base, timeout=5.0, deadline=None):
        url = urllib.parse.urlsplit(base)
        if url.scheme != "http":
            raise SetupError(f"only http:// URLs are supported, not {base}")
        self.host, self.port, self.timeout = url.hostname, url.port or 80, timeout
        self.deadline = deadline
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        """A Response, or raises OSError / http.client.HTTPException (the connection is
        dropped then, and the next request opens a new one), or DeadlinePassed."""
        timeout = self.timeout
        if self.deadline is not None:
            left = self.deadline - time.time()
            if left <= 0:
                self.close()
                raise DeadlinePassed()
            timeout = min(timeout, left)
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
            else:
                self.conn.timeout = timeout
                if self.conn.sock is not None:
                    self.conn.sock.settimeout(timeout)
            self.conn.request(method, path, body=body, headers=headers or {})
            r = self.conn.getresponse()
            data = r.read()
            headers = {k.lower(): v for k, v in r.getheaders()}
            if headers.get("connection", "").lower() == "close":
                self.close()
            return Response(r.status, headers, data)
        except (OSError, http.client.HTTPException):
            self.close()
            if timeout < self.timeout and time.time() >= self.deadline:
                raise DeadlinePassed(in_flight=True) from None  # cut short by the deadline, not the cluster
            raise

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def error_name(exc):
    if isinstance(exc, (TimeoutError,)) or "timed out" in str(exc):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected)):
        return "reset"
    return type(exc).__name__


class Suite:
    def __init__(self, args):
        self.args = args
        self.started = time.time()
        self.deadline = self.started + args.deadline
        self.deadline_hit = None  # what the deadline interrupted, for the verdict
        self.env = read_env(args.env)
        for key in ("CLUSTER_URL", "WEB1_URL", "WEB2_URL", "STATS_URL", "WEB1_PID", "DATABASE_URL",
                    "MASTER_KEY_FILE", "BIN", "WORKER_LOGS"):
            if not self.env.get(key):
                raise SetupError(f"{args.env} has no {key}")
        self.cluster = self.env["CLUSTER_URL"]
        self.web1 = self.env["WEB1_URL"]
        self.web2 = self.env["WEB2_URL"]
        self.run_id = time.strftime("%H%M%S") + "-" + uuid.uuid4().hex[:6]
        self.psql = os.environ.get("PSQL") or shutil.which("psql")
        if not self.psql:
            raise SetupError("psql not found (set PSQL)")
        self.results = []  # (number, name, passed, figure)
        self.agents = []  # every agent the suite created
        self.accepted = {}  # execution id -> check number, from every 202 the suite got
        self.token = self.create_token()
        self.kill_attempts = None
        self.burst_refused = 0
        self.undrained = None

    # -------------------------------------------------------------- helpers

    def left(self):
        """Seconds to the suite's deadline (negative once it passed)."""
        return self.deadline - time.time()

    def expired(self):
        return self.left() <= 0

    def deadline_text(self):
        return f"the suite's deadline ({self.args.deadline:g} s from its start, --deadline) passed"

    def cut(self, where, detail=None):
        """DeadlinePassed saying where it passed (remembered for the verdict) and what it
        interrupted."""
        self.deadline_hit = self.deadline_hit or where
        return DeadlinePassed(f"{self.deadline_text()} {where}" + (f": {detail}" if detail else ""))

    def create_token(self):
        env = dict(os.environ)
        env.pop("MASTER_KEYS", None)
        env.update(DATABASE_URL=self.env["DATABASE_URL"], MASTER_KEY_FILE=self.env["MASTER_KEY_FILE"],
                   RUST_LOG="warn")
        cmd = [self.env["BIN"], "create-token", "--tenant", "cluster", "--name", f"cluster-check-{self.run_id}"]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=max(5.0, min(60.0, self.left())))
        tokens = [line for line in done.stdout.splitlines() if line.startswith("awt_")]
        if done.returncode != 0 or not tokens:
            raise SetupError(f"create-token failed ({done.returncode}): {done.stderr.strip()[-500:]}")
        return tokens[-1]

    def api(self, method, path, payload=None, base=None, expect=(200,)):
        headers = {"Authorization": f"Bearer {self.token}"}
        body = None
        if payload is not None:
            body = json.dumps(payload).encode("utf-8")
            headers["Content-Type"] = "application/json"
        client = Client(base or self.cluster, timeout=10, deadline=self.deadline)
        try:
            r = client.request(method, path, body, headers)
        except DeadlinePassed:
            raise self.cut(f"at {method} {path}") from None
        finally:
            client.close()
        if r.status not in expect:
            raise SetupError(f"{method} {path}: {r.status} {r.body[:300]!r}")
        return r

    def create_agent(self, name, rate_limit):
        r = self.api("POST", "/api/agents", {"name": f"{name} {self.run_id}", "rate_limit_per_minute": rate_limit},
                     expect=(201,))
        agent = r.json()
        path = f"/agents/{agent['id']}/webhook"
        if agent.get("webhook_url") != self.cluster + path:
            raise SetupError(f"webhook_url is {agent.get('webhook_url')!r}, not the balancer's "
                             f"{self.cluster + path!r} (PUBLIC_BASE_URL)")
        self.agents.append(agent["id"])
        return agent["id"], path

    def reveal(self, agent_id):
        secret = self.api("GET", f"/api/agents/{agent_id}/webhook-secret").json().get("hmac_secret", "")
        if len(secret) != 44:
            raise SetupError("could not reveal the webhook secret")
        return secret

    def delivery(self, secret, key, check):
        body = json.dumps({"event": "cluster_check", "check": check, "idempotency_key": key},
                          separators=(",", ":")).encode("utf-8")
        return body, {"Content-Type": "application/json", "X-Hub-Signature-256": sign(secret, body),
                      "Idempotency-Key": key}

    def key(self, label, n):
        return f"cluster-{self.run_id}-{label}-{n}"

    def note(self, response, check):
        if response.status == 202:
            execution_id = response.json().get("execution_id")
            if execution_id:
                self.accepted[execution_id] = check

    def sql(self, query):
        done = subprocess.run([self.psql, self.env["DATABASE_URL"], "-X", "-qAt", "-v", "ON_ERROR_STOP=1",
                               "-F", "\t", "-c", query], capture_output=True, text=True,
                              timeout=max(10.0, min(60.0, self.left())))
        if done.returncode != 0:
            raise SetupError(f"psql: {done.stderr.strip()}")
        return [line.split("\t") for line in done.stdout.splitlines() if line]

    def agents_sql(self):
        return "array[" + ",".join(f"'{a}'::uuid" for a in self.agents) + "]"

    def record(self, number, name, passed, figure, details=(), short=None):
        """One check's verdict: `figure` in full now, `short` (else `figure`) in the summary."""
        self.results.append((number, name, passed, short or figure))
        print(f"{'PASS' if passed else 'FAIL'}  {number}. {name}: {figure}", flush=True)
        for line in details:
            print(f"        {line}", flush=True)

    # -------------------------------------------------------------- 1. rate limit

    def check_rate_limit(self):
        name = "rate limit across processes"
        limit = 60
        agent_id, path = self.create_agent("cluster rate limit", limit)
        secret = self.reveal(agent_id)
        requests = [self.delivery(secret, self.key("rate", n), 1) for n in range(self.args.rate_requests)]
        answers = []
        lock = threading.Lock()
        queue = collections.deque(requests)
        cut = threading.Event()

        def send():
            client = Client(self.cluster, deadline=self.deadline)
            while True:
                with lock:
                    if not queue:
                        break
                    body, headers = queue.popleft()
                started = time.time()
                try:
                    r = client.request("POST", path, body, headers)
                    item = (started, time.time(), r.status, r.header("Retry-After"), r.header("X-Served-By"), r)
                except DeadlinePassed as exc:
                    cut.set()
                    if exc.in_flight:
                        with lock:
                            answers.append((started, time.time(), "cut by the deadline", None, None, None))
                    break
                except (OSError, http.client.HTTPException) as exc:
                    item = (started, time.time(), error_name(exc), None, None, None)
                with lock:
                    answers.append(item)
            client.close()

        threads = [threading.Thread(target=send, daemon=True) for _ in range(self.args.threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if cut.is_set():
            raise self.cut("during check 1", f"stopped sending; {len(answers)} of {len(requests)} deliveries sent, "
                           "answers " + counts(collections.Counter(a[2] for a in answers)))
        elapsed = max(a[1] for a in answers) - min(a[0] for a in answers)
        accepted = sum(1 for a in answers if a[2] == 202)
        limited = [a for a in answers if a[2] == 429]
        limited_with_retry_after = sum(1 for a in limited if a[3])
        others = collections.Counter(a[2] for a in answers if a[2] not in (202, 429))
        served = collections.Counter(a[4] for a in answers if a[4])
        for a in answers:
            if a[5] is not None:
                self.note(a[5], 1)
        bound = limit + math.ceil(elapsed * limit / 60) + 1
        passed = (accepted <= bound and accepted >= limit and not others
                  and limited_with_retry_after == len(limited) and served["web1"] > 0 and served["web2"] > 0)
        figure = (f"202 x{accepted} of {len(answers)} in {elapsed:.2f} s (allowed {limit}..{bound}: the burst of "
                  f"{limit} + 1/s + 1); 429 x{len(limited)} ({limited_with_retry_after} with Retry-After)"
                  + (f"; other answers {dict(others)}" if others else "")
                  + f"; served by web1 x{served['web1']}, web2 x{served['web2']}")
        details = []
        if accepted > bound:
            details.append(f"more than the limit allows: each process may be keeping its own bucket "
                           f"(2 processes x {limit} = {2 * limit})")
        self.record(1, name, passed, figure, details,
                    short=f"202 x{accepted} of {len(answers)} in {elapsed:.1f} s (allowed {limit}..{bound}); "
                          f"web1 x{served['web1']}, web2 x{served['web2']}")

    # -------------------------------------------------------------- 2, 3. propagation

    def warm(self, secret, path, label, check):
        """A valid delivery to web1 and to web2 directly: the agent is in both caches."""
        for base in (self.web1, self.web2):
            client = Client(base, deadline=self.deadline)
            body, headers = self.delivery(secret, self.key(label, f"warm-{base.rsplit(':', 1)[1]}"), check)
            r = client.request("POST", path, body, headers)
            client.close()
            if r.status != 202:
                raise SetupError(f"warm-up delivery to {base}: {r.status} {r.body[:200]!r}")
            self.note(r, check)

    def poll_until(self, base, path, secret, label, check, wanted, since):
        """Sends deliveries to base until one gets `wanted`; returns (seconds since `since`
        when it arrived or None, attempts, Counter of other answers)."""
        deadline = min(since + self.args.propagation_timeout, self.deadline)
        client = Client(base, deadline=deadline)
        attempts = 0
        seen = collections.Counter()
        try:
            while time.time() < deadline:
                attempts += 1
                body, headers = self.delivery(secret, self.key(label, f"poll-{attempts}"), check)
                try:
                    r = client.request("POST", path, body, headers)
                except DeadlinePassed:
                    break
                except (OSError, http.client.HTTPException) as exc:
                    seen[error_name(exc)] += 1
                    continue
                if r.status == wanted:
                    return time.time() - since, attempts, seen
                self.note(r, check)
                seen[r.status] += 1
            return None, attempts, seen
        finally:
            client.close()

    def check_regenerate(self):
        name = "regenerate propagates"
        limit_ms = self.args.propagation_ms
        agent_id, path = self.create_agent("cluster regenerate", None)
        old = self.reveal(agent_id)
        self.warm(old, path, "regen", 2)
        self.api("POST", f"/api/agents/{agent_id}/regenerate-webhook-secret", {"grace_period_seconds": 0},
                 base=self.web1)
        answered = time.time()
        took, attempts, seen = self.poll_until(self.web2, path, old, "regen-old", 2, 401, answered)
        if took is None and self.expired():
            raise self.cut("during check 2", f"{attempts} attempt(s) after the regenerate, no 401 from web2 yet")
        new = self.reveal(agent_id)
        client = Client(self.web2, deadline=self.deadline)
        body, headers = self.delivery(new, self.key("regen", "new"), 2)
        r = client.request("POST", path, body, headers)
        client.close()
        self.note(r, 2)
        passed = took is not None and took * 1000 < limit_ms and r.status == 202 and new != old
        when = f"{took * 1000:.1f} ms" if took is not None else f"not within {self.args.propagation_timeout} s"
        figure = (f"old secret refused (401) by web2 {when} after web1 answered the regenerate (limit {limit_ms} ms; "
                  f"{attempts} attempt(s), {seen[202]} accepted meanwhile); new secret on web2: {r.status}")
        self.record(2, name, passed, figure,
                    short=f"old secret 401 on web2 after {when} (limit {limit_ms:.0f} ms); new secret {r.status}")

    def check_suspend(self):
        name = "suspend propagates"
        limit_ms = self.args.propagation_ms
        agent_id, path = self.create_agent("cluster suspend", None)
        secret = self.reveal(agent_id)
        self.warm(secret, path, "suspend", 3)
        r = self.api("PATCH", f"/api/agents/{agent_id}", {"status": "suspended"}, base=self.web1)
        answered = time.time()
        if r.json().get("status") != "suspended":
            raise SetupError(f"PATCH status: {r.body[:200]!r}")
        took, attempts, seen = self.poll_until(self.web2, path, secret, "suspend-poll", 3, 403, answered)
        if took is None and self.expired():
            raise self.cut("during check 3", f"{attempts} attempt(s) after the PATCH, no 403 from web2 yet")
        passed = took is not None and took * 1000 < limit_ms
        when = f"{took * 1000:.1f} ms" if took is not None else f"not within {self.args.propagation_timeout} s"
        figure = (f"web2 answered 403 {when} after web1 answered the PATCH (limit {limit_ms} ms; "
                  f"{attempts} attempt(s), {seen[202]} accepted meanwhile)")
        self.record(3, name, passed, figure, short=f"403 on web2 after {when} (limit {limit_ms:.0f} ms)")

    # -------------------------------------------------------------- load (4 and 5)

    def sender(self, path, secret, label, check, keys, attempts, lock, stop, interval, stop_grace, cut):
        """Logical deliveries one after the other (paced by `interval`, 0 = no pause), each
        retried with the same key and bytes until a 202 or a definitive answer (for at most
        `stop_grace` seconds, and at most that long after the load stopped); `keys` yields
        the keys to send (None: stop). At the suite's deadline it stops at once and sets `cut`."""
        client = Client(self.cluster, timeout=self.args.timeout, deadline=self.deadline)
        next_start = time.time()
        try:
            while not stop.is_set():
                if interval:
                    pause = min(next_start - time.time(), self.left())
                    if pause > 0:
                        time.sleep(pause)
                    next_start = max(next_start + interval, time.time() - interval)
                if self.expired():
                    cut.set()
                    return
                key = next(keys)
                if key is None or stop.is_set():
                    break
                body, headers = self.delivery(secret, key, check)
                backoff, attempt, first = 0.05, 0, time.time()
                while True:
                    attempt += 1
                    started = time.time()
                    status = error = served = execution_id = None
                    try:
                        r = client.request("POST", path, body, headers)
                        status, served = r.status, r.header("X-Served-By")
                        if status == 202:
                            execution_id = r.json().get("execution_id")
                    except DeadlinePassed as exc:
                        cut.set()
                        if exc.in_flight:
                            with lock:
                                attempts.append({"key": key, "try": attempt, "t": started, "end": time.time(),
                                                 "status": None, "error": "cut by the deadline", "served": None,
                                                 "execution_id": None})
                        return
                    except (OSError, http.client.HTTPException) as exc:
                        error = error_name(exc)
                    with lock:
                        attempts.append({"key": key, "try": attempt, "t": started, "end": time.time(),
                                         "status": status, "error": error, "served": served,
                                         "execution_id": execution_id})
                    if status is not None and status not in RETRY_STATUSES:
                        break
                    if time.time() > first + stop_grace or (stop.is_set() and time.time() > stop.stopped_at + stop_grace):
                        break  # given up: reported as never answered
                    if self.left() < backoff:  # the deadline passes before the next attempt
                        time.sleep(max(0.0, self.left()))
                        cut.set()
                        return
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 1.0)
        finally:
            client.close()

    def run_load(self, path, secret, label, check, threads, total=None, seconds=None, rate=0.0, during=None):
        """Sends `total` deliveries (or for `seconds`) with `threads` senders; `during(start)`
        runs in this thread meanwhile. Returns the attempts, and whether the suite's deadline
        stopped the senders."""
        attempts, lock = [], threading.Lock()
        stop = threading.Event()
        stop.stopped_at = None
        cut = threading.Event()
        counter = iter(range(10**9))
        counter_lock = threading.Lock()

        class Keys:
            def __next__(_):
                with counter_lock:
                    n = next(counter)
                return None if total is not None and n >= total else self.key(label, n)

        interval = threads / rate if rate else 0.0
        workers = [threading.Thread(target=self.sender, daemon=True,
                                    args=(path, secret, label, check, Keys(), attempts, lock, stop, interval,
                                          self.args.stop_grace, cut)) for _ in range(threads)]
        start = time.time()
        for w in workers:
            w.start()
        if during:
            during(start)
        if seconds is not None:
            time.sleep(max(0.0, min(start + seconds - time.time(), self.left())))
            stop.stopped_at = time.time()
            stop.set()
        for w in workers:
            w.join()
        for a in attempts:
            if a["execution_id"]:
                self.accepted[a["execution_id"]] = check
        return attempts, cut.is_set()

    def load_summary(self, attempts, planned):
        """'N of PLANNED deliveries sent, M accepted; answers ...' for a load the deadline cut."""
        keys = {a["key"] for a in attempts}
        accepted = {a["key"] for a in attempts if a["status"] == 202}
        return (f"{len(keys)}{f' of {planned}' if planned else ''} deliveries sent in {len(attempts)} attempts, "
                f"{len(accepted)} accepted; answers " + counts(collections.Counter(a["status"] or a["error"]
                                                                                   for a in attempts)))

    # -------------------------------------------------------------- 5. burst (before 4)

    def burst(self):
        agent_id, path = self.create_agent("cluster exactly once", None)
        secret = self.reveal(agent_id)
        started = time.time()
        attempts, cut = self.run_load(path, secret, "burst", 5, self.args.threads, total=self.args.burst)
        took = time.time() - started
        ok = sum(1 for a in attempts if a["status"] == 202)
        self.burst_refused = self.args.burst - ok
        if cut:
            raise self.cut("during check 5's burst", f"stopped sending {took:.1f} s into it; "
                           + self.load_summary(attempts, self.args.burst))
        print(f"        (check 5's burst: {ok} of {self.args.burst} deliveries accepted in {took:.1f} s through the "
              f"balancer, {ok / took:.0f}/s; the two workers run them meanwhile)", flush=True)

    # -------------------------------------------------------------- 4. kill web1

    def stats_status(self, server):
        client = Client(self.env["STATS_URL"], timeout=2)
        try:
            r = client.request("GET", urllib.parse.urlsplit(self.env["STATS_URL"]).path + ";csv")
        finally:
            client.close()
        lines = r.body.decode("utf-8", "replace").splitlines()
        header = lines[0].lstrip("# ").split(",")
        status = header.index("status")
        for line in lines[1:]:
            fields = line.split(",")
            if fields[0] == "web" and fields[1] == server:
                return fields[status]
        return None

    def wait_up(self, server, seconds):
        """HAProxy's status of `server` once it is "UP", or the last one seen after `seconds`
        (or at the suite's deadline)."""
        until = min(time.time() + seconds, self.deadline)
        while True:
            try:
                status = self.stats_status(server)
            except (OSError, http.client.HTTPException, ValueError, IndexError) as exc:
                status = f"unknown (stats page: {error_name(exc)})"
            if status == "UP" or time.time() >= until:
                return status
            time.sleep(0.1)

    def check_kill(self):
        name = "kill one web process under load"
        pid = int(self.env["WEB1_PID"])
        try:
            os.kill(pid, 0)
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"agent-webhooks" not in f.read():
                    raise ProcessLookupError
        except (ProcessLookupError, FileNotFoundError, PermissionError):
            raise SetupError(f"web1 (pid {pid}) is not running: restart the cluster")
        # Plainly UP: a health check that took longer than its 2 s during the burst (a loaded
        # machine) leaves it "UP 1/2" for a moment, which is not what this check is about.
        status = self.wait_up("web1", self.args.up_timeout)
        if status != "UP":
            if self.expired():
                raise self.cut("before check 4", f"web1 not UP in HAProxy's stats yet (it is {status})")
            raise SetupError(f"web1 is {status} in HAProxy's stats before the kill, not UP after "
                             f"{self.args.up_timeout:g} s")
        agent_id, path = self.create_agent("cluster failover", None)
        secret = self.reveal(agent_id)
        self.kill_agent = agent_id
        events = {}

        def kill_and_watch(start):
            time.sleep(max(0.0, start + self.args.kill_after - time.time()))
            os.kill(pid, signal.SIGKILL)
            events["kill"] = time.time()
            deadline = start + self.args.load_seconds
            while time.time() < deadline:
                try:
                    status = self.stats_status("web1")
                except (OSError, http.client.HTTPException, ValueError):
                    status = None
                if status and status.startswith("DOWN") and "down" not in events:
                    events["down"] = time.time()
                time.sleep(0.05)

        attempts, cut = self.run_load(path, secret, "kill", 4, self.args.load_threads,
                                      seconds=self.args.load_seconds, rate=self.args.load_rate,
                                      during=kill_and_watch)
        self.kill_events = events
        # Every attempt, for a closer look (like the fault drill's attempts.jsonl).
        path = os.path.join(self.env.get("CLUSTER_DIR") or os.path.dirname(os.path.abspath(self.args.env)),
                            "attempts.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for event, t in sorted(events.items(), key=lambda e: e[1]):
                f.write(json.dumps({"event": f"web1.{event}", "t": round(t, 4)}) + "\n")
            for a in attempts:
                f.write(json.dumps(a, separators=(",", ":")) + "\n")
        if cut:
            raise self.cut("during check 4's load", "stopped sending; " + self.load_summary(attempts, None))
        self.kill_attempts = attempts

    def evaluate_kill(self, rows, deliveries):
        name = "kill one web process under load"
        attempts, events = self.kill_attempts, self.kill_events
        kill = events["kill"]
        by_key = collections.defaultdict(list)
        for a in attempts:
            by_key[a["key"]].append(a)
        ids_by_key = {k: {a["execution_id"] for a in v if a["status"] == 202} for k, v in by_key.items()}
        accepted_keys = {k for k, ids in ids_by_key.items() if ids}
        refused = {k: a["status"] for k, v in by_key.items() for a in v
                   if a["status"] is not None and a["status"] != 202 and a["status"] not in RETRY_STATUSES}
        unanswered = set(by_key) - accepted_keys - set(refused)
        retried = [k for k, v in by_key.items() if len(v) > 1]
        errors = collections.Counter(a["error"] or a["status"] for a in attempts if a["status"] != 202)
        # Deliveries first sent 2 s or more after the kill: 202 at the first attempt, from web2.
        late = [v for v in by_key.values() if v[0]["t"] >= kill + 2.0]
        late_bad = [v[0] for v in late if not (v[0]["try"] == 1 and v[0]["status"] == 202
                                               and v[0]["served"] == "web2")]
        served_after = collections.Counter(a["served"] for v in late for a in v if a["status"] == 202)
        down_after = events["down"] - kill if "down" in events else None
        # Reconciliation against the database.
        accepted_ids = {i for ids in ids_by_key.values() for i in ids}
        missing = sorted(i for i in accepted_ids if i not in rows)
        not_completed = sorted(i for i in accepted_ids if i in rows and rows[i]["status"] != "completed")
        two_ids = sorted(k for k, ids in ids_by_key.items() if len(ids) > 1)
        rows_per_key = collections.Counter(r["delivery_id"] for r in rows.values()
                                           if r["agent_id"] == self.kill_agent)
        two_rows = sorted(k for k, n in rows_per_key.items() if n > 1)
        unreconciled = sorted(k for k in accepted_keys
                              if deliveries.get((self.kill_agent, k)) not in ids_by_key[k])
        passed = (down_after is not None and late and not late_bad and not missing and not not_completed
                  and not two_ids and not two_rows and not unreconciled and not unanswered and not refused
                  and accepted_keys)
        when = f"{down_after:.2f} s" if down_after is not None else "never"
        figure = (f"web1 DOWN in HAProxy {when} after SIGKILL; {len(late)} deliveries sent 2 s+ after it, "
                  f"{len(late) - len(late_bad)} answered 202 at once by web2; sent {len(by_key)} deliveries in "
                  f"{len(attempts)} attempts, 202 for {len(accepted_keys)}, {len(retried)} retried, errors seen "
                  + (", ".join(f"{k} x{v}" for k, v in sorted(errors.items(), key=str)) or "none")
                  + f"; all {len(accepted_ids) - len(missing) - len(not_completed)} of {len(accepted_ids)} "
                  f"accepted executions completed")
        details = []
        for label, items in (("late deliveries not answered 202 by web2 at once",
                              [f"{a['key']} try {a['try']} {a['status'] or a['error']} {a['served']}"
                               for a in late_bad]),
                             ("202 execution ids missing from agent_executions", missing),
                             ("accepted executions not completed",
                              [f"{i} {rows[i]['status']}" for i in not_completed]),
                             ("deliveries answered with two execution ids", two_ids),
                             ("deliveries with two executions", two_rows),
                             ("accepted deliveries whose webhook_deliveries row names another execution",
                              unreconciled),
                             ("deliveries never answered", sorted(unanswered)),
                             ("definitive refusals", [f"{k} {s}" for k, s in refused.items()])):
            if items:
                details.append(f"{label}: {len(items)}: " + ", ".join(map(str, items[:5]))
                               + (" ..." if len(items) > 5 else ""))
        if not late:
            details.append("no delivery was first sent 2 s after the kill (load too short?)")
        if self.undrained and (missing or not_completed):
            details.append(self.undrained)
        if served_after and set(served_after) != {"web2"}:
            details.append(f"202s after the kill served by {dict(served_after)}")
        lost = len(missing) + len(not_completed) + len(unanswered)
        self.record(4, name, passed, figure, details,
                    short=f"web1 DOWN after {when}; {len(late) - len(late_bad)}/{len(late)} late deliveries 202 at "
                          f"once; {len(accepted_keys)}/{len(by_key)} accepted, {len(retried)} retried, lost {lost}, "
                          f"duplicated {len(two_ids) + len(two_rows)}")

    # -------------------------------------------------------------- 5. exactly once

    def completions_in_logs(self):
        """{log path: Counter(execution_id -> "execution completed" lines)}, and the same
        for "execution run started"."""
        completed, started = {}, {}
        for path in self.env["WORKER_LOGS"].split():
            # The fault drill's reader, one log at a time: each worker's share is reported.
            completed[path], started[path], _ = fault_drill_load.completions_in_logs([path])
        return completed, started

    def evaluate_exactly_once(self, rows):
        name = "exactly once with two worker processes"
        # A worker logs "execution completed" just after the commit that marks the row
        # completed: when the drain saw the last rows completed a moment ago, their lines may
        # still be on their way (a worker descheduled in between, on a loaded machine). Read
        # again for up to --log-wait seconds while a completed row has no line; reading later
        # can only find more lines, so a duplicate is never hidden.
        log_deadline = time.time() + self.args.log_wait
        while True:
            completed, started = self.completions_in_logs()
            total = collections.Counter()
            for c in completed.values():
                total.update(c)
            if time.time() >= log_deadline or all(
                    total[i] for i, r in rows.items() if r["status"] == "completed"):
                break
            time.sleep(0.2)
        logs = list(completed)
        runs = collections.Counter()
        for c in started.values():
            runs.update(c)
        suite_rows = rows  # executions of the suite's agents
        statuses = collections.Counter(r["status"] for r in suite_rows.values())
        not_completed = sorted(i for i, r in suite_rows.items() if r["status"] != "completed")
        missing = sorted(i for i in self.accepted if i not in suite_rows)
        twice = sorted(i for i in suite_rows if total[i] > 1)
        unlogged = sorted(i for i, r in suite_rows.items() if r["status"] == "completed" and total[i] == 0)
        share = {os.path.basename(p): sum(1 for i in suite_rows if completed[p][i]) for p in logs}
        run_again = sorted(i for i in suite_rows if runs[i] > 1)
        n = len(suite_rows)
        min_share = math.ceil(n * self.args.min_share)
        enough = len(logs) >= 2 and all(v >= min_share for v in share.values())
        passed = (n > 0 and not not_completed and not missing and not twice and not unlogged and enough
                  and not self.burst_refused)
        figure = (f"{n} executions ({len(self.accepted)} answered 202 to the suite), "
                  + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
                  + f"; completed twice {len(twice)}, never logged {len(unlogged)}, 202 ids missing {len(missing)}; "
                  + "by worker: " + ", ".join(f"{k.removesuffix('.log')} {v}" for k, v in share.items())
                  + f" (each at least {min_share}); runs started more than once {len(run_again)}")
        details = []
        if self.undrained:
            details.append(self.undrained)
        if self.burst_refused:
            details.append(f"{self.burst_refused} deliveries of the burst never got a 202")
        if len(logs) < 2:
            details.append(f"only {len(logs)} worker log(s): run the cluster with --worker-processes 2")
        for label, items in (("not completed", [f"{i} {suite_rows[i]['status']}" for i in not_completed]),
                             ("202 execution ids missing from agent_executions", missing),
                             ("completed twice (worker logs)", twice),
                             ("completed but never logged", unlogged)):
            if items:
                details.append(f"{label}: {len(items)}: " + ", ".join(items[:5]) + (" ..." if len(items) > 5 else ""))
        self.record(5, name, passed, figure, details,
                    short=f"{n} executions, {statuses['completed']} completed, {len(twice)} twice; "
                          + ", ".join(f"{k.removesuffix('.log')} {v}" for k, v in share.items()))

    # -------------------------------------------------------------- drain, database

    def drain(self):
        """Waits until the suite's executions are neither queued nor running, for at most
        --drain-timeout seconds and not past the suite's deadline; returns the seconds it
        waited and how many were still pending."""
        started = time.time()
        query = (f"select count(*) from agent_executions where agent_id = any({self.agents_sql()}) "
                 f"and status in ('queued', 'running')")
        while True:
            pending = int(self.sql(query)[0][0])
            if pending == 0:
                return time.time() - started, 0
            if time.time() - started > self.args.drain_timeout:
                self.undrained = (f"{pending} executions still queued or running after --drain-timeout "
                                  f"({self.args.drain_timeout:g} s)")
                return time.time() - started, pending
            if self.expired():
                self.undrained = f"{pending} executions still queued or running when {self.deadline_text()}"
                self.deadline_hit = self.deadline_hit or "while the queue drained"
                return time.time() - started, pending
            time.sleep(min(0.25, max(0.0, self.left())))

    def snapshot(self):
        rows = {}
        for id_, agent, delivery, status, attempts in self.sql(
                f"select id, agent_id, coalesce(delivery_id, ''), status, attempts from agent_executions "
                f"where agent_id = any({self.agents_sql()})"):
            rows[id_] = {"agent_id": agent, "delivery_id": delivery, "status": status, "attempts": int(attempts)}
        deliveries = {}
        for agent, delivery, execution in self.sql(
                f"select agent_id, delivery_id, execution_id from webhook_deliveries "
                f"where agent_id = any({self.agents_sql()})"):
            deliveries[(agent, delivery)] = execution
        return rows, deliveries

    # -------------------------------------------------------------- main

    def failure(self, exc, what="could not run"):
        """The figure of a check that raised `exc`."""
        if isinstance(exc, DeadlinePassed):
            self.deadline_hit = self.deadline_hit or "in a check"
            return f"stopped: {exc}" if str(exc) else f"stopped: {self.deadline_text()}"
        return f"{what}: {type(exc).__name__}: {exc}"

    def not_run(self, number, name):
        self.record(number, name, False, f"not run: {self.deadline_text()} before it")

    def out_of_time(self):
        """The deadline passed, or cut a check short (which stops a moment before it)."""
        return self.expired() or self.deadline_hit is not None

    def run(self):
        print(f"cluster {self.cluster} (web1 {self.web1}, web2 {self.web2}), run {self.run_id}, "
              f"deadline {self.args.deadline:g} s", flush=True)
        steps = [
            (1, "rate limit across processes", self.check_rate_limit),
            (2, "regenerate propagates", self.check_regenerate),
            (3, "suspend propagates", self.check_suspend),
        ]
        for number, name, step in steps:
            if self.out_of_time():
                self.not_run(number, name)
                continue
            try:
                step()
            except Exception as exc:  # a check that cannot run fails, the others still run
                self.record(number, name, False, self.failure(exc))
        load_ok = False
        if self.out_of_time():
            self.not_run(5, "exactly once with two worker processes")
        else:
            try:
                self.burst()
                load_ok = True
            except Exception as exc:
                self.record(5, "exactly once with two worker processes", False,
                            self.failure(exc, "could not send the burst"))
        if self.out_of_time():
            self.not_run(4, "kill one web process under load")
        else:
            try:
                self.check_kill()
            except Exception as exc:
                self.record(4, "kill one web process under load", False, self.failure(exc))
                self.kill_attempts = None
        if self.agents and (self.kill_attempts is not None or load_ok):
            took, pending = self.drain()
            if pending:
                print(f"        (queue not drained: {self.undrained})", flush=True)
            else:
                print(f"        (queue drained in {took:.1f} s)", flush=True)
            rows, deliveries = self.snapshot()
            if self.kill_attempts is not None:
                self.evaluate_kill(rows, deliveries)
            if load_ok:
                self.evaluate_exactly_once(rows)
        self.results.sort()
        print()
        print(f"cluster test suite, {time.time() - self.started:.0f} s:")
        print(f"  {'#':<2} {'check':<40} {'result':<6} figure")
        for number, name, passed, short in self.results:
            print(f"  {number:<2} {name:<40} {'PASS' if passed else 'FAIL':<6} {short}")
        failed = [r for r in self.results if not r[2]]
        print(f"verdict: {'FAIL' if failed else 'PASS'} ({len(self.results) - len(failed)} of "
              f"{len(self.results)} checks passed)"
              + (f"; {self.deadline_text()} {self.deadline_hit}" if self.deadline_hit else ""), flush=True)
        return 1 if failed else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_env = os.path.join(os.environ.get("CARGO_TARGET_DIR") or
                               os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target"),
                               "cluster", "cluster.env")
    parser.add_argument("--env", default=default_env, help="cluster.env of the running cluster")
    parser.add_argument("--threads", type=int, default=16, help="senders of checks 1 and 5's burst")
    parser.add_argument("--rate-requests", type=int, default=300, help="deliveries of check 1")
    parser.add_argument("--propagation-ms", type=float, default=200, help="limit of checks 2 and 3")
    parser.add_argument("--propagation-timeout", type=float, default=3, help="seconds checks 2 and 3 poll")
    parser.add_argument("--burst", type=int, default=2000, help="deliveries of check 5's burst")
    parser.add_argument("--load-threads", type=int, default=8, help="senders of check 4")
    parser.add_argument("--load-rate", type=float, default=200, help="new deliveries/s of check 4")
    parser.add_argument("--load-seconds", type=float, default=10, help="length of check 4's load")
    parser.add_argument("--kill-after", type=float, default=3, help="seconds into check 4's load web1 is killed")
    parser.add_argument("--timeout", type=float, default=5, help="seconds per attempt of checks 4 and 5")
    parser.add_argument("--stop-grace", type=float, default=20, help="retry time after the load stopped")
    parser.add_argument("--drain-timeout", type=float, default=90, help="seconds to wait for the queue")
    parser.add_argument("--deadline", type=float, default=150,
                        help="seconds the whole suite may take: past it nothing more is sent and the checks "
                             "not finished fail")
    parser.add_argument("--up-timeout", type=float, default=15,
                        help="seconds check 4 waits for web1 to be UP in HAProxy's stats before the kill")
    parser.add_argument("--log-wait", type=float, default=5,
                        help="seconds check 5 waits for the worker logs' line of a completed execution")
    parser.add_argument("--output", help="also write the output to this file")
    parser.add_argument("--min-share", type=float, default=0.05,
                        help="share of check 5's executions each worker must have completed")
    args = parser.parse_args()
    if args.output:
        out = open(args.output, "w", encoding="utf-8", buffering=1)
        sys.stdout = Tee(sys.stdout, out)
        sys.stderr = Tee(sys.stderr, out)
    try:
        suite = Suite(args)
    except (SetupError, OSError, subprocess.SubprocessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return suite.run()


if __name__ == "__main__":
    sys.exit(main())
