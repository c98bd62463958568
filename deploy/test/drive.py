#!/usr/bin/env python3
"""The checks of deploy/test/containers.sh against the compose stack it brought up (standard library
only): a lifecycle through replica 1 watched live on replica 2, then a write load through both
replicas while replica 1 is killed, replica 2 is drained with SIGTERM, and both are restarted one
after the other. Exits 1 naming every check that failed.

Reads from the environment: DOCKER, COMPOSE_PROJECT, COMPOSE_ENV_FILE, MLA_BROKER_BINARY, MLA_TEST_WORK,
MLA_JWT_HS256_SECRET, MLA_JWT_ISSUER and MLA_BROKER_{1,2}_{HTTP,GRPC}_PORT (deploy/test/containers.sh
sets them). MLA_LOAD_WORKERS (default 4) sets the number of writers.

The load and the feeds talk to the replicas' container addresses on the compose network, as a load
balancer would, not through the ports published on the host's loopback: Docker's userland proxy behind
those accepts a connection even while the replica behind it is down, then drops it, which would make a
call that never reached a broker look like one cut in flight. (The lifecycle uses the published ports.)
Load clients behave as a client behind a load balancer would: each call on a new connection, with an
Idempotency-Key; a call that could not connect, or whose connection broke before the answer, or that
was answered 429/502/503/504, is sent again with the same key, to the other replica. A write is
acknowledged when it is answered 201 (create) or 200 (transition). Event feeds (GET /v1/events, the
gateway's WatchEvents) resume with Last-Event-ID on the other replica when they end.
"""

import datetime
import hashlib
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid

ENV = os.environ
DOCKER = ENV.get("DOCKER", "docker")
BINARY = ENV["MLA_BROKER_BINARY"]
WORK = ENV["MLA_TEST_WORK"]
COMPOSE = ["docker-compose", "--env-file", ENV["COMPOSE_ENV_FILE"], "-p", ENV["COMPOSE_PROJECT"],
           "-f", "deploy/compose.yaml"]
WORKERS = int(ENV.get("MLA_LOAD_WORKERS", "4"))
T0 = time.monotonic()
FAILURES = []


def now():
    return time.monotonic() - T0


def say(message):
    print(f"[drive {now():6.1f}s] {message}", file=sys.stderr, flush=True)


def check(ok, what):
    if not ok:
        FAILURES.append(what)
        say(f"CHECK FAILED: {what}")
    return ok


def run(args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout.strip()


class Replica:
    def __init__(self, n):
        self.name = f"broker-{n}"
        self.http = int(ENV[f"MLA_BROKER_{n}_HTTP_PORT"])
        self.grpc = int(ENV[f"MLA_BROKER_{n}_GRPC_PORT"])
        self.container = run(COMPOSE + ["ps", "-q", self.name])
        self.ip = ""
        self.refresh()

    def refresh(self):
        """The container's address on the compose network; empty while it is not running."""
        self.ip = run([DOCKER, "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                       self.container])

    def target(self, direct):
        return (self.ip, 8080) if direct else ("127.0.0.1", self.http)

    def state(self):
        return run([DOCKER, "inspect", "-f",
                    "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}", self.container])

    def ready(self):
        try:
            status, _, _ = call(self, "GET", "/readyz", None, timeout=2)
            return status == 200
        except (Refused, Cut):
            return False

    def wait_healthy(self, limit=90):
        """Waits for /readyz from the host, then for Docker's healthcheck; returns both delays."""
        started = time.monotonic()
        ready_after = None
        while time.monotonic() - started < limit:
            if ready_after is None and self.ready():
                ready_after = time.monotonic() - started
            if ready_after is not None and self.state() == "running healthy":
                return ready_after, time.monotonic() - started
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not healthy after {limit} s: {self.state()}")

    def exit_code(self):
        return int(run([DOCKER, "inspect", "-f", "{{.State.ExitCode}}", self.container]))


class Refused(Exception):
    """No connection: the call was never sent."""


class Cut(Exception):
    """The connection broke after the call was sent, before its answer: its outcome is unknown."""


def connect(replica, direct, timeout):
    """A connection to the replica: its container address (direct) or its published port."""
    host, port = replica.target(direct)
    if not host:
        raise Refused("not running")
    conn = http.client.HTTPConnection(host, port, timeout=1)
    try:
        conn.connect()
    except OSError as e:
        conn.close()
        raise Refused(repr(e)) from e
    conn.sock.settimeout(timeout)
    return conn


def call(replica, method, path, token, body=None, headers=None, timeout=15, direct=False):
    conn = connect(replica, direct, timeout)
    hs = {"Connection": "close"}
    if token:
        hs["authorization"] = f"Bearer {token}"
    if body is not None:
        body = json.dumps(body).encode()
        hs["content-type"] = "application/json"
    hs.update(headers or {})
    try:
        conn.request(method, path, body=body, headers=hs)
        response = conn.getresponse()
        data = response.read()
        return response.status, response.headers, data
    except (OSError, http.client.HTTPException) as e:
        raise Cut(repr(e)) from e
    finally:
        conn.close()


def api(replica, method, path, token, body=None, headers=None, expect=(200, 201)):
    status, _, data = call(replica, method, path, token, body, headers)
    if status not in expect:
        raise RuntimeError(f"{method} {path} on {replica.name}: {status} {data[:300]!r}")
    return json.loads(data) if data else None


def token(sub, role, partner=None):
    args = [BINARY, "token", "--sub", sub, "--role", role, "--ttl", "2h"]
    if partner:
        args += ["--partner", partner]
    return run(args, env={**ENV, "MLA_DATA_DIR": os.path.join(WORK, "tokens")})


class Feed(threading.Thread):
    """A live event feed (GET /v1/events) that resumes on the next replica when it ends, keeping
    every event, and how each connection ended: `clean` (the stream's end, as a drain ends it),
    `broken` (the connection died), `refused` (could not connect)."""

    def __init__(self, name, token, replicas, direct=True):
        super().__init__(daemon=True)
        self.name, self.token, self.replicas, self.direct = name, token, replicas, direct
        self.events = []  # (cursor, request_id, action, hash) in arrival order
        self.ends = []  # (time, replica, how, detail)
        self.connected = threading.Event()
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.conn = None
        self.current = None

    def last_cursor(self):
        with self.lock:
            return self.events[-1][0] if self.events else None

    def run(self):
        turn = 0
        while not self.stopping.is_set():
            replica = self.replicas[turn % len(self.replicas)]
            turn += 1
            headers = {"authorization": f"Bearer {self.token}", "accept": "text/event-stream"}
            last = self.last_cursor()
            if last is not None:
                headers["Last-Event-ID"] = str(last)
            try:
                conn = connect(replica, self.direct, 60)
            except Refused as e:
                self.ends.append((now(), replica.name, "refused", str(e)))
                time.sleep(0.2)
                continue
            self.conn = conn
            try:
                conn.request("GET", "/v1/events", headers=headers)
                response = conn.getresponse()
                if response.status != 200:
                    self.ends.append((now(), replica.name, f"http {response.status}", response.read()[:200]))
                    time.sleep(0.5)
                    continue
                self.current = replica.name
                self.connected.set()
                how, detail = self.read(response)
                self.ends.append((now(), replica.name, how, detail))
            except (OSError, http.client.HTTPException, ValueError) as e:
                if not self.stopping.is_set():
                    self.ends.append((now(), replica.name, "broken", repr(e)))
            finally:
                self.current = None
                conn.close()

    @staticmethod
    def lines(response):
        """The body's lines. Not readline(): on a chunked body it takes a connection that died before
        the last chunk for the body's end; read1() raises IncompleteRead instead, and returns b""
        only after the terminating chunk."""
        pending = b""
        while True:
            block = response.read1(65536)
            if not block:
                return
            pending += block
            *complete, pending = pending.split(b"\n")
            yield from complete

    def read(self, response):
        data, event_name = [], None
        for raw in self.lines(response):
            line = raw.decode().rstrip("\r")
            if line == "":
                if data:
                    if event_name == "error":
                        return "error event", "\n".join(data)
                    event = json.loads("\n".join(data))
                    with self.lock:
                        self.events.append((event["cursor"], event["request_id"], event["action"], event["hash"]))
                data, event_name = [], None
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "data":
                data.append(value)
            elif field == "event":
                event_name = value
        return "clean", ""

    def stop(self):
        self.stopping.set()
        try:
            if self.conn is not None and self.conn.sock is not None:
                self.conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.join(5)

    def seen(self):
        with self.lock:
            return list(self.events)


def wait_for(predicate, limit):
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


# --- The lifecycle ------------------------------------------------------------------------------------

def lifecycle(r1, r2, tokens):
    say("lifecycle: DRAFT to CLOSED through broker-1 (REST) and a document through broker-2 (gRPC); "
        "feeds on broker-2 for the partner and a judge")
    fr, jud = tokens["fr"], tokens["judge"]
    feeds = {who: Feed(f"lifecycle-{who}", tokens[who], [r2], direct=False) for who in ("fr", "judge")}
    for feed in feeds.values():
        feed.start()
        check(feed.connected.wait(10), f"lifecycle feed {feed.name} connected to broker-2")
    created = api(r1, "POST", "/v1/requests", fr, {
        "request_type": "EVIDENCE", "requesting_authority": "Parquet national antiterroriste",
        "title": "Testimony of witness W-17", "summary_of_facts": "The witness saw the accused in Mosul.",
        "measures": ["Hear witness W-17"], "purpose": "Criminal proceedings", "legal_basis": "UNTOC art. 18",
    }, {"Idempotency-Key": f"lifecycle-{uuid.uuid4()}"})
    rid = created["id"]
    letter = os.path.join(WORK, "letter.txt")
    with open(letter, "w") as f:
        f.write("Demande d'entraide: audition du temoin W-17.\n" * 100)
    uploaded = json.loads(run([BINARY, "document", "upload", "--server", f"http://127.0.0.1:{r2.grpc}",
                               "--request", rid, "--kind", "LETTER_OF_REQUEST", "--title", "Demande",
                               "--language", "fr", letter], env={**ENV, "MLA_TOKEN": fr}))
    with open(letter, "rb") as f:
        check(uploaded["sha256"] == hashlib.sha256(f.read()).hexdigest(),
              "the gRPC upload through broker-2 answers the file's SHA-256")
    steps = [("fr", {"action": "SUBMIT"}), ("registrar", {"action": "ACKNOWLEDGE"}),
             ("legal", {"action": "START_REVIEW"}), ("judge", {"action": "ACCEPT"}),
             ("evidence", {"action": "START_EXECUTION"}),
             ("evidence", {"action": "COMPLETE_EXECUTION", "outcome": "FULL"}), ("fr", {"action": "CLOSE"})]
    state = None
    for who, body in steps:
        state = api(r1, "POST", f"/v1/requests/{rid}/transitions", tokens[who], body)["state"]
    check(state == "CLOSED", f"the lifecycle ends CLOSED (got {state})")
    fetched = os.path.join(WORK, "fetched.txt")
    run([BINARY, "document", "fetch", "--server", f"http://127.0.0.1:{r1.grpc}", "--document", uploaded["id"],
         "--out", fetched], env={**ENV, "MLA_TOKEN": jud})
    with open(fetched, "rb") as f:
        check(hashlib.sha256(f.read()).hexdigest() == uploaded["sha256"],
              "the gRPC fetch through broker-1 returns the document uploaded through broker-2")
    # Both replicas sign with the one key: the receipt verifies against either replica's JWKS.
    for replica in (r1, r2):
        _, _, jwks = call(replica, "GET", "/.well-known/jwks.json", None)
        path = os.path.join(WORK, f"jwks-{replica.name}.json")
        with open(path, "wb") as f:
            f.write(jwks)
        verified = subprocess.run([BINARY, "verify-receipt", "--jwks", path, uploaded["receipt"]],
                                  capture_output=True, text=True)
        check(verified.returncode == 0, f"the receipt verifies against {replica.name}'s JWKS")
    summary = {}
    for who, feed in feeds.items():
        trail = api(r1, "GET", f"/v1/requests/{rid}/events?page_size=500", tokens[who])["events"]
        expected = [(e["cursor"], e["request_id"], e["action"], e["hash"]) for e in trail]
        mine = lambda: [e for e in feed.seen() if e[1] == rid]  # noqa: E731
        wait_for(lambda: len(mine()) >= len(expected), 10)
        check(mine() == expected,
              f"the {who} feed on broker-2 holds exactly the {who}'s trail read on broker-1 "
              f"({len(mine())} events seen, {len(expected)} in the trail)")
        summary[who] = (len(expected), [e[2] for e in expected])
        feed.stop()
    for who, (count, actions) in summary.items():
        say(f"lifecycle: {who}: {count} events in the trail on broker-1, the same {count} (cursor, hash) "
            f"live on broker-2: {' '.join(actions)}")
    return summary


# --- The load and the faults ----------------------------------------------------------------------------

class Load:
    def __init__(self, replicas, fr, marker):
        self.replicas, self.fr, self.marker = replicas, fr, marker
        self.phase = "warm-up"
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.created = {}  # key -> id, acknowledged creations
        self.submitted = set()  # ids whose SUBMIT was acknowledged
        self.outcomes = {}  # (phase, replica, outcome) -> count
        self.unexpected = []
        self.cuts = []  # (time, phase, replica, path, detail, fate)
        self.threads = [threading.Thread(target=self.worker, args=(w,), daemon=True) for w in range(WORKERS)]

    def note(self, replica, outcome):
        with self.lock:
            key = (self.phase, replica.name, outcome)
            self.outcomes[key] = self.outcomes.get(key, 0) + 1

    def send(self, first, method, path, body, key, stamp):
        """Sends one write until it is acknowledged, switching replicas on every failure.

        When a connection broke after the write was sent, the answer to its retry (same key) tells
        what the broker had done with it: its `stamp` time (create_time, submit_time) before the
        break means the broker had performed the write and its answer was lost (a replay answers
        the first outcome); after it, the broker had not performed it and the retry did."""
        turn = first
        cuts = []
        for _ in range(2000):
            replica = self.replicas[turn % 2]
            try:
                status, headers, data = call(replica, method, path, self.fr, body, {"Idempotency-Key": key},
                                             direct=True)
            except Refused:
                self.note(replica, "refused (not sent)")
                turn += 1
                time.sleep(0.05)
                continue
            except Cut as e:
                self.note(replica, "cut in flight")
                cuts.append((now(), time.time(), self.phase, replica.name, str(e)))
                turn += 1
                continue
            if status in (200, 201):
                self.note(replica, "acknowledged")
                answer = json.loads(data)
                if cuts:
                    performed = datetime.datetime.fromisoformat(answer[stamp].replace("Z", "+00:00")).timestamp()
                    with self.lock:
                        for t, wall, phase, name, detail in cuts:
                            fate = ("performed, answer lost" if performed < wall
                                    else "not performed, done by the retry")
                            self.cuts.append((t, phase, name, path, detail, fate))
                return answer
            if status in (429, 502, 503, 504):
                self.note(replica, f"http {status}")
                wait = float(headers.get("Retry-After") or 0.1)
                time.sleep(min(wait, 1.0))
                turn += 1
                continue
            self.note(replica, f"http {status}")
            with self.lock:
                self.unexpected.append((now(), self.phase, replica.name, status, path, data[:300].decode()))
            return None
        return None

    def worker(self, w):
        n = 0
        while not self.stopping.is_set():
            key = f"{self.marker}-{w}-{n}"
            n += 1
            created = self.send(w, "POST", "/v1/requests", {
                "request_type": "EVIDENCE", "requesting_authority": "Tribunal judiciaire de Paris",
                "title": f"Load {self.marker} {key}", "summary_of_facts": "Facts of the case.",
                "measures": ["Bank records"], "purpose": "Criminal proceedings", "legal_basis": "UNTOC art. 18",
            }, key, "create_time")
            if created is None:
                return
            with self.lock:
                self.created[key] = created["id"]
            submitted = self.send(w + 1, "POST", f"/v1/requests/{created['id']}/transitions",
                                  {"action": "SUBMIT"}, f"{key}-submit", "submit_time")
            if submitted is None:
                return
            with self.lock:
                self.submitted.add(created["id"])

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(60)

    def acknowledged(self):
        with self.lock:
            return len(self.created) + len(self.submitted)


class SlowUpload(threading.Thread):
    """A REST upload whose body takes `seconds` to send: a call in flight when SIGTERM arrives."""

    def __init__(self, replica, fr, request_id, seconds=4.0, size=1 << 20):
        super().__init__(daemon=True)
        self.replica, self.fr, self.request_id, self.seconds, self.size = replica, fr, request_id, seconds, size
        self.sending = threading.Event()
        self.result = None

    def run(self):
        content = os.urandom(self.size)
        self.sha256 = hashlib.sha256(content).hexdigest()
        boundary = uuid.uuid4().hex
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n"
                "Content-Type: application/json\r\n\r\n"
                + json.dumps({"kind": "LETTER_OF_REQUEST", "title": "Sent slowly across a SIGTERM"})
                + f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.bin\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n").encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        started = time.monotonic()
        conn = None
        try:
            conn = connect(self.replica, True, 60)
            conn.putrequest("POST", f"/v1/requests/{self.request_id}/documents")
            conn.putheader("authorization", f"Bearer {self.fr}")
            conn.putheader("content-type", f"multipart/form-data; boundary={boundary}")
            conn.putheader("content-length", str(len(head) + len(content) + len(tail)))
            conn.putheader("Idempotency-Key", f"slow-{uuid.uuid4()}")
            conn.endheaders()
            conn.send(head)
            pieces = 20
            step = len(content) // pieces
            for i in range(pieces):
                conn.send(content[i * step:(i + 1) * step if i < pieces - 1 else len(content)])
                self.sending.set()
                time.sleep(self.seconds / pieces)
            conn.send(tail)
            response = conn.getresponse()
            self.result = (response.status, json.loads(response.read() or b"null"), time.monotonic() - started)
        except (Refused, OSError, http.client.HTTPException, ValueError) as e:
            self.result = ("broken", repr(e), time.monotonic() - started)
        finally:
            if conn is not None:
                conn.close()


def faults(r1, r2, tokens):
    fr = tokens["fr"]
    marker = "ld" + uuid.uuid4().hex[:10]
    replicas = [r1, r2]
    feeds = [Feed("feed-a", fr, [r1, r2]), Feed("feed-b", fr, [r2, r1])]
    for feed in feeds:
        feed.start()
        check(feed.connected.wait(10), f"{feed.name} connected")
    # Follow the replicas' addresses as they stop and start (a load balancer's endpoint list).
    following = threading.Event()

    def follow():
        while not following.is_set():
            for replica in replicas:
                try:
                    replica.refresh()
                except subprocess.CalledProcessError:
                    pass
            time.sleep(0.2)
    threading.Thread(target=follow, daemon=True).start()
    load = Load(replicas, fr, marker)
    slow_request = api(r1, "POST", "/v1/requests", fr, {
        "request_type": "EVIDENCE", "requesting_authority": "Parquet", "title": f"Slow upload {marker}",
        "summary_of_facts": "x", "measures": ["x"], "purpose": "Criminal proceedings", "legal_basis": "UNTOC",
    }, {"Idempotency-Key": f"{marker}-slow"})["id"]
    timeline = []

    def mark(phase):
        load.phase = phase
        timeline.append((now(), phase, load.acknowledged()))
        say(f"load: phase {phase} ({load.acknowledged()} writes acknowledged so far)")

    load.start()
    mark("warm-up")
    time.sleep(5)

    # Replica 1 killed: SIGKILL, no drain.
    mark("kill broker-1")
    signals_kill = now()
    run([DOCKER, "kill", r1.container])
    time.sleep(2)
    killed = {"exit_code": r1.exit_code(), "state_after_2s": r1.state()}
    if not r1.state().startswith("running"):
        run([DOCKER, "start", r1.container])
    killed["ready_s"], killed["healthy_s"] = r1.wait_healthy()
    say(f"kill: broker-1 exited {killed['exit_code']}, not restarted by Docker (a `docker kill` counts as a "
        f"manual stop: {killed['state_after_2s']}), started again: /readyz after {killed['ready_s']:.1f} s, "
        f"Docker healthy after {killed['healthy_s']:.1f} s")
    check(killed["exit_code"] == 137, f"docker kill: broker-1 exits 137 (got {killed['exit_code']})")
    mark("steady")
    time.sleep(3)

    # Replica 2 drained: SIGTERM while a slow upload and the load are in flight.
    mark("SIGTERM broker-2")
    slow = SlowUpload(r2, fr, slow_request)
    slow.start()
    slow.sending.wait(10)
    time.sleep(1.0)
    stop_started = time.monotonic()
    signals = {"SIGTERM broker-2": now()}
    run([DOCKER, "stop", "-t", "30", r2.container])
    drained = {"stop_s": time.monotonic() - stop_started, "exit_code": r2.exit_code()}
    slow.join(60)
    logs = subprocess.run([DOCKER, "logs", "--tail", "5", r2.container], capture_output=True, text=True)
    drained["log_says_drained"] = "mla-broker stopped after draining" in (logs.stdout + logs.stderr)
    run([DOCKER, "start", r2.container])
    drained["ready_s"], drained["healthy_s"] = r2.wait_healthy()
    status, document, took = slow.result
    say(f"SIGTERM: broker-2 stopped in {drained['stop_s']:.1f} s with exit code {drained['exit_code']} "
        f"(log: stopped after draining = {drained['log_says_drained']}); the upload in flight, 1 MiB sent over "
        f"4 s from 1 s before the signal, was answered {status} after {took:.1f} s; "
        f"started again: /readyz after {drained['ready_s']:.1f} s")
    check(drained["exit_code"] == 0, f"SIGTERM: broker-2 exits 0 (got {drained['exit_code']})")
    check(drained["log_says_drained"], "SIGTERM: broker-2 logs `mla-broker stopped after draining`")
    check(status == 201 and document and document.get("sha256") == slow.sha256,
          f"SIGTERM: the upload in flight on broker-2 finished with 201 and its SHA-256 (got {status} {document})")
    if status == 201:
        check(api(r1, "GET", f"/v1/documents/{document['id']}", fr)["sha256"] == slow.sha256,
              "SIGTERM: the document uploaded across the drain is readable through broker-1")
    mark("steady")
    time.sleep(3)

    # Rolling restart: one replica at a time, the next once the first is healthy again.
    rolling = {}
    for replica in replicas:
        mark(f"rolling restart {replica.name}")
        started = time.monotonic()
        signals[f"rolling restart {replica.name}"] = now()
        run([DOCKER, "stop", "-t", "30", replica.container])
        stop_s = time.monotonic() - started
        code = replica.exit_code()
        run([DOCKER, "start", replica.container])
        ready_s, healthy_s = replica.wait_healthy()
        rolling[replica.name] = {"stop_s": stop_s, "exit_code": code, "ready_s": ready_s, "healthy_s": healthy_s}
        say(f"rolling: {replica.name} stopped (SIGTERM) in {stop_s:.1f} s, exit {code}; /readyz after "
            f"{ready_s:.1f} s, Docker healthy after {healthy_s:.1f} s")
        check(code == 0, f"rolling restart: {replica.name} exits 0 on SIGTERM (got {code})")
    mark("steady")
    time.sleep(3)
    mark("stopping")
    load.stop()
    following.set()
    signals["kill broker-1"] = signals_kill
    load_seconds = now() - timeline[0][0]

    # Every acknowledged write is there, once.
    ids = dict(load.created)
    say(f"load: {len(ids)} creations and {len(load.submitted)} submissions acknowledged over {load_seconds:.0f} s "
        f"by {WORKERS} writers; checking each through both replicas")
    missing, wrong_state = [], []
    for i, (key, rid) in enumerate(sorted(ids.items())):
        replica = replicas[i % 2]
        status, _, data = call(replica, "GET", f"/v1/requests/{rid}", fr)
        if status == 429:
            time.sleep(0.5)
            status, _, data = call(replica, "GET", f"/v1/requests/{rid}", fr)
        if status != 200:
            missing.append((key, rid, status))
            continue
        got = json.loads(data)
        if rid in load.submitted and got["state"] != "SUBMITTED":
            wrong_state.append((rid, got["state"]))
    check(not missing, f"every acknowledged creation is readable ({len(missing)} missing: {missing[:5]})")
    check(not wrong_state, f"every acknowledged submission is SUBMITTED ({wrong_state[:5]})")
    listed, page = [], ""
    while True:
        answer = api(r2, "GET", f"/v1/requests?query={marker}&page_size=500" + (f"&page_token={page}" if page else ""), fr)
        listed += [r for r in answer["requests"] if r["title"].startswith(f"Load {marker} ")]
        page = answer["next_page_token"]
        if not page:
            break
    titles = [r["title"] for r in listed]
    check(len(titles) == len(set(titles)) == len(ids),
          f"no duplicate: {len(titles)} load requests listed, {len(set(titles))} distinct keys, {len(ids)} acknowledged")
    check(not load.unexpected, "no answer but 2xx, 429 and 5xx unavailable: "
          + "; ".join(str(u) for u in load.unexpected[:8]))
    # A SIGTERM drains: no write the broker performed may lose its answer. (A connection reset at the
    # very instant the broker stops accepting, whose write it never performed, is reported below.)
    lost = [c for c in load.cuts if c[5].startswith("performed") and not c[1].startswith("kill")]
    check(not lost, f"SIGTERM: no performed write lost its answer ({lost[:5]})")

    # The feeds: every event, once, in order, across every reconnection.
    expected_creates = set(ids.values())
    for feed in feeds:
        def complete():
            seen = feed.seen()
            return (expected_creates <= {e[1] for e in seen if e[2] == "CREATE"}
                    and load.submitted <= {e[1] for e in seen if e[2] == "SUBMIT"})
        wait_for(complete, 20)
    full = Feed("full", fr, [r1])
    full.start()
    full.connected.wait(10)
    wait_for(lambda: len(full.seen()) >= max(len(f.seen()) for f in feeds), 20)
    time.sleep(1)
    full.stop()
    reference = full.seen()
    for feed in feeds:
        feed.stop()
        seen = feed.seen()
        cursors = [e[0] for e in seen]
        check(cursors == sorted(set(cursors)), f"{feed.name}: cursors strictly increasing, none twice")
        check(seen == reference[:len(seen)] and len(seen) == len(reference),
              f"{feed.name}: the same {len(reference)} events as a fresh feed read from the start "
              f"(it saw {len(seen)})")
        check(expected_creates <= {e[1] for e in seen if e[2] == "CREATE"}
              and load.submitted <= {e[1] for e in seen if e[2] == "SUBMIT"},
              f"{feed.name}: a CREATE for every acknowledged creation and a SUBMIT for every acknowledged submission")
        ends = [(round(t, 1), r, how) for t, r, how, _ in feed.ends]
        say(f"{feed.name}: {len(seen)} events; connections ended: {ends}")
    # How the feeds' connections ended at each fault.
    phase_at = lambda t: [p for s, p, _ in timeline if s <= t][-1]  # noqa: E731
    end_kinds = {}
    for feed in feeds:
        for t, replica, how, _ in feed.ends:
            end_kinds.setdefault((phase_at(t), replica, how), 0)
            end_kinds[(phase_at(t), replica, how)] += 1
    for (phase, replica, how), count in sorted(end_kinds.items()):
        if how not in ("clean", "refused") and not phase.startswith("kill"):
            check(False, f"a feed on {replica} ended `{how}` during `{phase}`: only a kill may break one")
    drained_clean = any(how == "clean" and replica == "broker-2" and phase.startswith("SIGTERM")
                        for (phase, replica, how) in end_kinds)
    check(drained_clean, "SIGTERM: the feed on broker-2 ended cleanly (the stream's end, not a broken connection)")

    say("load outcomes per phase (replica: outcome count):")
    phases = []
    for _, phase, _ in timeline:
        if phase not in phases:
            phases.append(phase)
    for phase in phases:
        row = ", ".join(f"{r} {o} {c}" for (p, r, o), c in sorted(load.outcomes.items()) if p == phase)
        say(f"  {phase:28} {row}")
    say("feed connection ends per phase: " + "; ".join(f"{p} / {r}: {h} x{c}" for (p, r, h), c in sorted(end_kinds.items())))
    if load.cuts:
        say("writes whose connection broke after sending (each sent again with its key; time from `docker "
            "kill`/`docker stop`):")
        for t, phase, replica, path, detail, fate in sorted(load.cuts)[:20]:
            since = t - signals[phase] if phase in signals else float("nan")
            say(f"  {phase}: {replica} {since:+.3f} s POST {path}: {detail}: {fate}")
    return {"acknowledged_creations": len(ids), "acknowledged_submissions": len(load.submitted),
            "listed": len(titles), "killed": killed, "drained": drained, "rolling": rolling,
            "outcomes": {" / ".join(k): v for k, v in load.outcomes.items()},
            "cuts": [{"phase": c[1], "replica": c[2], "path": c[3], "error": c[4], "fate": c[5]} for c in load.cuts],
            "feed_ends": {" / ".join(k): v for k, v in end_kinds.items()},
            "events_in_feed": len(reference), "load_seconds": load_seconds}


def main():
    r1, r2 = Replica(1), Replica(2)
    tokens = {
        "admin": token("root", "admin"), "fr": token("fr-system", "partner", "FR-MOJ"),
        "registrar": token("rana", "registrar"), "legal": token("layla", "legal_officer"),
        "judge": token("amal", "judge"), "evidence": token("omar", "evidence_officer"),
    }
    api(r1, "POST", "/v1/partners", tokens["admin"], {
        "code": "FR-MOJ", "name": "Ministère de la Justice", "country": "FR", "kind": "STATE_AUTHORITY",
        "legal_bases": ["UNTOC"], "active": True})
    results = {"lifecycle": lifecycle(r1, r2, tokens)}
    results["faults"] = faults(r1, r2, tokens)
    with open(os.path.join(WORK, "results.json"), "w") as f:
        json.dump(results, f, indent=2, default=str)
    if FAILURES:
        say(f"{len(FAILURES)} check(s) failed:")
        for failure in FAILURES:
            say(f"  - {failure}")
        sys.exit(1)
    say("all checks passed")


if __name__ == "__main__":
    main()
