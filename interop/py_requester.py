#!/usr/bin/env python3
"""Interop requester: a Python service built on the PyPI package ``kafka-broker``.

It produces ``interop.echo`` EventObjects to another service's topic with the
package's own ``broker_manager.produce``, awaits each reply through the
package's ``consumer_storage.consume(correlation_id)`` and checks the reply:

* correlation ID equal (JSON field, and the Kafka key: the package's storage
  is keyed by the record key, so a reply with another key is never found);
* status ``"completed"``;
* data equal (types included) to ``{"echo": <request data>, "handled_by": <responder>}``;
  with ``--expect-error CODE``, an error reply instead: status ``"error"`` and data
  ``{"message": <text>, "status_code": CODE, "payload": <request data>, "fields": [{"field", "tag",
  "message"}, ...]}``, the shape of the package's own ``EventObject.as_reply`` plus the fields;
* audit log of exactly two entries: ours (location = our location, the
  responder set ``time_received``) and the responder's (location = responder
  location, our consumer set ``time_received``), times as integer unix seconds.

Exit codes: 0 all replies correct, 1 a reply was wrong or missing,
2 setup failed (memcached unreachable, consumer never assigned, ...).

Configuration (flags override env):
  KAFKA_BOOTSTRAP_SERVERS  default 127.0.0.1:9092
  MEMCACHED_ADDRESS        host:port of the memcached the package writes to (default 127.0.0.1:11211)
  INTEROP_TARGET_TOPIC     topic of the responder (or first positional argument)
  KAFKA_LOCATION           our location = the topic we consume replies from (default py-requester)
  KAFKA_GROUP_ID           our consumer group (default: our location)
  INTEROP_RESPONDER_LOCATION  expected location in the responder's audit entry (default: target topic)
  INTEROP_HANDLED_BY       expected data.handled_by (default go)
  INTEROP_TIMEOUT          seconds to wait for each reply (default 30)
  INTEROP_COUNT            number of requests (default 3)
  INTEROP_LOG_LEVEL        level of the package's logging (default 30 = WARNING)
  INTEROP_POISON           comma-separated bad records to produce first, not awaited (default none):
                           nan = data holding float("nan"), which the package encodes as the
                           invalid JSON literal NaN

stdout, one line each: READY ... consumer_pid=<pid>, then POISON <cid> <kind> topic=<t> per bad
record, SENT <cid> event=<e> topic=<t> data=<json> per request (json: sorted keys, ASCII,
compact; always the rest of the line), OK <cid> ... or FAIL: ... per reply, and finally
PASS: N passed, M failed or FAIL: N passed, M failed.

The package reads its configuration only from ./broker_config.ini (it creates
one when missing), at import time. This script writes that file in a private
working directory (INTEROP_WORKDIR, default a fresh temp dir) and changes into
it before importing ``kafka_broker``.
"""
from __future__ import annotations

import argparse
import asyncio
import configparser
import copy
import json
import math
import os
import shutil
import signal
import socket
import sys
import tempfile
import traceback
import time
from typing import NoReturn
import uuid

PAYLOAD = {
    "text": "café ☕ 日本",
    "astral": "emoji 🚀 outside the BMP",
    "escapes": 'quote " backslash \\ newline \n tab \t html <b>&amp;</b>',
    "nested": {"a": {"b": [1, 2, {"c": None, "d": "ü"}]}, "empty_obj": {}, "empty_list": []},
    "list": [1, "two", 3.5, True, False, None, {"k": "v"}, []],
    "null": None,
    "int": 42,
    "negative": -7,
    "zero": 0,
    "big_int": 9007199254740993,  # 2**53 + 1: lost by anything that decodes numbers as float64
    "float": 3.14159,
    "small_float": 1e-07,
    "bool_true": True,
    "bool_false": False,
    "empty_string": "",
    "ключ ñ": "unicode key",
}


# Records the package produces without complaint but that are not valid for a JSON consumer.
POISON = {
    # json.dumps(allow_nan=True) writes the literal NaN: not JSON (RFC 8259), Go rejects it.
    "nan": lambda: {"value": float("nan"), "note": "kafka-broker encodes float('nan') as NaN"},
}


def log(msg: str) -> None:
    try:
        print(msg, flush=True)
    except OSError:  # stdout is gone (BrokenPipeError: whoever read it died); keep shutting down
        pass


def fail(msg: str, code: int = 1) -> NoReturn:
    log(f"FAIL: {msg}")
    raise SystemExit(code)


def parse_args() -> argparse.Namespace:
    def env(name: str, default: str | None = None) -> str | None:
        return os.environ.get(name) or default  # set but empty = unset

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("topic", nargs="?", default=env("INTEROP_TARGET_TOPIC"),
                   help="topic (Location) of the responder")
    p.add_argument("--location", default=env("KAFKA_LOCATION", "py-requester"))
    p.add_argument("--group-id", default=env("KAFKA_GROUP_ID"))
    p.add_argument("--responder-location", default=env("INTEROP_RESPONDER_LOCATION"))
    p.add_argument("--handled-by", default=env("INTEROP_HANDLED_BY", "go"))
    p.add_argument("--event", default=env("INTEROP_EVENT", "interop.echo"))
    p.add_argument("--timeout", type=float, default=float(env("INTEROP_TIMEOUT", "30")))
    p.add_argument("--count", type=int, default=int(env("INTEROP_COUNT", "3")))
    p.add_argument("--ready-timeout", type=float, default=float(env("INTEROP_READY_TIMEOUT", "60")))
    p.add_argument("--partitions", type=int, default=int(env("INTEROP_PARTITIONS", "3")))
    p.add_argument("--expect-error", type=int, default=int(env("INTEROP_EXPECT_ERROR", "0")),
                   help="expect error replies with this status_code (and field errors) instead of echoes")
    p.add_argument("--poison", default=env("INTEROP_POISON", ""),
                   help="comma-separated bad records to produce before the requests: nan")
    a = p.parse_args()
    a.poison = [k.strip() for k in a.poison.split(",") if k.strip()]
    unknown = set(a.poison) - set(POISON)
    if unknown:
        p.error(f"unknown --poison kinds {sorted(unknown)}; known: {sorted(POISON)}")
    if not a.topic:
        p.error("target topic missing: pass it as argument or set INTEROP_TARGET_TOPIC")
    a.group_id = a.group_id or a.location
    a.responder_location = a.responder_location or a.topic
    return a


# ---------------------------------------------------------------- setup helpers
# (duplicated in py_responder.py on purpose: each script stands alone)

def memcached_address() -> tuple[str, str]:
    host, _, port = os.environ.get("MEMCACHED_ADDRESS", "127.0.0.1:11211").rpartition(":")
    return host or "127.0.0.1", port or "11211"


def check_memcached() -> None:
    # kafka_broker's produce() writes every event to memcached *after* sending it and
    # raises when memcached is down, so a missing memcached looks like a producer crash.
    host, port = memcached_address()
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
    except OSError as exc:
        fail(f"memcached not reachable at {host}:{port} ({exc}); kafka-broker needs it "
             "(start one: memcached -u root -l 127.0.0.1 -p 11211 -d)", 2)


def write_package_config(location: str, group_id: str) -> str:
    """Write ./broker_config.ini for kafka_broker in a private dir; return that dir."""
    workdir = os.environ.get("INTEROP_WORKDIR") or tempfile.mkdtemp(prefix="kb-interop-")
    os.makedirs(workdir, exist_ok=True)
    host, port = memcached_address()
    cp = configparser.ConfigParser(interpolation=None)
    cp["general"] = {"current_location": location}
    cp["kafka.default"] = {"bootstrap.servers": os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")}
    cp["kafka.consumer"] = {"auto.offset.reset": "earliest", "group.id": group_id}
    cp["kafka.producer"] = {}
    cp["logging"] = {"log_level": os.environ.get("INTEROP_LOG_LEVEL", "30")}
    cp["memcached"] = {"cache_location": host, "cache_port": port}
    with open(os.path.join(workdir, "broker_config.ini"), "w") as f:
        cp.write(f)
    os.chdir(workdir)
    return workdir


def ensure_topics(admin, topics: list[str], partitions: int) -> None:
    # The package's consumer subscribes to current_location but a librdkafka consumer
    # never creates the topic it subscribes to, so create the topics up front.
    from confluent_kafka.admin import NewTopic
    from confluent_kafka import KafkaError

    futures = admin.create_topics([NewTopic(t, partitions, 1) for t in topics], operation_timeout=10)
    for topic, fut in futures.items():
        try:
            fut.result(timeout=15)
        except Exception as exc:  # noqa: BLE001
            err = exc.args[0] if exc.args else None
            if getattr(err, "code", lambda: None)() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            fail(f"creating topic {topic!r}: {exc}", 2)


def wait_assigned(admin, group_id: str, topic: str, consumer_proc, timeout: float) -> None:
    """Wait until the package's consumer (a child process) holds partitions of topic."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not consumer_proc.is_alive():
            fail(f"kafka_broker consumer process exited (exitcode {consumer_proc.exitcode})", 2)
        try:
            desc = admin.describe_consumer_groups([group_id], request_timeout=5)[group_id].result()
            assigned = [tp for m in desc.members for tp in m.assignment.topic_partitions if tp.topic == topic]
            last = f"state={desc.state} members={len(desc.members)} assigned={len(assigned)}"
            if assigned:
                return
        except Exception as exc:  # noqa: BLE001
            last = str(exc)
        time.sleep(0.3)
    fail(f"consumer group {group_id!r} got no partitions of {topic!r} within {timeout}s ({last})", 2)


class _AfterForkHook:
    """register_after_fork() holds its key weakly; this module-level instance keeps it alive."""


_AFTER_FORK_HOOK = _AfterForkHook()


def stop_consumer_with_us() -> None:
    """Make the package's forked consumer process get SIGINT (-> KeyboardInterrupt -> it closes
    its consumer) when we die, even by SIGKILL: otherwise it runs on forever as an orphan,
    still a member of the consumer group. Linux only (prctl PR_SET_PDEATHSIG); best effort."""
    import ctypes
    import multiprocessing.util

    parent = os.getpid()

    def arm(_hook) -> None:
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGINT))  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            return
        if os.getppid() != parent:  # parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGINT)

    multiprocessing.util.register_after_fork(_AFTER_FORK_HOOK, arm)


def stop_consumer(proc) -> None:
    # The package's consumer loop only ends on KeyboardInterrupt (then it closes the
    # consumer: commit + leave group). SIGINT it; kill it if that does not work.
    if proc is None or not proc.is_alive():
        return
    try:
        os.kill(proc.pid, signal.SIGINT)
        proc.join(10)
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join(5)


# ---------------------------------------------------------------- checks

def strict_diff(want, got, path="data") -> str | None:
    """First difference between two JSON values, types included (1 != 1.0 != True)."""
    if type(want) is not type(got):
        return f"{path}: type {type(got).__name__} ({got!r}), want {type(want).__name__} ({want!r})"
    if isinstance(want, dict):
        if want.keys() != got.keys():
            return f"{path}: keys {sorted(got)}, want {sorted(want)}"
        for k in want:
            d = strict_diff(want[k], got[k], f"{path}[{k!r}]")
            if d:
                return d
        return None
    if isinstance(want, list):
        if len(want) != len(got):
            return f"{path}: length {len(got)}, want {len(want)}"
        for i, (w, g) in enumerate(zip(want, got)):
            d = strict_diff(w, g, f"{path}[{i}]")
            if d:
                return d
        return None
    if isinstance(want, float):
        return None if math.isclose(want, got, rel_tol=0, abs_tol=0) else f"{path}: {got!r}, want {want!r}"
    return None if want == got else f"{path}: {got!r}, want {want!r}"


def check_unix_seconds(value, what: str, lo: float, hi: float) -> list[str]:
    if type(value) is not int:
        return [f"{what} = {value!r} ({type(value).__name__}), want an int (unix seconds)"]
    if not (lo - 2 <= value <= hi + 2):
        unit = " (milliseconds?)" if value > 10**11 else ""
        return [f"{what} = {value} not within [{int(lo)}, {int(hi)}]{unit}"]
    return []


def check_reply(args, cid: str, payload: dict, reply, t_before: float, t_after: float) -> list[str]:
    errs: list[str] = []
    if str(reply.correlation_id) != cid or not isinstance(reply.correlation_id, str):
        errs.append(f"correlation_id {reply.correlation_id!r}, want {cid!r}")
    if args.expect_error:
        errs += check_error_data(args, payload, reply)
        want_data = reply.data
    else:
        if reply.status != "completed":
            errs.append(f"status {reply.status!r}, want 'completed'")
        want_data = {"echo": payload, "handled_by": args.handled_by}
        d = strict_diff(want_data, reply.data)
        if d:
            errs.append(d)

    audit = reply.audit_log
    if not isinstance(audit, list) or len(audit) != 2:
        errs.append(f"audit_log should hold 2 entries (request hop, reply hop), got {audit!r}")
        return errs
    mine, theirs = audit
    for i, entry in enumerate(audit):
        if not isinstance(entry, dict):
            errs.append(f"audit_log[{i}] is {type(entry).__name__}, want an object")
            return errs
        missing = {"data", "event", "location", "time_sent", "time_received"} - entry.keys()
        if missing:
            errs.append(f"audit_log[{i}] misses {sorted(missing)}")
    if errs:
        return errs

    if mine["location"] != args.location:
        errs.append(f"audit_log[0].location {mine['location']!r}, want {args.location!r}")
    if mine["event"] != args.event:
        errs.append(f"audit_log[0].event {mine['event']!r}, want {args.event!r}")
    d = strict_diff(payload, mine["data"], "audit_log[0].data")
    if d:
        errs.append(d)
    errs += check_unix_seconds(mine["time_sent"], "audit_log[0].time_sent", t_before, t_after)
    if mine["time_received"] is None:
        errs.append("audit_log[0].time_received is null: the responder must set it when it consumes")
    else:
        errs += check_unix_seconds(mine["time_received"], "audit_log[0].time_received", t_before, t_after)

    if theirs["location"] != args.responder_location:
        errs.append(f"audit_log[1].location {theirs['location']!r}, want {args.responder_location!r}")
    if theirs["event"] != reply.event:
        errs.append(f"audit_log[1].event {theirs['event']!r}, want the reply's event {reply.event!r}")
    d = strict_diff(want_data, theirs["data"], "audit_log[1].data")
    if d:
        errs.append(d)
    errs += check_unix_seconds(theirs["time_sent"], "audit_log[1].time_sent", t_before, t_after)
    errs += check_unix_seconds(theirs["time_received"], "audit_log[1].time_received", t_before, t_after)
    if type(mine["time_sent"]) is int and type(theirs["time_sent"]) is int and theirs["time_sent"] < mine["time_sent"]:
        errs.append(f"reply time_sent {theirs['time_sent']} before request time_sent {mine['time_sent']}")
    return errs


def check_error_data(args, payload: dict, reply) -> list[str]:
    """An error reply as the package's as_reply() shapes one, plus the fields at fault."""
    errs: list[str] = []
    if reply.status != "error":
        errs.append(f"status {reply.status!r}, want 'error'")
    data = reply.data
    if not isinstance(data, dict):
        return errs + [f"data is {type(data).__name__}, want an object"]
    if not isinstance(data.get("message"), str) or not data["message"]:
        errs.append(f"data.message {data.get('message')!r}, want a text")
    if data.get("status_code") != args.expect_error or type(data.get("status_code")) is not int:
        errs.append(f"data.status_code {data.get('status_code')!r}, want {args.expect_error}")
    d = strict_diff(payload, data.get("payload"), "data.payload")
    if d:
        errs.append(d)
    fields = data.get("fields")
    if not isinstance(fields, list) or not fields:
        errs.append(f"data.fields {fields!r}, want a non-empty list")
    else:
        for i, f in enumerate(fields):
            if not isinstance(f, dict) or not all(isinstance(f.get(k), str) and f.get(k) for k in ("field", "tag", "message")):
                errs.append(f"data.fields[{i}] {f!r}, want {{field, tag, message}} texts")
    return errs


# ---------------------------------------------------------------- main

async def run(args, broker_manager, EventObject, consumer_proc) -> int:
    storage = broker_manager.consumer_storage
    sent: list[tuple[str, dict]] = []
    t_before = time.time()
    for kind in args.poison:
        cid = str(uuid.uuid4())
        broker_manager.produce(args.topic, EventObject(correlation_id=cid, event=args.event, data=POISON[kind]()))
        log(f"POISON {cid} {kind} topic={args.topic}")
    for i in range(args.count):
        payload = copy.deepcopy(PAYLOAD)
        payload["seq"] = i
        cid = str(uuid.uuid4())
        ev = EventObject(correlation_id=cid, event=args.event, data=copy.deepcopy(payload))
        broker_manager.produce(args.topic, ev)  # blocking: new Producer, produce, flush
        log(f"SENT {cid} event={args.event} topic={args.topic} "
            f"data={json.dumps(payload, sort_keys=True, separators=(',', ':'))}")
        sent.append((cid, payload))

    failures = 0
    for cid, payload in sent:
        remaining = max(0.1, args.timeout - (time.time() - t_before))
        try:
            reply = await asyncio.wait_for(storage.consume(cid), remaining)
        except asyncio.TimeoutError:  # before OSError: in 3.11 it is builtins.TimeoutError
            failures += 1
            others = {k: getattr(v, "correlation_id", None) for k, v in storage.storage.items()}
            log(f"FAIL: no reply for {cid} within {args.timeout}s on topic {args.location!r}; "
                f"unmatched records in storage (kafka key -> correlation_id): {others}"
                " (the package finds a reply by its Kafka key, not its JSON correlation_id)")
            continue
        except (EOFError, OSError):  # the consumer process died and closed its end of the pipe
            consumer_proc.join(5)
            failures += 1
            log(f"FAIL: no reply for {cid}: the kafka_broker consumer process died (exitcode "
                f"{consumer_proc.exitcode}); it dies on a record it cannot handle: null key or "
                "value, invalid JSON, missing or empty audit_log (see its traceback on stderr)")
            continue
        errs = check_reply(args, cid, payload, reply, t_before, time.time())
        if errs:
            failures += 1
            log(f"FAIL: reply {cid}:\n  - " + "\n  - ".join(errs))
        else:
            fields = reply.data.get("fields") if isinstance(reply.data, dict) else None
            log(f"OK {cid} status={reply.status} event={reply.event} "
                f"hops={[e['location'] for e in reply.audit_log]}"
                + (f" fields={json.dumps(fields, sort_keys=True, separators=(',', ':'))}" if fields else ""))

    ok = args.count - failures
    log(f"{'PASS' if not failures else 'FAIL'}: {ok} passed, {failures} failed")
    return 0 if not failures else 1


def main() -> int:
    args = parse_args()
    check_memcached()
    own_workdir = not os.environ.get("INTEROP_WORKDIR")
    workdir = write_package_config(args.location, args.group_id)

    # Imported only now: importing kafka_broker builds broker_manager from ./broker_config.ini.
    from confluent_kafka.admin import AdminClient
    from kafka_broker import EventObject, broker_manager

    admin = AdminClient({"bootstrap.servers": os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")})
    ensure_topics(admin, sorted({args.location, args.topic}), args.partitions)

    consumer_proc = None
    code = 2
    try:
        # The forked consumer inherits this: it must turn SIGINT into KeyboardInterrupt (its only
        # way out) even when we were started with SIGINT ignored (background job of a shell).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        stop_consumer_with_us()
        consumer_proc = broker_manager.init_consumer()  # multiprocessing.Process running the consumer
        wait_assigned(admin, args.group_id, args.location, consumer_proc, args.ready_timeout)
        log(f"READY location={args.location} group={args.group_id} target={args.topic} "
            f"consumer_pid={consumer_proc.pid}")
        # Not asyncio.run(): its shutdown waits for the default executor, and a timed-out
        # consume() leaves an executor thread blocked in Pipe.recv() until the consumer dies.
        loop = asyncio.new_event_loop()
        code = loop.run_until_complete(run(args, broker_manager, EventObject, consumer_proc))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 2
    finally:
        stop_consumer(consumer_proc)
        if own_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    return code


def flush_quietly() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:
            pass


if __name__ == "__main__":
    try:
        rc = main()
    except BaseException:  # noqa: BLE001 - whatever happens, end through os._exit below
        try:
            traceback.print_exc()
        except OSError:
            pass
        rc = 2
    flush_quietly()
    # os._exit: a timed-out consume() leaves an executor thread blocked in Pipe.recv()
    # (the package never closes the pipe), which would hang interpreter shutdown.
    os._exit(rc)
