"""Replication survives a dead peer and a replicator restart, and reports
its syncs as events."""

import os
import signal
import unittest

import harness
from harness import PairTestCase, wait_until, wait_equal

ROOT = os.path.join(os.environ.get("TMPDIR", "/tmp"), "dovecot-replication-resilience")
METRIC = """metric replicator_sync {
  filter = event=replicator_sync_finished
}
"""
# a's aggregator reaches its replicator over TCP, as with a remote one
REPLICATOR_TCP_PORT = harness.PORT_BASE + 4 * 10 + 5
REPLICATOR_TCP = f"""log_debug = category=aggregator
replicator_host = 127.0.0.1
replicator_port = {REPLICATOR_TCP_PORT}
service replicator {{
  inet_listener replicator-tcp {{
    listen = 127.0.0.1
    port = {REPLICATOR_TCP_PORT}
  }}
}}
"""


def db_records(inst):
    """The replicator's saved state as {user: fields}."""
    return harness.state_records(inst)


class ResilienceTest(PairTestCase):
    ROOT = ROOT
    INDEX = 4
    EXTRA_CONF = METRIC
    EXTRA_CONF_A = REPLICATOR_TCP

    def test_1_sync_finished_events_feed_metrics(self):
        self.a.lmtp_deliver("usera", "metrics")
        wait_equal(self.a, self.b, "usera")
        # the notification went over TCP
        self.assertRegex(self.a.log_text(), rf"aggregator: Debug: conn "
                         rf"127\.0\.0\.1:{REPLICATOR_TCP_PORT}.*Client connected")

        def count():
            out = self.a.doveadm("-f", "tab", "stats", "dump").stdout
            for line in out.splitlines()[1:]:
                fields = line.split("\t")
                # metric_name field count sum ...
                if fields[0] == "replicator_sync":
                    return int(fields[2])
            return 0
        self.assertGreater(wait_until("replicator_sync metric", count), 0)

    def test_2_peer_down_backs_off_and_converges_after(self):
        wait_equal(self.a, self.b, "userc")
        self.b.stop()
        try:
            for n in range(4):
                self.a.lmtp_deliver("userc", f"while-down-{n}")
            wait_until("the replica backed off", lambda:
                       "backing off" in self.a.log_text(), timeout=60)
        finally:
            self.b.start()
        # no new change needed: failed users are retried
        content = wait_equal(self.a, self.b, "userc", timeout=120)
        subjects = self.b.doveadm("-f", "tab", "fetch", "-u", "userc",
                                  "hdr.subject", "mailbox", "INBOX"
                                  ).stdout.split()
        for n in range(4):
            self.assertIn(f"while-down-{n}", subjects)
        self.assertTrue(content["INBOX"])
        wait_until("the replica works again", lambda:
                   "works again" in self.a.log_text(), timeout=60)

    def test_3_replicator_restart_keeps_queue_and_state(self):
        self.a.lmtp_deliver("usera", "before-restart")
        wait_equal(self.a, self.b, "usera")
        before = wait_until("state saved", lambda: (
            db_records(self.a).get("usera") if
            db_records(self.a).get("usera", ["", ""] * 4)[6] else None),
            timeout=30)
        pid = wait_until("replicator", lambda: self.a.service_pids("replicator"))
        os.kill(pid[0], signal.SIGTERM)
        new_pid = wait_until("replicator restarted", lambda: [
            p for p in self.a.service_pids("replicator") if p not in pid])
        self.assertTrue(new_pid)
        self.a.lmtp_deliver("usera", "after-restart")
        wait_equal(self.a, self.b, "usera")

        def synced_after():
            # the new mail gives a new dsync state
            rec = db_records(self.a).get("usera")
            return rec if rec and rec[6] != before[6] else None
        after = wait_until("state saved after the restart", synced_after,
                           timeout=30)
        # incremental, not a full resync: last full sync unchanged
        self.assertEqual(after[4], before[4])
        self.assertNotIn("Panic", self.a.log_text())

    def test_4_replicator_crash_keeps_saved_state(self):
        wait_until("state saved", lambda: db_records(self.a).get("usera"),
                   timeout=30)
        pid = wait_until("replicator", lambda: self.a.service_pids("replicator"))
        os.kill(pid[0], signal.SIGKILL)
        wait_until("replicator restarted", lambda: [
            p for p in self.a.service_pids("replicator") if p not in pid])
        # the file is whole: every line parses, the users are there
        records = db_records(self.a)
        self.assertIn("usera", records)
        for rec in records.values():
            self.assertIn(len(rec), (8, 9))
        self.a.lmtp_deliver("usera", "after-crash")
        wait_equal(self.a, self.b, "usera")


if __name__ == "__main__":
    unittest.main()
