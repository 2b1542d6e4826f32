#!/usr/bin/env python3
"""Start or stop the demo pair: two replicating Dovecot instances on
127.0.0.1 (used by test/demo)."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DOVECOT_REPLICATION_PORT_BASE", "14300")
import harness  # noqa: E402

ROOT = "/var/tmp/dovecot-replication-demo"


def pair():
    a = harness.Instance(ROOT, "a", 0)
    b = harness.Instance(ROOT, "b", 1)
    return a, b


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else "start"
    a, b = pair()
    if cmd == "stop":
        for inst in (a, b):
            inst.started = inst.master_pid() is not None
            inst.stop()
        print("demo stopped")
        return 0
    if cmd != "start":
        print("usage: demo.py start|stop", file=sys.stderr)
        return 2
    a.write_config(replica=f"tcp:127.0.0.1:{b.doveadm_port}")
    b.write_config(replica=f"tcp:127.0.0.1:{a.doveadm_port}")
    a.start()
    b.start()
    for inst in (a, b):
        print(f"instance {inst.name}: IMAP 127.0.0.1:{inst.imap_port}  "
              f"POP3 {inst.pop3_port}  LMTP {inst.lmtp_port}  "
              f"doveadm {inst.doveadm_port}  config {inst.conf}")
    print("users: " + ", ".join(f"{u} (password pass-{u})"
                                for u in harness.USERS))
    # show it working: deliver to a, watch it appear on b
    harness.wait_equal(a, b, "usera", timeout=60)
    t0 = time.monotonic()
    a.lmtp_deliver("usera", "hello-from-a")
    harness.wait_until("the message on b", lambda: "hello-from-a" in
                       b.doveadm("fetch", "-u", "usera", "hdr.subject",
                                 "mailbox", "INBOX").stdout, timeout=60)
    print(f"\nDelivered 'hello-from-a' to usera on a (LMTP {a.lmtp_port}); "
          f"it appeared on b after {(time.monotonic() - t0) * 1000:.0f} ms.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
