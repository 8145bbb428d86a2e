#!/usr/bin/env python3
"""Print smpd's status stream: the starting point for a monitoring dashboard.

Subscribes to an smpd status endpoint (or an `smpctl relay` joining several
robots) and prints one line per message. Each message is two frames, the
topic ("status", "event", "dot", "log") and a JSON object carrying "seq"
(per topic and per machine: a jump means messages were missed), "ts" (wall
time, seconds), "schema" and "machine". The daemon sends a full "status"
snapshot as soon as the subscription arrives, so the first line shows the
current state without waiting. See docs/protocol.md for every field.

Needs python3-zmq (Debian: apt-get install python3-zmq).

usage: status_sub.py [ENDPOINT] [--topic TOPIC ...] [--count N] [--json]
                     [--server-key FILE --key FILE]   (CURVE status)
"""
import argparse
import json
import sys
import time

import zmq


def read_key(path, want_secret=False):
    """Reads a key file written by `smpctl keygen` (public-key = "...")."""
    keys = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if "=" not in line:
                keys["public-key"] = line
                continue
            name, value = line.split("=", 1)
            keys[name.strip()] = value.strip().strip('"')
    if want_secret:
        return keys["public-key"].encode(), keys["secret-key"].encode()
    return keys["public-key"].encode()


def describe(topic, m):
    if topic == "status":
        dots = m.get("dots", {})
        eta = m.get("eta_s")
        return "%-9s needle %-3s %s/%s dots, %s uncertain, elapsed %.0fs%s" % (
            m.get("state"), "ON" if m.get("needle") else "off",
            dots.get("delivered", 0), dots.get("total", 0),
            dots.get("uncertain", 0), m.get("elapsed_s") or 0,
            ", %.0fs left" % eta if eta is not None else "")
    if topic == "event":
        if m.get("type") == "transition":
            return "%s -> %s: %s" % (m.get("from"), m.get("to"),
                                     m.get("reason", ""))
        rest = {k: v for k, v in m.items()
                if k not in ("type", "seq", "ts", "schema", "machine")}
        return "%s %s" % (m.get("type"), json.dumps(rest))
    if topic == "dot":
        return "dot id %s (index %s) at %.2fs" % (m.get("id"), m.get("index"),
                                                   m.get("t", 0))
    return "%s: %s" % (m.get("level", ""), m.get("message", ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("endpoint", nargs="?", default="ipc:///run/smpd/status")
    ap.add_argument("--topic", action="append",
                    help="topic prefix to subscribe to (default: all)")
    ap.add_argument("--count", type=int, default=0,
                    help="exit after N messages (0 = run until ^C)")
    ap.add_argument("--json", action="store_true",
                    help="print each message as one JSON line")
    ap.add_argument("--server-key", help="daemon's public key file (CURVE)")
    ap.add_argument("--key", help="your .key file from smpctl keygen (CURVE)")
    args = ap.parse_args()

    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    if args.server_key:
        pub, sec = read_key(args.key, want_secret=True)
        sub.curve_serverkey = read_key(args.server_key)
        sub.curve_publickey = pub
        sub.curve_secretkey = sec
    for t in args.topic or [""]:
        sub.setsockopt_string(zmq.SUBSCRIBE, t)
    sub.connect(args.endpoint)

    last_seq = {}   # (machine, topic) -> seq
    n = 0
    try:
        while args.count == 0 or n < args.count:
            topic, payload = sub.recv_multipart()[:2]
            topic = topic.decode("utf-8", "replace")
            try:
                m = json.loads(payload)
            except ValueError:
                print("malformed message on %s" % topic, file=sys.stderr)
                continue
            key = (m.get("machine"), topic)
            seq = m.get("seq")
            if key in last_seq and seq is not None and seq > last_seq[key] + 1:
                print("-- missed %d %s message(s) from %s" % (
                    seq - last_seq[key] - 1, topic, m.get("machine")))
            if seq is not None:
                last_seq[key] = seq
            if args.json:
                print(json.dumps({"topic": topic, "message": m}))
            else:
                stamp = time.strftime("%H:%M:%S",
                                      time.localtime(m.get("ts", time.time())))
                print("%s %s %-6s %s" % (stamp, m.get("machine", "?"), topic,
                                         describe(topic, m)))
            sys.stdout.flush()
            n += 1
    except KeyboardInterrupt:
        pass
    finally:
        sub.close()
        ctx.term()


if __name__ == "__main__":
    main()
