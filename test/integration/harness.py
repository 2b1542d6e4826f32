"""Integration-test harness: independent Dovecot 2.4 instances on 127.0.0.1.

Each instance has private base/state/log directories, a listable
passwd-file userdb, IMAP + POP3 + LMTP + doveadm TCP listeners sharing one
doveadm_password, and the dovecot-replication package enabled. Helpers
deliver mail, talk IMAP and compare mailbox content between instances.
Nothing here sleeps for a fixed time: waits poll until a deadline.
"""

import imaplib
import os
import pwd
import re
import grp
import shutil
import signal
import smtplib
import subprocess
import time
import unittest

import sanitizer

DOVEADM_PASSWORD = "replication-test-secret"
MAIL_USER = "drtest"
USERS = ("usera", "userb", "userc")
PORT_BASE = int(os.environ.get("DOVECOT_REPLICATION_PORT_BASE", "24600"))
# DOVECOT_REPLICATION_TEST_DEBUG=1: debug logs of our components
# (=dsync: dsync's too)
_debug = os.environ.get("DOVECOT_REPLICATION_TEST_DEBUG", "")
DEBUG_CONF = ("log_debug = category=replication OR category=aggregator OR "
              "category=replicator" +
              (" OR service=doveadm" if _debug == "dsync" else "") + "\n"
              if _debug else "")


def state_records(inst):
    """The replicator's saved users as {user: fields}: replicator.db with
    its journal (replicator.db.log) applied."""
    records = {}
    state = os.path.join(inst.dir, "state")
    for name in ("replicator.db", "replicator.db.log"):
        try:
            with open(os.path.join(state, name)) as f:
                lines = f.read().split("\n")[:-1]
        except FileNotFoundError:
            continue
        for line in lines:
            if name == "replicator.db":
                fields = line.split("\t")
            elif line[:1] == "+":
                fields = line[1:].split("\t")
            elif line[:1] == "-":
                records.pop(line[1:], None)
                continue
            else:
                continue
            records[fields[0]] = fields
    return records


def state_mtime(inst):
    """When the replicator last saved its state (either file)."""
    state = os.path.join(inst.dir, "state")
    times = [os.stat(os.path.join(state, n)).st_mtime
             for n in ("replicator.db", "replicator.db.log")
             if os.path.exists(os.path.join(state, n))]
    return max(times, default=0)


class TimeoutError(AssertionError):
    pass


def wait_until(what, predicate, timeout=20.0, interval=0.05):
    """Poll predicate() until it returns a true value; return that value.
    Raise TimeoutError naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def ensure_mail_user():
    """The system user that owns the mail (and the notify listeners)."""
    try:
        pw = pwd.getpwnam(MAIL_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                        "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
                        MAIL_USER], check=True)
        pw = pwd.getpwnam(MAIL_USER)
    return pw.pw_uid, pw.pw_gid


def run(cmd, check=True, **kw):
    res = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                         text=True, **kw)
    if check and res.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({res.returncode}):\n"
                             f"{res.stdout}{res.stderr}")
    return res


class Instance:
    """One Dovecot instance. Ports: base+0 doveadm, +1 lmtp, +2 imap, +3 pop3."""

    def __init__(self, root, name, index, extra_conf="", userdb_fields=None,
                 users=None, port_base=None):
        self.name = name
        self.dir = os.path.join(root, name)
        # the users of the passwd-file (default USERS)
        self.users = tuple(users) if users is not None else USERS
        base = (PORT_BASE if port_base is None else port_base) + index * 10
        self.doveadm_port = base
        self.lmtp_port = base + 1
        self.imap_port = base + 2
        self.pop3_port = base + 3
        self.extra_conf = extra_conf
        self.userdb_fields = userdb_fields or {}
        self.conf = os.path.join(self.dir, "dovecot.conf")
        self.log = os.path.join(self.dir, "log", "dovecot.log")
        self.base_dir = os.path.join(self.dir, "run")
        self.started = False

    # --- set-up ---------------------------------------------------------

    def write_config(self, replica=None):
        uid, gid = ensure_mail_user()
        shutil.rmtree(self.dir, ignore_errors=True)
        for d in ("run", "state", "log", "home"):
            os.makedirs(os.path.join(self.dir, d))
        os.chown(os.path.join(self.dir, "home"), uid, gid)
        users = os.path.join(self.dir, "users")
        with open(users, "w") as f:
            for u in self.users:
                fields = " ".join(f"userdb_{k}={v}" for k, v in
                                  self.userdb_fields.get(u, {}).items())
                f.write(f"{u}:{{PLAIN}}pass-{u}:{uid}:{gid}::::{fields}\n")
        os.chown(users, 0, grp.getgrnam("dovecot").gr_gid)
        os.chmod(users, 0o640)
        replica_conf = f"mail_replica = {replica}\n" if replica else ""
        with open(self.conf, "w") as f:
            f.write(f"""dovecot_config_version = 2.4.1
dovecot_storage_version = 2.4.1
instance_name = {self.name}
base_dir = {self.base_dir}
state_dir = {self.dir}/state
log_path = {self.log}
protocols = imap pop3 lmtp
listen = 127.0.0.1
ssl = no
first_valid_uid = 1
auth_mechanisms = plain
auth_allow_cleartext = yes
passdb passwd-file {{
  passwd_file_path = {users}
}}
userdb passwd-file {{
  passwd_file_path = {users}
}}
mail_driver = sdbox
mail_home = {self.dir}/home/%{{user | username}}
mail_path = %{{home}}/mail
namespace inbox {{
  inbox = yes
  separator = /
}}
mail_plugins {{
  notify = yes
  replication = yes
}}
# dsync's per-user lock lives on the server with the greater host name:
# two instances on one host need names of their own to exclude each other
import_environment {{
  DOVECOT_HOSTDOMAIN = {self.name}.replication.test
{sanitizer.IMPORT_ENV}}}
{sanitizer.CONF}{replica_conf}doveadm_password = {DOVEADM_PASSWORD}
service imap-login {{
  inet_listener imap {{
    listen = 127.0.0.1
    port = {self.imap_port}
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    listen = 127.0.0.1
    port = {self.pop3_port}
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    listen = 127.0.0.1
    port = {self.lmtp_port}
  }}
}}
service doveadm {{
  inet_listener doveadm {{
    listen = 127.0.0.1
    port = {self.doveadm_port}
  }}
}}
service aggregator {{
  fifo_listener replication-notify-fifo {{
    user = {MAIL_USER}
  }}
  unix_listener replication-notify {{
    user = {MAIL_USER}
  }}
}}
{DEBUG_CONF}{self.extra_conf}
""")

    def start(self):
        # The master keeps the caller's stderr: never hand it a pipe.
        with open(os.path.join(self.dir, "log", "master.out"), "ab") as out:
            subprocess.run(["dovecot", "-c", self.conf], stdin=subprocess.DEVNULL,
                           stdout=out, stderr=out, check=True)
        self.started = True
        wait_until(f"{self.name} doveadm socket",
                   lambda: os.path.exists(os.path.join(self.base_dir,
                                                       "doveadm-server")))
        wait_until(f"{self.name} master pid",
                   lambda: os.path.exists(os.path.join(self.base_dir,
                                                       "master.pid")))

    def stop(self):
        if not self.started:
            return
        pid = self.master_pid()
        run(["doveadm", "-c", self.conf, "stop"], check=False)
        if pid is not None:
            wait_until(f"{self.name} master exit",
                       lambda: not os.path.exists(f"/proc/{pid}"), timeout=15)
        self.started = False

    def master_pid(self):
        try:
            with open(os.path.join(self.base_dir, "master.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    # --- tools ----------------------------------------------------------

    def doveadm(self, *args, check=True):
        return run(["doveadm", "-c", self.conf, *args], check=check)

    def doveconf(self, *args, check=True):
        return run(["doveconf", "-c", self.conf, *args], check=check)

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log_errors(self, allow_peer_down=True):
        """Error, Fatal and Panic lines of the log. With allow_peer_down,
        failed syncs to a peer that wasn't up yet are not counted: a pair
        starts one instance after the other. A sync the replica turned
        away as busy isn't either."""
        lines = []
        for line in self.log_text().splitlines():
            if not re.search(r"(Fatal|Panic|Error):", line):
                continue
            if allow_peer_down and re.search(
                    r"Sync failed: doveadm sync failed: TEMPFAIL|"
                    r"Disconnected from remote: connect\(", line):
                continue
            # both replicators synced a user at once: the replica turned
            # this one away (doveadm logs it; the replicator retries)
            if re.search(r"cmd sync: Failed to start remote dsync-server "
                         r"command: Remote exit_code=76 PROTOCOL$", line):
                continue
            lines.append(line)
        return lines

    def service_pids(self, service):
        """PIDs of processes titled dovecot/<service> under this master."""
        master = self.master_pid()
        pids = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    cmd = f.read().split(b"\0")[0].decode(errors="replace")
            except (OSError, IndexError, ValueError):
                continue
            # titled dovecot/<service>, or dovecot-<instance>/<service>
            if ppid == master and re.match(rf"dovecot(-[^/]*)?/{service}( |$)",
                                           cmd):
                pids.append(int(d))
        return pids

    # --- clients --------------------------------------------------------

    def lmtp_deliver(self, user, subject, body="test body\n"):
        msg = (f"From: sender@example.com\r\nTo: {user}@example.com\r\n"
               f"Subject: {subject}\r\nMessage-ID: <{subject}.{time.time_ns()}"
               f"@test>\r\n\r\n{body}")
        with smtplib.LMTP("127.0.0.1", self.lmtp_port, timeout=30) as lmtp:
            lmtp.sendmail("sender@example.com", [user], msg.encode())

    def imap(self, user):
        conn = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=30)
        conn.login(user, f"pass-{user}")
        return conn

    # --- content --------------------------------------------------------

    def snapshot(self, user):
        """Folders, and per folder the set of (GUID, flags) of its mails;
        subscriptions under the key None. \\Recent is left out: it is per
        session, never replicated."""
        boxes = self.doveadm("-f", "tab", "mailbox", "list", "-u", user
                             ).stdout.splitlines()[1:]
        content = {b: set() for b in boxes}
        content[None] = frozenset(self.doveadm(
            "-f", "tab", "mailbox", "list", "-s", "-u", user
        ).stdout.splitlines()[1:])
        out = self.doveadm("-f", "tab", "fetch", "-u", user,
                           "mailbox guid flags", "ALL").stdout.splitlines()
        for line in out[1:]:
            box, guid, flags = (line.split("\t") + ["", ""])[:3]
            flags = " ".join(sorted(f for f in flags.split()
                                    if f != "\\Recent"))
            content.setdefault(box, set()).add((guid, flags))
        return content


def wait_equal(a, b, user, timeout=30.0):
    """Wait until both instances hold the same content for user."""
    state = {}

    def equal():
        state["a"], state["b"] = a.snapshot(user), b.snapshot(user)
        return state["a"] == state["b"]
    try:
        wait_until(f"{user} equal on {a.name} and {b.name}", equal, timeout)
    except TimeoutError as e:
        raise AssertionError(f"{e}\n{a.name}: {state.get('a')}\n"
                             f"{b.name}: {state.get('b')}") from None
    return state["a"]


class PairTestCase(unittest.TestCase):
    """Two instances, a and b, replicating to each other for the tests of
    the class. Subclasses set ROOT, INDEX (port block of a; b gets the
    next), and optionally USERDB_A/USERDB_B, EXTRA_CONF (both) and
    EXTRA_CONF_A (a only)."""
    ROOT = None
    INDEX = 0
    USERDB_A = None
    USERDB_B = None
    EXTRA_CONF = ""
    EXTRA_CONF_A = ""

    @classmethod
    def setUpClass(cls):
        cls.a = Instance(cls.ROOT, "a", cls.INDEX,
                         extra_conf=cls.EXTRA_CONF + cls.EXTRA_CONF_A,
                         userdb_fields=cls.USERDB_A)
        cls.b = Instance(cls.ROOT, "b", cls.INDEX + 1,
                         extra_conf=cls.EXTRA_CONF,
                         userdb_fields=cls.USERDB_B)
        cls.a.write_config(replica=f"tcp:127.0.0.1:{cls.b.doveadm_port}")
        cls.b.write_config(replica=f"tcp:127.0.0.1:{cls.a.doveadm_port}")
        cls.a.start()
        try:
            cls.b.start()
        except Exception:
            cls.a.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.b.stop()
        cls.a.stop()
