#!/usr/bin/env python3
"""Replication latency benchmark: how long a change on server a takes to be
visible on server b, for LMTP deliveries, IMAP APPENDs and IMAP STOREs made
in one long-lived IMAP session, against a bare `doveadm sync` of one new
message measured in the same run. Prints a Markdown table.

Run inside a Dovecot 2.4 environment with the package installed, e.g.
  test/env/run -s trixie -t -- python3 test/bench/latency.py
Options: --lmtp N (200) --append N (50) --store N (50) --bare N (20)
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
os.environ.setdefault("DOVECOT_REPLICATION_PORT_BASE", "25600")
import harness  # noqa: E402

ROOT = os.path.join(os.environ.get("TMPDIR", "/tmp"), "dovecot-replication-bench")
# userc is replicated by neither side: the bare sync baseline
USERDB = {"userc": {"mail_replica": ""}}
POLL = 0.001
DEADLINE = 30.0


def pct(values, p):
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(p / 100.0 * len(values) + 0.5)) - 1))
    return values[k]


def poll(what, predicate):
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out: {what}")
        time.sleep(POLL)
    return time.monotonic()


def status_messages(imap, box):
    typ, data = imap.status(box, "(MESSAGES)")
    assert typ == "OK", data
    return int(data[0].decode().rsplit("MESSAGES", 1)[1].strip(" )"))


def bench_bare(a, b, n):
    times = []
    for i in range(n):
        subprocess.run(["sh", "-c", f"printf 'Subject: bare-{i}\\n\\nx\\n' | "
                        f"doveadm -c {a.conf} save -u userc"], check=True)
        t0 = time.monotonic()
        a.doveadm("sync", "-u", "userc", f"tcp:127.0.0.1:{b.doveadm_port}")
        times.append(time.monotonic() - t0)
    return times


def bench_lmtp(a, b, n):
    watch = b.imap("usera")
    times = []
    try:
        base = status_messages(watch, "INBOX")
        for i in range(n):
            t0 = time.monotonic()
            a.lmtp_deliver("usera", f"lmtp-{i}")
            t1 = poll(f"lmtp {i}", lambda: status_messages(
                watch, "INBOX") >= base + i + 1)
            times.append(t1 - t0)
    finally:
        watch.logout()
    return times


def bench_imap(a, b, n_append, n_store):
    session = a.imap("usera")
    watch = b.imap("usera")
    appends, stores = [], []
    try:
        session.create("Bench")
        poll("Bench on b", lambda: watch.status("Bench", "(MESSAGES)")[0] == "OK")
        for i in range(n_append):
            t0 = time.monotonic()
            typ, _ = session.append("Bench", None, None,
                                    f"Subject: append-{i}\r\n\r\nx\r\n".encode())
            assert typ == "OK"
            t1 = poll(f"append {i}", lambda: status_messages(
                watch, "Bench") >= i + 1)
            appends.append(t1 - t0)
        session.select("Bench")
        watch.select("Bench", readonly=True)

        def flagged(uid):
            watch.noop()
            typ, data = watch.uid("FETCH", str(uid), "(FLAGS)")
            return typ == "OK" and data[0] is not None and \
                b"\\Flagged" in data[0]
        for i in range(min(n_store, n_append)):
            uid = i + 1
            t0 = time.monotonic()
            typ, _ = session.uid("STORE", str(uid), "+FLAGS", "(\\Flagged)")
            assert typ == "OK"
            t1 = poll(f"store {uid}", lambda: flagged(uid))
            stores.append(t1 - t0)
    finally:
        session.logout()
        watch.logout()
    return appends, stores


def row(name, times, baseline=None):
    ms = [t * 1000 for t in times]
    p50 = pct(ms, 50)
    extra = "" if baseline is None else f" | {p50 - baseline:+.1f}"
    return f"| {name} | {len(ms)} | {p50:.1f} | {pct(ms, 99):.1f}{extra} |"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lmtp", type=int, default=200)
    parser.add_argument("--append", type=int, default=50)
    parser.add_argument("--store", type=int, default=50)
    parser.add_argument("--bare", type=int, default=20)
    args = parser.parse_args()

    a = harness.Instance(ROOT, "a", 0, userdb_fields=USERDB)
    b = harness.Instance(ROOT, "b", 1, userdb_fields=USERDB)
    a.write_config(replica=f"tcp:127.0.0.1:{b.doveadm_port}")
    b.write_config(replica=f"tcp:127.0.0.1:{a.doveadm_port}")
    a.start()
    b.start()
    try:
        harness.wait_equal(a, b, "usera", timeout=60)
        bare = bench_bare(a, b, args.bare)
        lmtp = bench_lmtp(a, b, args.lmtp)
        appends, stores = bench_imap(a, b, args.append, args.store)
    finally:
        b.stop()
        a.stop()

    base = pct([t * 1000 for t in bare], 50)
    with open("/usr/share/dovecot/dovecot-abi") as f:
        abi = f.read().strip()
    version = subprocess.run(["dovecot", "--version"], capture_output=True,
                             text=True).stdout.strip()
    print(f"Dovecot {version} ({abi}), {os.cpu_count()} CPUs, sdbox, "
          f"loopback; change on a -> visible on b, milliseconds")
    print()
    print("| what | n | p50 | p99 | p50 - bare sync |")
    print("|---|---|---|---|---|")
    print(row("bare `doveadm sync` of 1 new message", bare))
    print(row("(a) LMTP delivery", lmtp, base))
    print(row("(b) IMAP APPEND, one session", appends, base))
    print(row("(c) IMAP STORE +FLAGS, one session", stores, base))


if __name__ == "__main__":
    main()
