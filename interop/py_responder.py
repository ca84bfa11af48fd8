#!/usr/bin/env python3
"""Interop responder: a Python service built on the PyPI package ``kafka-broker``.

It consumes its Location topic with the package's consumer (``broker_manager.init_consumer``
+ ``consumer_storage``), routes each event with the package's ``EventRouter``
(``interop.echo`` = bind ``echo`` in the router ``interop``), and replies the way the
package's README does: set ``event = "respond"``, ``status = "completed"``, ``data =
{"echo": <request data>, "handled_by": "python"}`` and ``broker_manager.produce(...)``
to the location of the request's last audit entry (the sender's own topic).

Before routing, each request is checked the way a Python service sees it: Kafka key equal to
the correlation ID, data a JSON object, and a last audit entry (the sender's hop) with a
location, integer unix-second ``time_sent`` and a ``time_received`` our consumer set.

stdout, one line each:
  READY location=<l> group=<g> consumer_pid=<pid>
                                 once the consumer group holds partitions of the topic; pid is the
                                 package's forked consumer process
  HANDLED <correlation_id> <event> -> <topic> data=<json>
                                 a reply was produced; <json> is the request data as Python decoded
                                 it (sorted keys, ASCII, compact; always the rest of the line)
  INVALID <correlation_id> <event>: <problem>; <problem>...
                                 the request failed the checks above (it is still routed)
  UNHANDLED <correlation_id> <event>             no route matched, or the handler raised
  STOPPED handled=<n>            on SIGTERM/SIGINT or after --max events

Configuration (flags override env):
  KAFKA_BOOTSTRAP_SERVERS  default 127.0.0.1:9092
  MEMCACHED_ADDRESS        host:port of the memcached the package writes to (default 127.0.0.1:11211)
  KAFKA_LOCATION           our location = the topic we consume (default py-responder)
  KAFKA_GROUP_ID           our consumer group (default: our location)
  INTEROP_MAX              stop after this many handled events (default 0 = run until SIGTERM)
  INTEROP_LOG_LEVEL        level of the package's logging (default 30 = WARNING)
  INTEROP_WORKDIR          where broker_config.ini is written (default a fresh temp dir)
"""
from __future__ import annotations

import argparse
import asyncio
import configparser
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import traceback
import time
from typing import NoReturn


def log(msg: str) -> None:
    try:
        print(msg, flush=True)
    except OSError:  # stdout is gone (BrokenPipeError: whoever read it died); keep shutting down
        pass


def fail(msg: str, code: int = 2) -> NoReturn:
    log(f"FAIL: {msg}")
    raise SystemExit(code)


def parse_args() -> argparse.Namespace:
    def env(name: str, default: str | None = None) -> str | None:
        return os.environ.get(name) or default  # set but empty = unset

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--location", default=env("KAFKA_LOCATION", "py-responder"))
    p.add_argument("--group-id", default=env("KAFKA_GROUP_ID"))
    p.add_argument("--max", type=int, default=int(env("INTEROP_MAX", "0")),
                   help="stop after N handled events (0: until SIGTERM)")
    p.add_argument("--ready-timeout", type=float, default=float(env("INTEROP_READY_TIMEOUT", "60")))
    p.add_argument("--partitions", type=int, default=int(env("INTEROP_PARTITIONS", "3")))
    a = p.parse_args()
    a.group_id = a.group_id or a.location
    return a


# ---------------------------------------------------------------- setup helpers
# (duplicated in py_requester.py on purpose: each script stands alone)

def memcached_address() -> tuple[str, str]:
    host, _, port = os.environ.get("MEMCACHED_ADDRESS", "127.0.0.1:11211").rpartition(":")
    return host or "127.0.0.1", port or "11211"


def check_memcached() -> None:
    # kafka_broker's produce() writes every event to memcached *after* sending it and
    # raises when memcached is down.
    host, port = memcached_address()
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
    except OSError as exc:
        fail(f"memcached not reachable at {host}:{port} ({exc}); kafka-broker needs it "
             "(start one: memcached -u root -l 127.0.0.1 -p 11211 -d)")


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
    # A librdkafka consumer never creates the topic it subscribes to.
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
            fail(f"creating topic {topic!r}: {exc}")


def wait_assigned(admin, group_id: str, topic: str, consumer_proc, timeout: float) -> None:
    """Wait until the package's consumer (a child process) holds partitions of topic."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not consumer_proc.is_alive():
            fail(f"kafka_broker consumer process exited (exitcode {consumer_proc.exitcode})")
        try:
            desc = admin.describe_consumer_groups([group_id], request_timeout=5)[group_id].result()
            assigned = [tp for m in desc.members for tp in m.assignment.topic_partitions if tp.topic == topic]
            last = f"state={desc.state} members={len(desc.members)} assigned={len(assigned)}"
            if assigned:
                return
        except Exception as exc:  # noqa: BLE001
            last = str(exc)
        time.sleep(0.3)
    fail(f"consumer group {group_id!r} got no partitions of {topic!r} within {timeout}s ({last})")


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


# ---------------------------------------------------------------- service

def canonical_json(value) -> str:
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        return json.dumps(f"<not JSON: {exc}>")


def check_request(key, ev) -> list[str]:
    """What a Python service relies on in a request: returns the problems found."""
    problems: list[str] = []
    cid = ev.correlation_id
    if not isinstance(cid, str):
        problems.append(f"correlation_id {cid!r} is {type(cid).__name__}, want a string")
    if key != str(cid):
        problems.append(f"Kafka key {key!r} != correlation_id {cid!r} (replies are matched by key)")
    if not isinstance(ev.data, dict):
        problems.append(f"data is {type(ev.data).__name__}, want an object (produce() calls data.copy())")
    if not isinstance(ev.status, str):
        problems.append(f"status {ev.status!r} is not a string")
    audit = ev.audit_log
    if not isinstance(audit, list) or not audit or not isinstance(audit[-1], dict):
        problems.append(f"audit_log {audit!r}: want a list ending with the sender's entry")
        return problems
    last = audit[-1]
    missing = {"data", "event", "location", "time_sent", "time_received"} - last.keys()
    if missing:
        problems.append(f"audit_log[-1] misses {sorted(missing)}")
        return problems
    if not isinstance(last["location"], str) or not last["location"]:
        problems.append(f"audit_log[-1].location {last['location']!r}: want the sender's topic")
    if last["event"] != ev.event:
        problems.append(f"audit_log[-1].event {last['event']!r} != event {ev.event!r}")
    if last["data"] != ev.data:
        problems.append("audit_log[-1].data differs from data")
    now = time.time()
    for field in ("time_sent", "time_received"):
        v = last[field]
        if type(v) is not int:
            problems.append(f"audit_log[-1].{field} = {v!r} ({type(v).__name__}), want int unix seconds")
        elif abs(now - v) > 3600:
            problems.append(f"audit_log[-1].{field} = {v} is not near now ({int(now)}): not unix seconds?")
    return problems


def build_router(broker_manager, EventObject, EventRouter, EventStatus):
    """interop.echo -> echo(); the top router's own name is not part of the key."""
    root = EventRouter("py_responder")
    interop = EventRouter("interop")

    @interop.bind_event("echo")
    def echo(event_object: EventObject):  # the package calls func(event_object=...)
        reply_to = event_object.audit_log[-1]["location"]
        event_object.data = {"echo": event_object.data, "handled_by": "python"}
        event_object.event = "respond"
        event_object.status = EventStatus.COMPLETED
        broker_manager.produce(reply_to, event_object)  # appends our audit entry, flushes
        return reply_to

    root.include_binder(interop)
    return root


async def serve(args, broker_manager, router, consumer_proc) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    storage = broker_manager.consumer_storage
    handled = 0
    while not stop.is_set():
        if not consumer_proc.is_alive():
            log(f"FAIL: kafka_broker consumer process died (exitcode {consumer_proc.exitcode}); "
                "it dies on a record it cannot handle: null key or value, invalid JSON, "
                "missing or empty audit_log")
            return 1
        # poll() waits up to 0.2 s on the pipe from the consumer process, then drains it
        try:
            await storage.poll(0.2)
            batch = await storage.consume_all()
        except (EOFError, OSError):  # the consumer process died and closed its end of the pipe
            consumer_proc.join(5)
            continue
        for key, ev in batch.items():  # the package's storage is keyed by the Kafka record key
            original_event = ev.event
            problems = check_request(key, ev)
            data_json = canonical_json(ev.data)  # before the handler replaces data
            if problems:
                log(f"INVALID {ev.correlation_id} {original_event}: " + "; ".join(problems))
            reply_to = router.execute_event(ev)  # logs + swallows handler errors, returns None
            if reply_to is None:
                log(f"UNHANDLED {ev.correlation_id} {original_event}")
                continue
            handled += 1
            log(f"HANDLED {ev.correlation_id} {original_event} -> {reply_to} data={data_json}")
            if args.max and handled >= args.max:
                stop.set()
                break
        await asyncio.sleep(0)
    log(f"STOPPED handled={handled}")
    return 0


def main() -> int:
    args = parse_args()
    check_memcached()
    own_workdir = not os.environ.get("INTEROP_WORKDIR")
    workdir = write_package_config(args.location, args.group_id)

    # Imported only now: importing kafka_broker builds broker_manager from ./broker_config.ini.
    from confluent_kafka.admin import AdminClient
    from kafka_broker import EventObject, EventRouter, broker_manager
    from kafka_broker.enums import EventStatus

    admin = AdminClient({"bootstrap.servers": os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")})
    ensure_topics(admin, [args.location], args.partitions)
    router = build_router(broker_manager, EventObject, EventRouter, EventStatus)

    consumer_proc = None
    code = 2
    try:
        # The forked consumer inherits this: it must turn SIGINT into KeyboardInterrupt (its only
        # way out) even when we were started with SIGINT ignored (background job of a shell).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        stop_consumer_with_us()
        consumer_proc = broker_manager.init_consumer()
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # until serve() takes over
        wait_assigned(admin, args.group_id, args.location, consumer_proc, args.ready_timeout)
        log(f"READY location={args.location} group={args.group_id} consumer_pid={consumer_proc.pid}")
        # Not asyncio.run(): its shutdown would wait for any executor thread still blocked
        # in the package's Pipe.recv().
        loop = asyncio.new_event_loop()
        code = loop.run_until_complete(serve(args, broker_manager, router, consumer_proc))
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
    os._exit(rc)
