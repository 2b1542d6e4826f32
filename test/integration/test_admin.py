"""doveadm replicator ... against the running pair, wire compatibility with
Dovecot 2.3's replicator-doveadm protocol, and the peer side of syncs."""

import json
import os
import socket
import threading
import time
import unittest

from harness import PairTestCase, run, wait_until, wait_equal

ROOT = os.path.join(os.environ.get("TMPDIR", "/tmp"), "dovecot-replication-admin")
USERDB = {"userb": {"noreplicate": "yes"}}
CONF = """replication_max_conns = 3
metric full_syncs {
  filter = event=replicator_sync_finished AND sync_type=full
}
metric usera_syncs {
  filter = event=replicator_sync_finished AND user=usera
}
"""
LABELS = ["Queued 'sync' requests", "Queued 'high' requests",
          "Queued 'low' requests", "Queued 'failed' requests",
          "Queued 'full resync' requests", "Waiting 'failed' requests",
          "Total number of known users"]


def metric_count(inst, name):
    out = inst.doveadm("-f", "tab", "stats", "dump").stdout
    for line in out.splitlines()[1:]:
        fields = line.split("\t")
        if fields[0] == name:
            return int(fields[2])
    return 0


class AdminSocket:
    """A raw client of the replicator-doveadm socket, 2.3 style."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.buf = b""
        self.send(b"VERSION\treplicator-doveadm-client\t1\t0\n")
        self.server_version = self.line()

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def close(self):
        self.sock.close()


class AdminTest(PairTestCase):
    ROOT = ROOT
    INDEX = 8
    USERDB_A = USERDB
    USERDB_B = USERDB
    EXTRA_CONF = CONF

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = os.path.join(cls.a.base_dir, "replicator-doveadm")
        # the startup syncs are done on both sides (and handed over) and
        # noreplicate userb is gone
        for inst in (cls.a, cls.b):
            wait_until("startup syncs", lambda: cls.idle(inst), timeout=60)

    @classmethod
    def idle(cls, inst):
        if cls.status_users(inst) != ["usera", "userc"]:
            return False
        rows = json.loads(inst.doveadm("-f", "json", "replicator",
                                       "dsync-status").stdout)
        users = json.loads(inst.doveadm("-f", "json", "replicator",
                                        "status", "*").stdout)
        return all(r["status"] == "Idle" for r in rows) and \
            all(u["success sync"] != "-" and u["priority"] == "none"
                for u in users)

    @staticmethod
    def status_users(inst, mask="*"):
        out = inst.doveadm("-f", "json", "replicator", "status", mask,
                           check=False).stdout
        try:
            return sorted(row["username"] for row in json.loads(out))
        except ValueError:
            return None

    def replicator(self, *args, check=True):
        return self.a.doveadm("replicator", *args, check=check)

    def test_status_summary(self):
        out = self.a.doveadm("-f", "tab", "replicator", "status").stdout
        rows = [line.split("\t") for line in out.splitlines()]
        # tab has a title row; the titles are hidden ones (field, value)
        rows = [r for r in rows if r[0] in LABELS]
        self.assertEqual([r[0] for r in rows], LABELS)
        self.assertEqual(rows[-1][1], "2")
        for r in rows:
            self.assertTrue(r[1].isdigit())

    def test_status_masks_json(self):
        rows = json.loads(self.a.doveadm("-f", "json", "replicator",
                                         "status", "u?era").stdout)
        self.assertEqual([r["username"] for r in rows], ["usera"])
        row = rows[0]
        self.assertEqual(set(row), {"username", "priority", "fast sync",
                                    "full sync", "success sync", "failed",
                                    "next sync secs", "waiting",
                                    "last error"})
        self.assertEqual(row["failed"], "-")
        self.assertEqual(row["last error"], "-")
        self.assertRegex(row["next sync secs"], r"^\d\d:\d\d:\d\d$")
        self.assertEqual(self.status_users(self.a, "user*"),
                         ["usera", "userc"])
        self.assertEqual(self.status_users(self.a, "nobody*"), [])
        # table and flow formatters work too
        table = self.a.doveadm("replicator", "status", "user*").stdout
        self.assertRegex(table, r"(?m)^username\s+priority\s+fast sync")
        flow = self.a.doveadm("-f", "flow", "replicator", "status",
                              "usera").stdout
        self.assertIn("username=usera", flow)

    def test_dsync_status(self):
        rows = json.loads(self.a.doveadm("-f", "json", "replicator",
                                         "dsync-status").stdout)
        self.assertEqual(len(rows), 3)
        for r in rows:
            self.assertEqual(set(r), {"username", "type", "status"})
            if r["username"] == "":
                self.assertEqual((r["type"], r["status"]), ("-", "Idle"))

    def test_replicate_full_really_syncs_fully(self):
        before = metric_count(self.a, "full_syncs")
        out = self.replicator("replicate", "-f", "-p", "high",
                              "usera").stdout
        self.assertEqual(out.strip(), "1 users updated")
        wait_until("a full sync", lambda:
                   metric_count(self.a, "full_syncs") > before)
        out = self.replicator("replicate", "user?").stdout
        self.assertEqual(out.strip(), "2 users updated")
        res = self.replicator("replicate", "-p", "urgent", "usera",
                              check=False)
        self.assertEqual(res.returncode, 64)

    def test_add_and_remove(self):
        # a user the userdb lists comes back with ADD <mask>
        self.replicator("remove", "userc")
        self.assertEqual(self.status_users(self.a), ["usera"])
        self.replicator("add", "user?")
        self.assertIn("userc", self.status_users(self.a))
        res = self.replicator("remove", "nosuchuser", check=False)
        self.assertEqual(res.returncode, 64)
        self.assertIn("User not found", res.stderr)
        res = self.replicator("add", check=False)
        self.assertEqual(res.returncode, 64)

    def test_2_3_client_on_the_wire(self):
        c = AdminSocket(self.admin)
        try:
            self.assertEqual(c.server_version,
                             "VERSION\treplicator-doveadm-server\t1\t1")
            c.send(b"STATUS\n")
            lines = [c.line() for _ in range(8)]
            self.assertEqual(lines[-1], "")
            self.assertEqual([line.split("\t")[0] for line in lines[:-1]],
                             LABELS)
            c.send(b"STATUS\tusera\n")
            row = c.line().split("\t")
            self.assertEqual(c.line(), "")
            # 2.3 clients read the first 7 fields
            self.assertGreaterEqual(len(row), 7)
            self.assertEqual(row[0], "usera")
            c.send(b"REPLICATE\tlow\t\tusera\n")
            self.assertEqual(c.line(), "+1")
            c.send(b"REMOVE\tnobody\n")
            self.assertEqual(c.line(), "-User not found")
        finally:
            c.close()

    def test_bad_admin_input(self):
        for request, error in ((b"BOGUS\n", "Unknown command"),
                               (b"REMOVE\ta\tb\n", "Expected 1 arguments"),
                               (b"REPLICATE\tlow\tusera\n",
                                "Expected 3 arguments"),
                               (b"STATUS\t\n", "Empty user mask")):
            c = AdminSocket(self.admin)
            try:
                c.send(request)
                reply = c.line()
                self.assertTrue(reply.startswith("-") and error in reply,
                                reply)
                self.assertIsNone(c.line())     # closed
            finally:
                c.close()
        c = AdminSocket(self.admin)
        try:
            c.send(b"VERSION\twrong\t1\t0\n")
        finally:
            c.close()
        # still serving
        self.assertEqual(self.status_users(self.a), self.status_users(self.a))
        self.assertIsNotNone(self.status_users(self.a))

    def test_our_client_against_2_3_server(self):
        path = os.path.join(ROOT, "fake-2.3-replicator")
        if os.path.exists(path):
            os.unlink(path)
        srv = socket.socket(socket.AF_UNIX)
        srv.bind(path)
        srv.listen(1)
        seen = []

        def serve():
            conn, _ = srv.accept()
            conn.sendall(b"VERSION\treplicator-doveadm-server\t1\t0\n")
            data = b""
            while data.count(b"\n") < 2:
                data += conn.recv(4096)
            seen.append(data)
            # a 2.3 row: seven fields
            conn.sendall(b"old\tlow\t0\t0\t1\t0\t30\n\n")
            conn.close()
        t = threading.Thread(target=serve)
        t.start()
        try:
            out = self.a.doveadm("-f", "json", "replicator", "status",
                                 "-a", path, "o*").stdout
        finally:
            t.join(10)
            srv.close()
        self.assertEqual(seen[0], b"VERSION\treplicator-doveadm-client\t1\t1\n"
                         b"STATUS\to*\n")
        row = json.loads(out)[0]
        self.assertEqual((row["username"], row["priority"], row["failed"],
                          row["next sync secs"], row["waiting"]),
                         ("old", "low", "y", "00:00:30", "-"))

    def test_incoming_sync_does_not_sync_back(self):
        wait_equal(self.a, self.b, "usera")
        before = metric_count(self.b, "usera_syncs")
        self.a.lmtp_deliver("usera", "no-echo")
        wait_equal(self.a, self.b, "usera")
        # a later change of another user on b has gone through b's
        # replicator: an echo for usera would have come before it
        self.b.lmtp_deliver("userc", "marker")
        wait_equal(self.a, self.b, "userc")
        self.assertEqual(metric_count(self.b, "usera_syncs"), before)


if __name__ == "__main__":
    unittest.main()


class PeerRefusalTest(PairTestCase):
    """userb has noreplicate on b only: b refuses a's syncs of userb and a
    drops the user."""
    ROOT = ROOT + "-refusal"
    INDEX = 10
    USERDB_B = {"userb": {"noreplicate": "yes"}}

    def test_noreplicate_peer_refuses_and_initiator_drops_user(self):
        self.a.lmtp_deliver("userb", "refused")
        wait_until("b refused the incoming dsync", lambda:
                   "Refusing incoming dsync: noreplicate is set" in
                   self.b.log_text(), timeout=60)
        wait_until("a dropped userb", lambda:
                   "userb: Removing user from replication: The replica "
                   "refuses the user" in self.a.log_text(), timeout=60)
        self.assertEqual(self.b.snapshot("userb").get("INBOX", set()),
                         set())
        status = self.a.doveadm("-f", "json", "replicator", "status",
                                "userb").stdout
        self.assertEqual(json.loads(status), [])
        # other users still replicate
        self.a.lmtp_deliver("usera", "still-works")
        wait_equal(self.a, self.b, "usera")
