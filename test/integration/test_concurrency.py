"""Both servers' replicators sync the same users: a sync of a user must
never run alongside the peer's sync of it, nor after it with the dsync state
from before it - dsync ignores expunges above the state's last common UID,
so either brings back mail deleted meanwhile. The replica's doveadm plugin
tells its replicator about every incoming dsync (INCOMING): the replicator
holds the user until the peer has handed over its new state, and turns the
incoming dsync away while it syncs the user itself."""

import fcntl
import os
import re
import signal
import socket
import threading

from harness import (PairTestCase, wait_until, wait_equal, ensure_mail_user,
                     state_records)
from test_trust import subjects, crash_lines

ROOT = os.path.join(os.environ.get("TMPDIR", "/tmp"),
                    "dovecot-replication-concurrency")
CONF = """log_debug = category=replication OR category=replicator
"""


class Forwarder:
    """TCP forwarder to a port. While running is clear, it accepts
    connections but connects them onward only when it is set again; while
    notify_gate is clear, a connection that carries a hand-over
    ("replicator notify") waits before it goes on (or is cut then, if
    cut_held_notify is set); while dsyncs_left is
    not None, that many more dsyncs go through, and the later ones are
    cut."""

    def __init__(self, port, target_port):
        self.target_port = target_port
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)
        self.running = threading.Event()
        self.running.set()
        self.notify_gate = threading.Event()
        self.notify_gate.set()
        self.cut_held_notify = False
        self.dsyncs_left = None
        self.cut = 0
        self.accepted = 0
        self.held = 0
        self.socks = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,),
                             daemon=True).start()

    def _pipe(self, src, dst, gated):
        seen = b""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if gated:
                    seen = (seen + data)[-4096:]
                    if b"replicator\tnotify\t" in seen:
                        gated = False
                        if not self.notify_gate.is_set():
                            self.held += 1
                            self.notify_gate.wait()
                            if self.cut_held_notify:
                                self.cut += 1
                                break
                    elif b"dsync-server" in seen:
                        gated = False
                        if self.dsyncs_left == 0:
                            self.cut += 1
                            break
                        if self.dsyncs_left is not None:
                            self.dsyncs_left -= 1
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _serve(self, conn):
        self.running.wait()
        try:
            out = socket.create_connection(("127.0.0.1", self.target_port))
        except OSError:
            conn.close()
            return
        self.socks += [conn, out]
        threading.Thread(target=self._pipe, args=(conn, out, True),
                         daemon=True).start()
        self._pipe(out, conn, False)

    def close(self):
        self.running.set()
        self.notify_gate.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for s in self.socks:
            s.close()


class ForwardedPairTestCase(PairTestCase):
    """a and b; b reaches a through a Forwarder (fwd)."""

    @classmethod
    def setUpClass(cls):
        from harness import PORT_BASE
        # b reaches a through a forwarder that can hold b's syncs back
        # before they reach a
        cls.fwd_port = PORT_BASE + (cls.INDEX + 2) * 10 + 9
        super().setUpClass()
        cls.b.stop()
        cls.b.write_config(replica=f"tcp:127.0.0.1:{cls.fwd_port}")
        cls.fwd = Forwarder(cls.fwd_port, cls.a.doveadm_port)
        cls.b.start()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.fwd.close()

    def setUp(self):
        self.log_start = {inst.name: len(inst.log_text())
                          for inst in (self.a, self.b)}

    def tearDown(self):
        self.fwd.running.set()
        self.fwd.notify_gate.set()
        self.fwd.cut_held_notify = False
        self.fwd.dsyncs_left = None
        for inst in (self.a, self.b):
            self.assertEqual(crash_lines(inst, self.log_start[inst.name]),
                             [], inst.name)

    def log_since(self, inst):
        return inst.log_text()[self.log_start[inst.name]:]

    def status_row(self, inst, user):
        out = inst.doveadm("-f", "tab", "replicator", "status", user,
                           check=False).stdout.splitlines()
        if len(out) < 2:
            return None
        return dict(zip(out[0].split("\t"), out[1].split("\t")))

    def dsync_running(self, inst, user, status=""):
        out = inst.doveadm("replicator", "dsync-status", check=False).stdout
        return any(line.split()[:1] == [user] and status in line
                   for line in out.splitlines())

    def lock_sync(self, inst, user):
        """Take the user's dsync lock on inst (the side with the smaller
        host name locks for both): dsyncs of the user wait for it."""
        uid, gid = ensure_mail_user()
        path = os.path.join(inst.dir, "home", user, ".dovecot-sync.lock")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.fchown(fd, uid, gid)
        fcntl.lockf(fd, fcntl.LOCK_EX)
        return fd


class ConcurrencyTest(ForwardedPairTestCase):
    ROOT = ROOT
    INDEX = 22
    EXTRA_CONF = CONF

    def test_user_is_held_while_the_peer_syncs_it(self):
        """While b's dsync of a user runs on a, a starts no sync of its
        own; after b's hand-over, a syncs its change from b's state."""
        self.a.lmtp_deliver("usera", "hold-0")
        wait_equal(self.a, self.b, "usera")
        fd = self.lock_sync(self.a, "usera")
        try:
            # b's dsync starts on a, then waits for the lock
            self.b.lmtp_deliver("usera", "hold-b")
            wait_until("a holds usera", lambda: "usera: Incoming dsync "
                       "starts" in self.log_since(self.a), timeout=30)
            self.a.lmtp_deliver("usera", "hold-a")
            # the change is queued, but its sync waits for the hold
            wait_until("a postpones usera", lambda: "usera: Waiting for "
                       "the peer's sync" in self.log_since(self.a),
                       timeout=30)
            self.assertFalse(self.dsync_running(self.a, "usera"))
            log = self.log_since(self.a)
            self.assertNotIn("usera: Starting sync", log[log.index(
                "usera: Incoming dsync starts"):])
            self.assertNotIn("hold-a", subjects(self.b, "usera"))
        finally:
            fcntl.lockf(fd, fcntl.LOCK_UN)
            os.close(fd)
        wait_until("everything everywhere", lambda: all(
            {"hold-0", "hold-a", "hold-b"} <= subjects(inst, "usera")
            for inst in (self.a, self.b)), timeout=60)
        wait_equal(self.a, self.b, "usera")
        # a waited for b's state, not for the grace time
        self.assertNotIn("No state was handed over", self.log_since(self.a))
        self.assertNotIn("Sync failed", self.log_since(self.a))
        self.assertNotIn("Sync failed", self.log_since(self.b))

    def test_incoming_dsync_is_turned_away_while_syncing(self):
        """A sync of b's waits before it reaches a; a's sync of the same
        user then reaches b, which turns it away; a retries and succeeds
        once b's sync is done."""
        self.a.lmtp_deliver("userb", "busy-0")
        wait_equal(self.a, self.b, "userb")
        # a's last sync of the user succeeded (set-up restarted b)
        self.a.doveadm("replicator", "replicate", "userb")
        wait_until("a synced userb", lambda: (
            lambda row: row is not None and row["failed"] == "-" and
            row["priority"] == "none")(self.status_row(self.a, "userb")),
            timeout=60)
        self.fwd.running.clear()
        accepted = self.fwd.accepted
        self.b.lmtp_deliver("userb", "busy-b")
        wait_until("b's sync held back", lambda: self.fwd.accepted >
                   accepted, timeout=30)
        self.assertTrue(self.dsync_running(self.b, "userb"))
        self.a.lmtp_deliver("userb", "busy-a")
        wait_until("b turns a's dsync away", lambda: "Turning incoming "
                   "dsync away" in self.log_since(self.b), timeout=30)
        wait_until("a retries", lambda: "Sync not done, retrying soon" in
                   self.log_since(self.a), timeout=30)
        row = self.status_row(self.a, "userb")
        self.assertEqual(row["failed"], "-", row)
        self.assertNotIn("busy-a", subjects(self.b, "userb"))
        self.fwd.running.set()
        wait_until("everything everywhere", lambda: all(
            {"busy-0", "busy-a", "busy-b"} <= subjects(inst, "userb")
            for inst in (self.a, self.b)), timeout=60)
        wait_equal(self.a, self.b, "userb")
        for inst in (self.a, self.b):
            self.assertNotIn("Sync failed", self.log_since(inst), inst.name)

    def test_expunge_during_peer_sync_stays_expunged(self):
        """The resurrection this prevents: a message expunged on one side
        while the other side's sync of the user runs doesn't come back."""
        for n in range(3):
            self.a.lmtp_deliver("userc", f"exp-{n}")
        wait_equal(self.a, self.b, "userc")
        fd = self.lock_sync(self.a, "userc")
        try:
            self.b.lmtp_deliver("userc", "exp-b")
            wait_until("a holds userc", lambda: "userc: Incoming dsync "
                       "starts" in self.log_since(self.a), timeout=30)
            self.a.doveadm("expunge", "-u", "userc", "mailbox", "INBOX",
                           "header", "Subject", "exp-1")
        finally:
            fcntl.lockf(fd, fcntl.LOCK_UN)
            os.close(fd)
        wait_until("exp-b on a", lambda: "exp-b" in subjects(self.a, "userc"),
                   timeout=60)
        wait_until("exp-1 gone from b", lambda: "exp-1" not in
                   subjects(self.b, "userc"), timeout=60)
        wait_equal(self.a, self.b, "userc")
        self.assertEqual(subjects(self.a, "userc") - {"hdr.subject"},
                         {"exp-0", "exp-2", "exp-b"})

    def test_peer_id_survives_a_restart(self):
        """A state handed over right after a restart is adopted: the
        replicas' server ids are kept in state_dir."""
        import signal
        self.a.lmtp_deliver("usera", "peer-0")
        wait_equal(self.a, self.b, "usera")
        peers = os.path.join(self.a.dir, "state", "replicator-peers")
        wait_until("a saved b's id", lambda: os.path.exists(peers) and
                   "b.replication.test" in open(peers).read(), timeout=30)
        def db_has_replica():
            fields = state_records(self.a).get("usera")
            return fields is not None and len(fields) >= 9 and fields[8]
        wait_until("a saved usera's replica", db_has_replica, timeout=30)
        old = wait_until("a's replicator", lambda:
                         self.a.service_pids("replicator"))[0]
        wait_until("a's replicator answers", lambda: self.a.doveadm(
            "replicator", "status", check=False).returncode == 0)
        os.kill(old, signal.SIGKILL)
        wait_until("a's replicator restarted", lambda: [
            p for p in self.a.service_pids("replicator") if p != old])
        wait_until("a's replicator answers", lambda: self.a.doveadm(
            "replicator", "status", check=False).returncode == 0)
        start = len(self.a.log_text())
        self.b.lmtp_deliver("usera", "peer-1")
        wait_until("a heard from b", lambda: "usera: synced by" in
                   self.a.log_text()[start:], timeout=30)
        self.assertIn("usera: synced by the replica",
                      self.a.log_text()[start:])

    def test_hand_overs_of_a_user_stay_in_order(self):
        """The next sync of a user waits until the last one's state has
        been handed over: a slow hand-over can't reach the replica after a
        newer one and make it continue from the older state."""
        self.b.lmtp_deliver("usera", "ho-0")
        wait_equal(self.a, self.b, "usera")
        self.fwd.notify_gate.clear()
        held = self.fwd.held
        try:
            self.b.lmtp_deliver("usera", "ho-1")
            wait_until("b's hand-over held", lambda: self.fwd.held > held,
                       timeout=30)
            wait_until("b waits for it", lambda: self.dsync_running(
                self.b, "usera", "Handing the state over"), timeout=30)
            self.b.lmtp_deliver("usera", "ho-2")
            wait_until("ho-2 queued on b", lambda: (
                lambda row: row is not None and row["priority"] != "none")(
                    self.status_row(self.b, "usera")), timeout=30)
            self.assertTrue(self.dsync_running(self.b, "usera",
                                               "Handing the state over"))
            self.assertNotIn("ho-2", subjects(self.a, "usera"))
        finally:
            self.fwd.notify_gate.set()
        wait_until("ho-2 on a", lambda: "ho-2" in subjects(self.a, "usera"),
                   timeout=60)
        wait_equal(self.a, self.b, "usera")


    def deliver_handover_held(self, subject):
        """Deliver to userb on b and wait until b's sync has copied it to
        a and its hand-over is held (notify_gate cleared)."""
        held = self.fwd.held
        self.b.lmtp_deliver("userb", subject)
        wait_until(f"{subject} on a", lambda: subject in
                   subjects(self.a, "userb"), timeout=30)
        wait_until("b's hand-over held", lambda: self.fwd.held > held,
                   timeout=30)

    def test_stale_state_asks_the_peer_to_sync(self):
        """After an incoming dsync whose hand-over never came, a's state of
        the user is older than b's: a sync from it would take the mail
        b's sync copied here, expunged since, for new mail on b and bring
        it back. a asks b to sync the user instead."""
        wait_equal(self.a, self.b, "userb")
        self.fwd.notify_gate.clear()
        try:
            self.deliver_handover_held("st-1")
            wait_until("a's wait for it ended", lambda: "userb: No state "
                       "was handed over" in self.log_since(self.a),
                       timeout=30)
            self.a.doveadm("expunge", "-u", "userb", "mailbox", "INBOX",
                           "header", "Subject", "st-1")
            wait_until("a asks b", lambda: "userb: Asking the replica to "
                       "sync the user" in self.log_since(self.a),
                       timeout=30)
        finally:
            self.fwd.notify_gate.set()
        wait_until("st-1 expunged on b", lambda: "st-1" not in
                   subjects(self.b, "userb"), timeout=60)
        wait_equal(self.a, self.b, "userb")
        self.assertNotIn("st-1", subjects(self.a, "userb"))


    def test_restart_while_awaiting_a_hand_over_keeps_the_state_stale(self):
        """A restart of a's replicator while it waits for b's hand-over
        ends the wait, and here the hand-over is lost too. a saved its
        state as stale when b's dsync began, so it asks b to sync the
        user instead of syncing from that state, which would bring back
        the mail b's sync copied here and a expunged since."""
        wait_equal(self.a, self.b, "userb")
        self.fwd.notify_gate.clear()
        self.fwd.cut_held_notify = True
        cut = self.fwd.cut
        try:
            self.deliver_handover_held("rs-1")
            old = wait_until("a's replicator", lambda:
                             self.a.service_pids("replicator"))[0]
            os.kill(old, signal.SIGKILL)
            wait_until("a's replicator restarted", lambda: [
                p for p in self.a.service_pids("replicator") if p != old])
            wait_until("a's replicator answers", lambda: self.a.doveadm(
                "replicator", "status", check=False).returncode == 0)
        finally:
            self.fwd.notify_gate.set()
        wait_until("b's hand-over cut", lambda: self.fwd.cut > cut,
                   timeout=30)
        self.fwd.cut_held_notify = False
        self.a.doveadm("expunge", "-u", "userb", "mailbox", "INBOX",
                       "header", "Subject", "rs-1")
        wait_until("a asks b", lambda: "userb: Asking the replica to "
                   "sync the user" in self.log_since(self.a), timeout=30)
        wait_until("rs-1 expunged on b", lambda: "rs-1" not in
                   subjects(self.b, "userb"), timeout=60)
        wait_equal(self.a, self.b, "userb")
        self.assertNotIn("rs-1", subjects(self.a, "userb"))

    def test_failed_full_sync_leaves_the_peer_the_new_state(self):
        """A full sync starts with an incremental one, whose state is
        handed over before the full one runs: if that one fails, the peer
        doesn't sync from its older state, which would bring back what
        the first sync copied to it and was expunged since."""
        wait_equal(self.a, self.b, "userc")
        wait_until("b's state of userc", lambda: state_records(self.b).get(
            "userc", [""] * 8)[6] != "", timeout=30)
        # b's sync of the ghost fails: it is in b only, and b's next sync
        # of userc is the full one
        self.fwd.dsyncs_left = 0
        start = len(self.b.log_text())
        self.b.lmtp_deliver("userc", "ghost")
        try:
            wait_until("b's sync failed", lambda: "userc: Sync failed" in
                       self.b.log_text()[start:], timeout=30)
            # the incremental sync goes through, the full one is cut (b's
            # retry of the failed sync may come first and take the place
            # of the incremental one: a's state is the same then)
            start_a = len(self.a.log_text())
            self.fwd.dsyncs_left = 1
            start = len(self.b.log_text())
            self.b.doveadm("replicator", "replicate", "-f", "userc")
            wait_until("the full dsync failed", lambda: re.search(
                r"userc: Starting an incremental sync before the full one\n"
                r"(.*\n)*?.*userc: Starting sync\n(.*\n)*?.*userc: Sync "
                r"failed", self.b.log_text()[start:]), timeout=90)
            self.assertEqual(self.fwd.dsyncs_left, 0)
            self.assertIn("ghost", subjects(self.a, "userc"))
            # a has the state of the incremental sync
            wait_until("the hand-over", lambda: "userc: synced by the "
                       "replica\n" in self.a.log_text()[start_a:],
                       timeout=30)
            self.b.doveadm("expunge", "-u", "userc", "mailbox", "INBOX",
                           "header", "Subject", "ghost")
            # a syncs from the state handed over after the first sync
            start = len(self.a.log_text())
            self.a.lmtp_deliver("userc", "after-ghost")
            wait_until("a synced", lambda: "userc: Sync finished" in
                       self.a.log_text()[start:], timeout=60)
        finally:
            self.fwd.dsyncs_left = None
        wait_equal(self.a, self.b, "userc")
        for inst in (self.a, self.b):
            self.assertNotIn("ghost", subjects(inst, "userc"), inst.name)


class HungSyncTest(ForwardedPairTestCase):
    """A sync of ours that hangs before it reaches the replica turns the
    replica's dsyncs of the user away until it times out (if it got through
    later, it would run with the state from before the replica's); the
    replica retries with a growing delay, and gets through after the
    timeout."""
    ROOT = ROOT + "-hung"
    INDEX = 25
    EXTRA_CONF = CONF + "replication_dsync_timeout = 10s\n"

    def test_hung_sync_turns_the_peer_away_until_it_times_out(self):
        self.a.lmtp_deliver("userb", "hung-0")
        wait_equal(self.a, self.b, "userb")
        self.fwd.running.clear()
        try:
            accepted = self.fwd.accepted
            self.b.lmtp_deliver("userb", "hung-b")
            wait_until("b's sync held back", lambda: self.fwd.accepted >
                       accepted, timeout=30)
            self.a.lmtp_deliver("userb", "hung-a")
            wait_until("b turns a's dsync away", lambda: "Turning incoming "
                       "dsync away" in self.log_since(self.b), timeout=30)
            self.assertNotIn("dsync timed out", self.log_since(self.b))
            self.assertNotIn("hung-a", subjects(self.b, "userb"))
            # after b's sync timed out, a's retry gets in (b's sync may
            # first wait up to 30 s for the hand-over of the one before,
            # which the forwarder holds too)
            wait_until("b's sync timed out", lambda: "dsync timed out" in
                       self.log_since(self.b), timeout=60)
            wait_until("hung-a on b", lambda: "hung-a" in
                       subjects(self.b, "userb"), timeout=60)
            # the delay grew: a few retries, not one every 3 s
            self.assertLess(self.log_since(self.a).count(
                "userb: Sync not done, retrying soon"), 6)
        finally:
            self.fwd.running.set()
        wait_until("everything everywhere", lambda: all(
            {"hung-0", "hung-a", "hung-b"} <= subjects(inst, "userb")
            for inst in (self.a, self.b)), timeout=60)
        wait_equal(self.a, self.b, "userb")
