"""The replication pipeline: changes made on one server through any
protocol reach the other (plugin -> aggregator -> replicator -> dsync)."""

import os
import poplib
import socket
import threading
import time
import unittest

from harness import PairTestCase, run, wait_until, wait_equal

ROOT = os.path.join(os.environ.get("TMPDIR", "/tmp"), "dovecot-replication-pipeline")
# userb is never replicated; userc waits for the replica on new mail
USERDB = {
    "userb": {"noreplicate": "yes"},
    "userc": {"replication_sync_timeout": "20"},
}
DEADLINE = 30


def imap_do(inst, user, fn):
    imap = inst.imap(user)
    try:
        return fn(imap)
    finally:
        try:
            imap.logout()
        except Exception:
            pass


def ok(res):
    typ, data = res
    assert typ == "OK", (typ, data)
    return data


class PipelineTest(PairTestCase):
    ROOT = ROOT
    INDEX = 2
    USERDB_A = USERDB
    USERDB_B = USERDB

    def converge(self, user="usera"):
        return wait_equal(self.a, self.b, user, timeout=DEADLINE)

    def assert_no_errors(self):
        for inst in (self.a, self.b):
            self.assertEqual(inst.log_errors(), [], inst.name)

    # --- one test per kind of change -----------------------------------

    def test_lmtp_delivery(self):
        self.a.lmtp_deliver("usera", "lmtp-1")
        content = self.converge()
        self.assertTrue(content["INBOX"])

    def test_imap_append(self):
        imap_do(self.b, "usera", lambda i: ok(i.append(
            "INBOX", "(\\Flagged)", None, b"Subject: append\r\n\r\nx\r\n")))
        content = self.converge()
        self.assertIn("\\Flagged", {f for _, f in content["INBOX"]})

    def test_imap_create_copy_move(self):
        def work(i):
            ok(i.create("CopyDest"))
            ok(i.create("MoveDest"))
            ok(i.append("INBOX", None, None, b"Subject: cm1\r\n\r\nx\r\n"))
            ok(i.append("INBOX", None, None, b"Subject: cm2\r\n\r\nx\r\n"))
            ok(i.select("INBOX"))
            ok(i.uid("COPY", "1:*", "CopyDest"))
            ok(i.uid("MOVE", "1:*", "MoveDest"))
        imap_do(self.a, "usera", work)
        content = self.converge()
        self.assertEqual(content["INBOX"], set())
        self.assertGreaterEqual(len(content["CopyDest"]), 2)
        self.assertEqual(len(content["MoveDest"]), len(content["CopyDest"]))

    def test_imap_store_flags_keywords(self):
        def prepare(i):
            ok(i.create("Flags"))
            ok(i.append("Flags", None, None, b"Subject: f\r\n\r\nx\r\n"))
        imap_do(self.a, "usera", prepare)
        self.converge()

        def store(i):
            ok(i.select("Flags"))
            ok(i.store("1", "+FLAGS", "(\\Seen \\Answered $Important)"))
        imap_do(self.b, "usera", store)
        content = self.converge()
        self.assertEqual([f for _, f in content["Flags"]],
                         ["$Important \\Answered \\Seen"])

    def test_imap_expunge(self):
        def prepare(i):
            ok(i.create("Expunge"))
            for n in range(3):
                ok(i.append("Expunge", None, None,
                            f"Subject: e{n}\r\n\r\nx\r\n".encode()))
        imap_do(self.a, "usera", prepare)
        self.assertEqual(len(self.converge()["Expunge"]), 3)

        def expunge(i):
            ok(i.select("Expunge"))
            ok(i.store("1:2", "+FLAGS", "(\\Deleted)"))
            ok(i.expunge())
        imap_do(self.b, "usera", expunge)
        self.assertEqual(len(self.converge()["Expunge"]), 1)

    def test_imap_rename_delete_subscribe(self):
        def work(i):
            ok(i.create("Old"))
            ok(i.create("Gone"))
            ok(i.rename("Old", "New"))
            ok(i.subscribe("New"))
        imap_do(self.a, "usera", work)
        content = self.converge()
        self.assertIn("New", content)
        self.assertNotIn("Old", content)
        self.assertIn("New", content[None])
        # dsync orders subscription changes by their timestamps, in whole
        # seconds: the unsubscribe below must come in a later second
        t0 = int(time.time())
        wait_until("the next second", lambda: int(time.time()) > t0)

        def work2(i):
            ok(i.delete("Gone"))
            ok(i.unsubscribe("New"))
        imap_do(self.b, "usera", work2)
        content = self.converge()
        self.assertNotIn("Gone", content)
        self.assertNotIn("New", content[None])

    def test_pop3_delete(self):
        self.a.lmtp_deliver("usera", "pop3-a")
        self.a.lmtp_deliver("usera", "pop3-b")
        before = len(self.converge()["INBOX"])
        pop = poplib.POP3("127.0.0.1", self.b.pop3_port, timeout=30)
        try:
            pop.user("usera")
            pop.pass_("pass-usera")
            pop.dele(1)
        finally:
            pop.quit()
        self.assertEqual(len(self.converge()["INBOX"]), before - 1)

    def test_doveadm_save_flags_expunge(self):
        self.a.doveadm("mailbox", "create", "-u", "usera", "Doveadm")
        res = run(["sh", "-c", "printf 'Subject: saved\\n\\nbody\\n' | "
                   f"doveadm -c {self.a.conf} save -u usera -m Doveadm"])
        self.assertEqual(res.returncode, 0)
        self.assertEqual(len(self.converge()["Doveadm"]), 1)
        self.b.doveadm("flags", "add", "-u", "usera", "\\Draft",
                       "mailbox", "Doveadm", "ALL")
        content = self.converge()
        self.assertEqual([f for _, f in content["Doveadm"]], ["\\Draft"])
        self.a.doveadm("expunge", "-u", "usera", "mailbox", "Doveadm", "ALL")
        self.assertEqual(self.converge()["Doveadm"], set())

    def test_changes_on_both_sides_at_once(self):
        errors = []

        def deliver(inst, tag):
            try:
                for n in range(10):
                    inst.lmtp_deliver("userc" if n % 2 else "usera",
                                      f"both-{tag}-{n}")
            except Exception as e:
                errors.append(e)
        threads = [threading.Thread(target=deliver, args=(inst, inst.name))
                   for inst in (self.a, self.b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        a_before = self.converge("usera")
        c = self.converge("userc")
        subjects = self.a.doveadm("-f", "tab", "fetch", "-u", "userc",
                                  "hdr.subject", "mailbox", "INBOX"
                                  ).stdout.split()
        for tag in ("a", "b"):
            for n in (1, 3, 5, 7, 9):
                self.assertIn(f"both-{tag}-{n}", subjects)
        self.assertTrue(a_before["INBOX"] and c["INBOX"])

    def test_noreplicate_user_stays_unreplicated(self):
        self.a.lmtp_deliver("userb", "never-replicated")
        # a later change of another user has replicated, so the first one
        # had every chance to
        self.a.lmtp_deliver("usera", "after-userb")
        self.converge("usera")
        self.assertEqual(len(self.a.snapshot("userb")["INBOX"]), 1)
        self.assertEqual(self.b.snapshot("userb").get("INBOX", set()), set())

    def test_sync_timeout_replica_has_mail_on_return(self):
        # userc has replication_sync_timeout: no waiting after LMTP returns
        for n in range(3):
            self.a.lmtp_deliver("userc", f"sync-lmtp-{n}")
            self.assertEqual(self.a.snapshot("userc")["INBOX"],
                             self.b.snapshot("userc")["INBOX"])
        imap_do(self.b, "userc", lambda i: ok(i.append(
            "INBOX", None, None, b"Subject: sync-append\r\n\r\nx\r\n")))
        self.assertEqual(self.a.snapshot("userc")["INBOX"],
                         self.b.snapshot("userc")["INBOX"])

    def test_malformed_input_is_rejected_and_service_survives(self):
        agg = wait_until("aggregator",
                         lambda: self.a.service_pids("aggregator"))
        repl = wait_until("replicator",
                          lambda: self.a.service_pids("replicator"))
        fifo = os.path.join(self.a.base_dir, "replication-notify-fifo")
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, b"usera\turgent\n")
            os.write(fd, b"us\ter\thigh\n")
            os.write(fd, b"x" * 5000)
            os.write(fd, b"y" * 5000 + b"\n")
        finally:
            os.close(fd)

        def send(path, data):
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(10)
            s.connect(path)
            s.sendall(data)
            closed = s.recv(100) == b""
            s.close()
            return closed
        self.assertTrue(send(os.path.join(self.a.base_dir,
                                          "replication-notify"),
                             b"usera\tnone\n"))
        self.assertTrue(send(os.path.join(self.a.base_dir, "replicator"),
                             b"VERSION\treplicator-notify\t1\t0\nU\tusera\n"))
        self.assertTrue(send(os.path.join(self.a.base_dir, "replicator"),
                             b"VERSION\twrong\t1\t0\n"))
        wait_until("errors logged", lambda: all(
            msg in self.a.log_text() for msg in (
                "Unknown priority 'urgent'", "line longer than 8192 bytes",
                "Priority 'none' is not a request",
                "U: Expected 2 or 3 arguments")))
        # the services still run, the same processes, and still replicate
        self.a.lmtp_deliver("usera", "after-garbage")
        self.converge()
        self.assertEqual(self.a.service_pids("aggregator"), agg)
        self.assertEqual(self.a.service_pids("replicator"), repl)


if __name__ == "__main__":
    unittest.main()
