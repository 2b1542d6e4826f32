"""Trust: what happens *while* a sync runs. Each test makes a race
deterministic (a replica that accepts and never answers, SIGSTOP, a
missing auth socket) and then checks what must hold: no crash line, and no
change lost (it arrives without any later change)."""

import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest

from harness import (Instance, PairTestCase, run, wait_until, wait_equal,
                     state_records, state_mtime, ensure_mail_user)

ROOT = os.path.join(os.environ.get("TMPDIR", "/tmp"),
                    "dovecot-replication-trust")
CRASH_RE = re.compile(r"Panic:|Fatal:|assertion failed|Timeout leak|"
                      r"killed with signal|Raw backtrace")
# what the tests do themselves
EXPECTED_RE = re.compile(r"killed with signal 9\b")
# a short dsync timeout keeps black-holed syncs bounded; the index log
# rotates at 1 KiB, so a replica's dsync state goes stale quickly
CONF = """replication_dsync_timeout = 15s
mail_index_log_rotate_max_size = 1k
mail_index_log_rotate_min_size = 1k
log_debug = category=replication OR category=replicator
"""


class BlackHole:
    """Listens on a port, accepts connections and never answers."""

    def __init__(self, port):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)
        self.conns = []
        self.closed = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self, keep_conns=False):
        """Stop listening; keep_conns leaves the accepted connections
        open and silent (a peer gone without closing them)."""
        self.closed = True
        # shutdown wakes the accept(); close alone keeps it listening
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(timeout=10)
        if not keep_conns:
            self.close_conns()

    def close_conns(self):
        for conn in self.conns:
            conn.close()


def subjects(inst, user):
    out = inst.doveadm("-f", "tab", "fetch", "-u", user, "hdr.subject",
                       "mailbox", "INBOX", check=False).stdout
    return set(out.split())


def db_priority(inst, user):
    """The user's saved priority, None if absent."""
    fields = state_records(inst).get(user)
    return None if fields is None else int(fields[1])


def crash_lines(inst, since=0):
    """Crash lines of the log, from byte offset since on."""
    return [line for line in inst.log_text()[since:].splitlines()
            if CRASH_RE.search(line) and not EXPECTED_RE.search(line)]


def unix_peers(pid):
    """Number of sockets the process has open."""
    return sum(1 for fd in os.listdir(f"/proc/{pid}/fd")
               if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"))


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


class TrustTest(PairTestCase):
    ROOT = ROOT
    INDEX = 12
    EXTRA_CONF = CONF

    def setUp(self):
        # each test answers for its own log lines
        self.log_start = {inst.name: len(inst.log_text())
                          for inst in (self.a, self.b)}

    def tearDown(self):
        for inst in (self.a, self.b):
            if not inst.started:
                inst.start()
        for inst in (self.a, self.b):
            self.assertEqual(crash_lines(inst, self.log_start[inst.name]),
                             [], inst.name)

    def replicator_pid(self, inst):
        """The running replicator's pid, once it answers: a signal before
        its start-up has finished is a failed start-up to the master,
        which then throttles the service."""
        pid = wait_until(f"{inst.name} replicator",
                         lambda: inst.service_pids("replicator"))[0]
        wait_until(f"{inst.name} replicator answers", lambda: inst.doveadm(
            "replicator", "status", check=False).returncode == 0)
        return pid

    def new_replicator_pid(self, inst, old):
        return wait_until(f"{inst.name} replicator restarted", lambda: [
            p for p in inst.service_pids("replicator") if p != old])[0]

    def wait_dsync_running(self, inst, user, timeout=30):
        def running():
            out = inst.doveadm("replicator", "dsync-status",
                               check=False).stdout
            return any(line.split()[:1] == [user] and "dsync" in line
                       for line in out.splitlines())
        wait_until(f"{user}'s dsync running on {inst.name}", running,
                   timeout=timeout)

    def status_row(self, inst, user):
        out = inst.doveadm("-f", "tab", "replicator", "status", user,
                           check=False).stdout.splitlines()
        if len(out) < 2:
            return None
        return dict(zip(out[0].split("\t"), out[1].split("\t")))

    def test_full_sync_starts_with_an_incremental_one(self):
        """A full sync doesn't use the state; a user with one is synced
        with it first, so the full sync only misses what changes while it
        runs."""
        self.a.lmtp_deliver("usera", "pre-full")
        wait_equal(self.a, self.b, "usera")
        # a has a state of its own or handed over by b
        wait_until("a's state of usera", lambda: state_records(self.a).get(
            "usera", [""] * 8)[6] != "", timeout=30)
        start = len(self.a.log_text())
        self.a.doveadm("replicator", "replicate", "-f", "usera")
        wait_until("the full sync", lambda: re.search(
            r"usera: Starting an incremental sync before the full one\n"
            r"(.*\n)*.*usera: Starting sync\n(.*\n)*.*usera: Sync finished",
            self.a.log_text()[start:]), timeout=30)
        wait_equal(self.a, self.b, "usera")

    def mailboxes(self, inst, user):
        return inst.doveadm("mailbox", "list", "-u",
                            user).stdout.split()

    def replicated_folder(self, name, messages=0):
        """Create the folder on a with that many messages, and wait until
        b has it too."""
        self.a.doveadm("mailbox", "create", "-u", "usera", name)
        for i in range(messages):
            subprocess.run(["doveadm", "-c", self.a.conf, "save", "-u",
                            "usera", "-m", name], check=True, text=True,
                           input=f"Subject: {name}{i}\n\nx\n")
        wait_until(f"{name} on b", lambda: name in
                   self.mailboxes(self.b, "usera"), timeout=30)
        wait_equal(self.a, self.b, "usera")

    def test_folder_deleted_while_the_peer_syncs_stays_deleted(self):
        """Dovecot logs a deletion after the mailbox is gone: a dsync
        listing the mailboxes in between found neither, and created the
        folder again with its old GUID, for good. strace holds each
        write to b's mailbox change log, so a's sync runs right in that
        window."""
        if shutil.which("strace") is None:
            self.fail("strace is missing: run test/env/setup again")
        self.replicated_folder("doomed", 2)
        changelog = os.path.join(self.b.dir, "home", "usera", "mail",
                                 "dovecot.mailbox.log")
        delete = subprocess.Popen(
            ["strace", "-f", "-qq", "-o", "/dev/null", "-P", changelog,
             "-e", "trace=write", "-e", "inject=write:delay_enter=5000000",
             "doveadm", "-c", self.b.conf, "mailbox", "delete", "-u",
             "usera", "doomed"])
        try:
            wait_until("doomed gone from b's list", lambda: "doomed" not in
                       self.mailboxes(self.b, "usera"), timeout=30)
            self.assertIsNone(delete.poll(), "the deletion ended too soon")
            start = len(self.a.log_text())
            self.a.doveadm("replicator", "replicate", "usera")
            wait_until("a's sync", lambda: re.search(
                r"usera: Starting sync", self.a.log_text()[start:]),
                timeout=30)
            self.assertIsNone(delete.poll(),
                              "a's sync started after the deletion")
            wait_until("a's sync", lambda: re.search(
                r"usera: Sync (finished|failed)", self.a.log_text()[start:]),
                timeout=30)
        finally:
            self.assertEqual(delete.wait(60), 0)
        self.a.doveadm("replicator", "replicate", "usera")
        wait_until("doomed gone from both", lambda: all(
            "doomed" not in self.mailboxes(inst, "usera")
            for inst in (self.a, self.b)), timeout=30)
        wait_equal(self.a, self.b, "usera")

    def sync_and_wait(self, inst, user):
        start = len(inst.log_text())
        inst.doveadm("replicator", "replicate", user)
        wait_until(f"{inst.name}'s sync", lambda: re.search(
            rf"{user}: Sync (finished|failed)", inst.log_text()[start:]),
            timeout=60)

    def status_messages(self, inst, box):
        res = inst.doveadm("mailbox", "status", "-u", "usera", "messages",
                           box, check=False)
        return res.stdout.strip() if res.returncode == 0 else \
            "error: " + res.stderr.strip()

    def test_failed_folder_delete_keeps_the_folder(self):
        """A deletion that fails after the folder was marked deleted
        (delete -e of a folder that isn't empty; also new mail during
        the deletion) logs no deletion: a sync while the folder is marked
        takes nothing from it. strace holds the writes to the folder's
        index log after the mark."""
        self.replicated_folder("keep", 2)
        index_log = os.path.join(self.b.dir, "home", "usera", "mail",
                                 "mailboxes", "keep", "dbox-Mails",
                                 "dovecot.index.log")
        delete = subprocess.Popen(
            ["strace", "-f", "-qq", "-o", "/dev/null", "-P", index_log,
             "-e", "trace=write,pwrite64,writev,pwritev",
             "-e", "inject=write,pwrite64,writev,pwritev:"
             "delay_enter=5000000:when=2+",
             "doveadm", "-c", self.b.conf, "mailbox", "delete", "-e",
             "-u", "usera", "keep"], stderr=subprocess.PIPE, text=True)
        try:
            wait_until("keep marked deleted on b", lambda: "deleted" in
                       self.status_messages(self.b, "keep"), timeout=30)
            self.sync_and_wait(self.a, "usera")
        finally:
            _, err = delete.communicate(timeout=60)
        self.assertIn("isn't empty", err)
        self.sync_and_wait(self.a, "usera")
        self.sync_and_wait(self.b, "usera")
        wait_equal(self.a, self.b, "usera")
        for inst in (self.a, self.b):
            self.assertEqual(self.status_messages(inst, "keep"),
                             "keep messages=2", inst.name)

    def test_folder_renamed_while_the_peer_syncs_stays_renamed(self):
        """Dovecot logs a rename after it: a dsync in between took the
        new name for one without a timestamp, and the old name (sorting
        first) won the conflict, renaming it back for good."""
        self.replicated_folder("aold")
        changelog = os.path.join(self.b.dir, "home", "usera", "mail",
                                 "dovecot.mailbox.log")
        rename = subprocess.Popen(
            ["strace", "-f", "-qq", "-o", "/dev/null", "-P", changelog,
             "-e", "trace=write", "-e", "inject=write:delay_enter=5000000",
             "doveadm", "-c", self.b.conf, "mailbox", "rename", "-u",
             "usera", "aold", "znew"], stderr=subprocess.PIPE, text=True)
        try:
            wait_until("znew on b", lambda: "znew" in
                       self.mailboxes(self.b, "usera"), timeout=30)
            self.assertIsNone(rename.poll(), "the rename ended too soon")
            self.sync_and_wait(self.a, "usera")
        finally:
            self.assertEqual(rename.wait(60), 0)
        self.sync_and_wait(self.b, "usera")
        self.sync_and_wait(self.a, "usera")
        wait_equal(self.a, self.b, "usera")
        for inst in (self.a, self.b):
            boxes = self.mailboxes(inst, "usera")
            self.assertIn("znew", boxes, inst.name)
            self.assertNotIn("aold", boxes, inst.name)

    def test_failed_rename_leaves_the_peers_rename_alone(self):
        """A rename that fails (the new name exists) writes no rename
        record: one would stamp the existing folder as renamed just now,
        and dsync would undo the peer's older rename to that name."""
        for box in ("keep2", "other2"):
            self.a.doveadm("mailbox", "create", "-u", "usera", box)
        wait_until("keep2 and other2 on b", lambda: {"keep2", "other2"} <=
                   set(self.mailboxes(self.b, "usera")), timeout=30)
        wait_equal(self.a, self.b, "usera")
        # b's rename isn't synced before a's attempt
        pid = self.replicator_pid(self.b)
        os.kill(pid, signal.SIGSTOP)
        try:
            self.b.doveadm("mailbox", "rename", "-u", "usera", "keep2",
                           "renamed2")
            renamed = int(time.time())
            # a later second: a record would win
            wait_until("the next second", lambda: int(time.time()) >
                       renamed, timeout=5)
            res = self.a.doveadm("mailbox", "rename", "-u", "usera",
                                 "other2", "keep2", check=False)
            self.assertIn("already exists", res.stderr)
        finally:
            os.kill(pid, signal.SIGCONT)
        self.sync_and_wait(self.b, "usera")
        self.sync_and_wait(self.a, "usera")
        wait_equal(self.a, self.b, "usera")
        for inst in (self.a, self.b):
            boxes = self.mailboxes(inst, "usera")
            self.assertIn("renamed2", boxes, inst.name)
            self.assertNotIn("keep2", boxes, inst.name)

    def changelog_deletes(self, inst, guid):
        """The DELETE records of the mailbox GUID in the user's change
        log (both files)."""
        base = os.path.join(inst.dir, "home", "usera", "mail",
                            "dovecot.mailbox.log")
        count = 0
        for path in (base + ".2", base):
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                continue
            count += sum(1 for i in range(0, len(data) - 23, 24)
                         if data[i] == 1 and data[i + 4:i + 20].hex() == guid)
        return count

    def test_folder_deleted_by_a_long_session_stays_deleted(self):
        """Dovecot keeps the change log open for up to a minute: after
        another process rotated it, a long IMAP session's DELETE record
        went to the rotated file, and with the next rotation nowhere; the
        peer's copy then came back."""
        self.replicated_folder("longdel")
        guid = self.a.doveadm("mailbox", "status", "-u", "usera", "guid",
                              "longdel").stdout.split("=")[1].strip()
        changelog = os.path.join(self.a.dir, "home", "usera", "mail",
                                 "dovecot.mailbox.log")
        # the session's log stays open until the next full minute
        wait_until("a minute with time left", lambda:
                   time.localtime().tm_sec < 40, timeout=30, interval=0.2)
        minute = int(time.time() // 60)
        imap = self.a.imap("usera")
        try:
            imap.subscribe("longdel")
            # fill the log up to its rotation size: the next record of
            # another process rotates it, the one after starts a new one
            with open(changelog, "ab") as f:
                f.write((b"\x04" + b"\x00" * 23) * 171)
            self.a.doveadm("mailbox", "subscribe", "-u", "usera", "INBOX")
            self.a.doveadm("mailbox", "unsubscribe", "-u", "usera", "INBOX")
            self.assertEqual(imap.delete("longdel")[0], "OK")
        finally:
            imap.logout()
        self.assertEqual(int(time.time() // 60), minute,
                         "the session's log was reopened meanwhile")
        self.assertGreater(self.changelog_deletes(self.a, guid), 0)
        self.sync_and_wait(self.a, "usera")
        self.sync_and_wait(self.b, "usera")
        wait_equal(self.a, self.b, "usera")
        for inst in (self.a, self.b):
            self.assertNotIn("longdel", self.mailboxes(inst, "usera"),
                             inst.name)

    def test_delete_whose_record_rotates_the_log_stays_deleted(self):
        """The plugin's own DELETE record may be the one that rotates the
        change log; Dovecot's record, written after the deletion, went
        through the rotated file and rotated another process's new log
        over it, losing both. strace holds the IMAP session's deletion
        while another process writes a record."""
        self.replicated_folder("rotdel")
        guid = self.a.doveadm("mailbox", "status", "-u", "usera", "guid",
                              "rotdel").stdout.split("=")[1].strip()
        changelog = os.path.join(self.a.dir, "home", "usera", "mail",
                                 "dovecot.mailbox.log")
        imap = self.a.imap("usera")
        imap.select("INBOX")
        pid = max(self.a.service_pids("imap"))
        tracer = None
        try:
            # a new log, filled up to just below its rotation size
            self.a.doveadm("mailbox", "subscribe", "-u", "usera", "INBOX")
            if os.path.exists(changelog):
                os.rename(changelog, changelog + ".2")
            with open(changelog, "wb") as f:
                f.write((b"\x04" + b"\x00" * 23) * 170)
            os.chown(changelog, *ensure_mail_user())
            tracer = subprocess.Popen(
                ["strace", "-qq", "-o", "/dev/null", "-p", str(pid),
                 "-e", "trace=rmdir",
                 "-e", "inject=rmdir:delay_enter=4000000:when=1"])
            wait_until("strace attached", lambda: re.search(
                r"TracerPid:\s+[1-9]", open(f"/proc/{pid}/status").read()))
            result = {}
            thread = threading.Thread(target=lambda: result.update(
                r=imap.delete("rotdel")))
            thread.start()
            # the plugin's record rotated the log: the deletion is held
            wait_until("the log rotated by the plugin's record", lambda:
                       not os.path.exists(changelog) and
                       self.changelog_deletes(self.a, guid) == 1)
            self.a.doveadm("mailbox", "unsubscribe", "-u", "usera", "INBOX")
            thread.join(30)
            self.assertEqual(result["r"][0], "OK")
        finally:
            if tracer is not None:
                tracer.terminate()
                tracer.wait(10)
            imap.logout()
        self.assertGreater(self.changelog_deletes(self.a, guid), 0)
        self.sync_and_wait(self.a, "usera")
        self.sync_and_wait(self.b, "usera")
        wait_equal(self.a, self.b, "usera")
        for inst in (self.a, self.b):
            self.assertNotIn("rotdel", self.mailboxes(inst, "usera"),
                             inst.name)

    def with_black_hole(self, fn):
        """Run fn(hole) while b's doveadm port accepts and never answers,
        then bring the real b back."""
        wait_equal(self.a, self.b, "usera")
        self.b.stop()
        hole = BlackHole(self.b.doveadm_port)
        try:
            return fn(hole)
        finally:
            hole.close()
            self.b.start()

    # --- crashes ------------------------------------------------------

    def test_sigterm_mid_sync_no_panic_change_kept(self):
        """C1, R2: a stop or restart while a dsync runs neither panics nor
        forgets the change that started the sync."""
        def work(hole):
            self.a.lmtp_deliver("usera", "c1-term")
            self.wait_dsync_running(self.a, "usera")
            pid = self.replicator_pid(self.a)
            os.kill(pid, signal.SIGTERM)
            self.new_replicator_pid(self.a, pid)
            self.assertIn("Sync aborted: shutting down", self.a.log_text())
        self.with_black_hole(work)
        # no later change: the restarted replicator still has it due
        wait_until("c1-term on b", lambda: "c1-term" in
                   subjects(self.b, "usera"), timeout=90)

    def test_sigkill_mid_sync_change_kept(self):
        """R2: a kill -9 while a dsync runs keeps the change due."""
        def work(hole):
            self.a.lmtp_deliver("usera", "r2-kill")
            self.wait_dsync_running(self.a, "usera")
            started = time.time()
            # a save while the sync runs keeps the starting priority
            wait_until("state saved during the sync", lambda:
                       state_mtime(self.a) > started, timeout=15)
            self.assertGreaterEqual(db_priority(self.a, "usera"), 2)
            pid = self.replicator_pid(self.a)
            os.kill(pid, signal.SIGKILL)
            self.new_replicator_pid(self.a, pid)
        self.with_black_hole(work)
        wait_until("r2-kill on b", lambda: "r2-kill" in
                   subjects(self.b, "usera"), timeout=90)

    def test_remove_mid_sync_no_assertion(self):
        """C2: replicator remove of a user whose dsync runs."""
        pid = self.replicator_pid(self.a)

        def work(hole):
            self.a.lmtp_deliver("userb", "c2-remove")
            self.wait_dsync_running(self.a, "userb")
            self.a.doveadm("replicator", "remove", "userb")
        self.with_black_hole(work)
        # the black hole closed: the dsync ended
        wait_until("userb's dsync over", lambda: "userb" not in
                   self.a.doveadm("replicator", "dsync-status").stdout,
                   timeout=60)
        self.assertEqual(self.replicator_pid(self.a), pid)
        # the user comes back with its next change
        self.a.lmtp_deliver("userb", "c2-after")
        wait_until("c2-after on b", lambda: "c2-after" in
                   subjects(self.b, "userb"), timeout=60)

    def test_auth_userdb_missing_no_busy_loop(self):
        """C3: a failing auth-userdb connect neither busy-loops nor leaks
        a timeout, and the user is replicated once auth is back."""
        sock = os.path.join(self.a.base_dir, "auth-userdb")
        moved = sock + ".away"
        pid = self.replicator_pid(self.a)
        os.rename(sock, moved)
        try:
            os.kill(pid, signal.SIGTERM)
            pid = self.new_replicator_pid(self.a, pid)
            self.a.doveadm("replicator", "replicate", "usera")
            wait_until("the lookup failed", lambda:
                       "Can't replicate: net_connect_unix" in
                       self.a.log_text())
            # CPU over a 2 s window: a busy loop uses all of it
            t0, c0 = time.monotonic(), cpu_ticks(pid)
            time.sleep(2)
            used = (cpu_ticks(pid) - c0) / os.sysconf("SC_CLK_TCK")
            self.assertLess(used / (time.monotonic() - t0), 0.3)
        finally:
            os.rename(moved, sock)
        self.a.lmtp_deliver("usera", "c3-after")
        wait_until("c3-after on b", lambda: "c3-after" in
                   subjects(self.b, "usera"), timeout=90)

    def test_stop_during_add_listing_no_segfault(self):
        """C4: stopping Dovecot while replicator add <mask> lists."""
        auth = self.a.service_pids("auth")
        self.assertTrue(auth)
        for p in auth:
            os.kill(p, signal.SIGSTOP)
        peers0 = unix_peers(self.a.service_pids("replicator")[0])
        add = subprocess.Popen(["doveadm", "-c", self.a.conf, "replicator",
                                "add", "user*"],
                               stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        try:
            wait_until("the ADD is pending", lambda: add.poll() is None
                       and unix_peers(self.a.service_pids("replicator")[0])
                       > peers0)
            self.a.stop()
        finally:
            for p in auth:
                try:
                    os.kill(p, signal.SIGCONT)
                except ProcessLookupError:
                    pass
            add.wait(timeout=60)
        self.a.start()

    # --- lost changes ---------------------------------------------------

    def test_replicator_crash_with_notification_in_flight(self):
        """R3: the aggregator resends what the replicator hadn't saved."""
        wait_equal(self.a, self.b, "userc")
        pid = self.replicator_pid(self.a)
        os.kill(pid, signal.SIGSTOP)
        notified = re.compile(r"lmtp\(userc\).*Notified")
        try:
            before = len(notified.findall(self.a.log_text()))
            self.a.lmtp_deliver("userc", "r3-inflight")
            wait_until("notified", lambda: len(notified.findall(
                self.a.log_text())) > before)
        finally:
            os.kill(pid, signal.SIGKILL)
        self.new_replicator_pid(self.a, pid)
        wait_until("r3-inflight on b", lambda: "r3-inflight" in
                   subjects(self.b, "userc"), timeout=60)

    def test_stale_replica_state_is_resynced(self):
        """R1: the replica finds our state stale (its log rotated): the
        sync is incomplete, a full sync follows, nothing is left behind."""
        self.a.lmtp_deliver("usera", "r1-base")
        wait_equal(self.a, self.b, "usera")
        self.a.stop()
        for n in range(20):
            self.b.lmtp_deliver("usera", f"r1-b{n}", body="x" * 200 + "\n")
        self.a.start()
        self.a.lmtp_deliver("usera", "r1-a")
        wait_until("r1-a on b", lambda: "r1-a" in subjects(self.b, "usera"),
                   timeout=90)
        wait_until("b's mails on a", lambda: all(
            f"r1-b{n}" in subjects(self.a, "usera") for n in range(20)),
            timeout=90)
        wait_equal(self.a, self.b, "usera", timeout=60)

    def test_local_permission_error_keeps_user(self):
        """R4: a permission error is a failure, not the replica's
        noreplicate refusal: the user stays replicated."""
        self.a.lmtp_deliver("userc", "r4-before")
        wait_equal(self.a, self.b, "userc")
        boxes = os.path.join(self.a.dir, "home", "userc", "mail", "mailboxes")
        mode = os.stat(boxes).st_mode
        os.chmod(boxes, 0o500)
        try:
            self.b.doveadm("mailbox", "create", "-u", "userc", "PermBox")
            # a's replicator runs the dsync: the error is in its process
            self.a.doveadm("replicator", "replicate", "-p", "high", "userc")
            wait_until("the sync failed", lambda: (self.status_row(
                self.a, "userc") or {}).get("failed") == "y", timeout=60)
            self.assertNotIn("userc: Removing user from replication",
                             self.a.log_text())
            self.assertIsNotNone(self.status_row(self.a, "userc"))
        finally:
            os.chmod(boxes, mode)
        self.b.lmtp_deliver("userc", "r4-after")
        wait_equal(self.a, self.b, "userc", timeout=120)

    def test_dsync_timeout_frees_the_slot(self):
        """A hung dsync is given up after replication_dsync_timeout, and
        last error says so."""
        def work(hole):
            self.a.lmtp_deliver("userc", "timeout")
            # a hand-over of userc to the stopped b may still hold the
            # user for its 30 s
            self.wait_dsync_running(self.a, "userc", timeout=60)
            wait_until("timed out", lambda: "timed out" in (self.status_row(
                self.a, "userc") or {}).get("last error", ""), timeout=40)
            self.assertNotIn("userc", self.a.doveadm(
                "replicator", "dsync-status").stdout)
            # the hung dsync still holds its connection: for another
            # timeout (15 s), no new dsync to the replica starts (they
            # would pile up). Watched for 10 s of it. (dsync and earlier
            # state hand-overs may have opened more than one connection.)
            conns = len(hole.conns)
            self.assertGreaterEqual(conns, 1)
            self.a.lmtp_deliver("usera", "timeout-2")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                self.assertEqual(len(hole.conns), conns)
                time.sleep(0.5)
        self.with_black_hole(work)
        wait_until("timeout on b", lambda: "timeout" in
                   subjects(self.b, "userc") and "timeout-2" in
                   subjects(self.b, "usera"), timeout=120)


class HungReplicaTest(PairTestCase):
    """A dsync that hangs for good (its peer vanished without closing the
    connection) holds its replica up for one more timeout, not forever."""
    ROOT = ROOT + "-hung"
    INDEX = 20
    EXTRA_CONF = "replication_dsync_timeout = 8s\n"

    def test_hung_dsync_does_not_stall_the_replica(self):
        self.a.lmtp_deliver("usera", "hung-before")
        wait_equal(self.a, self.b, "usera")
        self.b.stop()
        hole = BlackHole(self.b.doveadm_port)
        try:
            self.a.lmtp_deliver("userc", "hung-1")
            wait_until("the dsync timed out", lambda: "dsync timed out" in
                       self.a.log_text(), timeout=40)
            # the peer is back, the hung connection stays
            hole.close(keep_conns=True)
            self.b.start()
            self.a.lmtp_deliver("usera", "hung-after")
            wait_until("hung-after on b", lambda: "hung-after" in
                       subjects(self.b, "usera"), timeout=90)
            wait_until("hung-1 on b", lambda: "hung-1" in
                       subjects(self.b, "userc"), timeout=90)
        finally:
            hole.close_conns()
        for inst in (self.a, self.b):
            self.assertEqual(crash_lines(inst), [], inst.name)


class ChainTest(unittest.TestCase):
    """R5: a -> b -> c. The state a hands to b is the a<->b pair's: b must
    not use it for b<->c, or c misses changes."""

    @classmethod
    def setUpClass(cls):
        cls.a = Instance(ROOT + "-chain", "a", 17, extra_conf=CONF)
        cls.b = Instance(ROOT + "-chain", "b", 18, extra_conf=CONF)
        cls.c = Instance(ROOT + "-chain", "c", 19, extra_conf=CONF)
        cls.a.write_config(replica=f"tcp:127.0.0.1:{cls.b.doveadm_port}")
        cls.b.write_config(replica=f"tcp:127.0.0.1:{cls.c.doveadm_port}")
        cls.c.write_config()
        cls.started = []
        for inst in (cls.c, cls.b, cls.a):
            inst.start()
            cls.started.append(inst)

    @classmethod
    def tearDownClass(cls):
        for inst in cls.started:
            inst.stop()

    def test_foreign_state_is_not_used_for_another_pair(self):
        self.b.lmtp_deliver("usera", "chain-b1")
        wait_until("chain-b1 on c", lambda: "chain-b1" in
                   subjects(self.c, "usera"), timeout=60)
        for n in range(3):
            self.a.lmtp_deliver("usera", f"chain-a{n}")
        wait_until("a's mails on b", lambda: all(
            f"chain-a{n}" in subjects(self.b, "usera") for n in range(3)),
            timeout=60)
        # a handed its state over (adopted or not)
        wait_until("b heard from a", lambda: "usera: synced by" in
                   self.b.log_text(), timeout=30)
        self.b.lmtp_deliver("usera", "chain-b2")
        wait_until("everything on c", lambda: {
            "chain-b1", "chain-b2", "chain-a0", "chain-a1", "chain-a2"} <=
            subjects(self.c, "usera"), timeout=60)
        # with a's state, c would have found b's sync stale (and only the
        # full sync that follows would have caught up)
        for inst in (self.b, self.c):
            self.assertNotIn("Failed to do incremental sync",
                             inst.log_text(), inst.name)
        self.assertNotIn("Sync incomplete", self.b.log_text())
        for inst in (self.a, self.b, self.c):
            self.assertEqual(crash_lines(inst), [], inst.name)


class SettingsTest(unittest.TestCase):
    def test_full_sync_interval_zero_is_rejected(self):
        from harness import Instance
        inst = Instance(ROOT + "-settings", "s", 16,
                        extra_conf="replication_full_sync_interval = 0\n")
        inst.write_config(replica="tcp:127.0.0.1:1")
        res = inst.doveconf("-n", check=False)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("replication_full_sync_interval must not be 0",
                      res.stderr + res.stdout)


class GlobalNoreplicateTest(PairTestCase):
    """noreplicate = yes in the config: the replicator replicates only the
    users whose userdb says noreplicate=no."""
    ROOT = ROOT + "-noreplicate"
    INDEX = 14
    EXTRA_CONF_A = "noreplicate = yes\n"
    USERDB_A = {"usera": {"noreplicate": "no"}}

    def test_config_noreplicate_is_followed(self):
        self.a.doveadm("replicator", "add", "userb")
        wait_until("userb dropped", lambda:
                   "userb: Removing user from replication: noreplicate is "
                   "set" in self.a.log_text(), timeout=30)
        self.a.lmtp_deliver("usera", "global-noreplicate")
        wait_until("usera replicated", lambda: "global-noreplicate" in
                   subjects(self.b, "usera"), timeout=30)


if __name__ == "__main__":
    unittest.main()


class AggregatorIdleTest(PairTestCase):
    """Where the admin lets the master stop an idle aggregator
    (process_min_avail = 0, idle_kill_interval), it doesn't stop one that
    holds requests the replicator hasn't saved."""
    ROOT = ROOT + "-aggregator-idle"
    INDEX = 28
    EXTRA_CONF = ("service aggregator {\n  process_min_avail = 0\n"
                  "  idle_kill_interval = 1s\n}\n"
                  "log_debug = category=aggregator\n")

    def test_idle_aggregator_keeps_unsaved_requests(self):
        self.a.lmtp_deliver("usera", "idle-0")
        wait_equal(self.a, self.b, "usera")
        sock = os.path.join(self.a.base_dir, "replicator")
        away = sock + ".away"
        # the aggregator can't reach the replicator: requests wait in it
        pid = wait_until("a's replicator", lambda:
                         self.a.service_pids("replicator"))[0]
        os.rename(sock, away)
        try:
            os.kill(pid, signal.SIGKILL)
            wait_until("a's aggregator lost the replicator", lambda:
                       "keeping requests until the replicator is back" in
                       self.a.log_text(), timeout=30)
            start = len(self.a.log_text())
            self.a.lmtp_deliver("usera", "idle-1")
            # the master asked it to stop while idle, and it didn't
            wait_until("the idle stop refused", lambda: "Not stopping while "
                       "the replicator hasn't saved" in
                       self.a.log_text()[start:], timeout=30)
        finally:
            os.rename(away, sock)
        wait_until("idle-1 on b", lambda: "idle-1" in
                   subjects(self.b, "usera"), timeout=60)
        self.assertNotIn("Shutting down with", self.a.log_text())
        for inst in (self.a, self.b):
            self.assertEqual(crash_lines(inst), [], inst.name)


def spool_text(inst):
    """What the aggregator's spool holds."""
    try:
        with open(os.path.join(inst.base_dir, "replication-aggregator",
                               "requests")) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def replicator_away(inst):
    """Kill inst's replicator and hide its socket, so that the aggregator
    keeps what it reads; returns a function that brings the socket
    back."""
    sock = os.path.join(inst.base_dir, "replicator")
    pid = wait_until(f"{inst.name}'s replicator", lambda:
                     inst.service_pids("replicator"))[0]
    os.rename(sock, sock + ".away")
    os.kill(pid, signal.SIGKILL)
    wait_until(f"{inst.name}'s aggregator lost the replicator", lambda:
               "keeping requests until the replicator is back" in
               inst.log_text(), timeout=30)
    return lambda: os.rename(sock + ".away", sock)


class AggregatorKillTest(PairTestCase):
    """A request the aggregator has read, but the replicator hasn't saved,
    survives a kill -9 of the aggregator: it is in the spool, and the
    aggregator the master starts at once sends it."""
    ROOT = ROOT + "-aggregator-kill"
    INDEX = 30
    EXTRA_CONF = "log_debug = category=aggregator\n"

    def spool_text(self):
        return spool_text(self.a)

    def test_kill9_while_the_replicator_is_away(self):
        self.a.lmtp_deliver("usera", "kill-0")
        wait_equal(self.a, self.b, "usera")
        # saved by the replicator: the spool is emptied
        wait_until("the spool emptied", lambda: self.spool_text() == "",
                   timeout=30)
        agg = wait_until("a's aggregator", lambda:
                         self.a.service_pids("aggregator"))[0]
        back = replicator_away(self.a)
        try:
            self.a.lmtp_deliver("userb", "kill-1")
            wait_until("the request spooled", lambda: "userb" in
                       self.spool_text(), timeout=30)
            start = len(self.a.log_text())
            os.kill(agg, signal.SIGKILL)
            new = wait_until("a new aggregator", lambda: [
                p for p in self.a.service_pids("aggregator") if p != agg],
                timeout=30)
            self.assertNotEqual(new, [agg])
            wait_until("the spool read", lambda: "Sending 1 requests left "
                       "unsaved" in self.a.log_text()[start:], timeout=30)
        finally:
            back()
        wait_until("kill-1 on b", lambda: "kill-1" in
                   subjects(self.b, "userb"), timeout=60)
        wait_equal(self.a, self.b, "userb")
        wait_until("the spool emptied", lambda: self.spool_text() == "",
                   timeout=30)
        for inst in (self.a, self.b):
            self.assertEqual(crash_lines(inst), [], inst.name)


def spool_dir(inst):
    return os.path.join(inst.base_dir, "replication-aggregator")


class AggregatorSpoolFullTest(PairTestCase):
    """A request that couldn't be spooled (its file system full) is
    written once the disk has room again, before the replicator has saved
    it."""
    ROOT = ROOT + "-aggregator-full"
    INDEX = 32
    EXTRA_CONF = "log_debug = category=aggregator\n"

    @classmethod
    def setUpClass(cls):
        # a's spool is a small file system of its own (a full base_dir
        # would also stop Dovecot's config process from starting others)
        write_config = Instance.write_config

        def small_spool(inst, replica=None):
            write_config(inst, replica)
            if inst.name == "a":
                os.makedirs(spool_dir(inst))
                run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs",
                     spool_dir(inst)])
        Instance.write_config = small_spool
        try:
            super().setUpClass()
        finally:
            Instance.write_config = write_config

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        run(["umount", spool_dir(cls.a)], check=False)

    def test_request_spooled_when_room_comes_back(self):
        self.a.lmtp_deliver("usera", "full-0")
        wait_equal(self.a, self.b, "usera")
        wait_until("the spool emptied", lambda: spool_text(self.a) == "",
                   timeout=30)
        back = replicator_away(self.a)
        filler = os.path.join(spool_dir(self.a), "filler")
        try:
            run(["sh", "-c", f"dd if=/dev/zero of={filler} bs=4k "
                 "2>/dev/null; true"])
            start = len(self.a.log_text())
            self.a.lmtp_deliver("usera", "full-1")
            wait_until("the failed spool write", lambda: "No space left" in
                       self.a.log_text()[start:], timeout=30)
            os.unlink(filler)
            self.a.lmtp_deliver("userc", "full-2")
            # both: the request that wasn't written is written now
            wait_until("both requests spooled", lambda: "usera" in
                       spool_text(self.a) and "userc" in spool_text(self.a),
                       timeout=30)
            agg = self.a.service_pids("aggregator")[0]
            start = len(self.a.log_text())
            os.kill(agg, signal.SIGKILL)
            wait_until("the spool read", lambda: "Sending 2 requests left "
                       "unsaved" in self.a.log_text()[start:], timeout=30)
        finally:
            if os.path.exists(filler):
                os.unlink(filler)
            back()
        for user, subject in (("usera", "full-1"), ("userc", "full-2")):
            wait_until(f"{subject} on b", lambda: subject in
                       subjects(self.b, user), timeout=60)
        for inst in (self.a, self.b):
            self.assertEqual(crash_lines(inst), [], inst.name)
