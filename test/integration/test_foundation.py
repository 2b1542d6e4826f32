"""The package builds, installs and loads: settings, services, plugins, and a
plain doveadm sync between two instances."""

import os
import shutil
import unittest

from harness import PairTestCase, run, wait_until, wait_equal

ROOT = os.path.join(os.environ.get("TMPDIR", "/tmp"), "dovecot-replication-it")

OUR_SETTINGS = {
    # setting: (value set in the test config, or None to check the default)
    "mail_replica": None,
    "noreplicate": None,
    "replication_sync_timeout": ("2s", "2s"),
    "replication_full_sync_interval": ("12h", "12h"),
    "replication_max_conns": ("7", "7"),
    "replication_dsync_parameters": ("-N -l 60", "-N -l 60"),
    "replicator_host": ("replicator", "replicator"),
    "replicator_port": ("0", "0"),
}
EXTRA_CONF = "".join(f"{k} = {v[0]}\n" for k, v in OUR_SETTINGS.items()
                     if v is not None and k not in ("replicator_host",
                                                    "replicator_port"))
MODULEDIR = "/usr/lib/dovecot/modules"


class FoundationTest(PairTestCase):
    ROOT = ROOT
    INDEX = 0
    EXTRA_CONF_A = EXTRA_CONF + "mail_debug = yes\n"
    USERDB_A = {
        "userb": {"noreplicate": "yes"},
        "userc": {"mail_replica": ""},
    }
    # userc is replicated by neither: it's for the plain doveadm sync
    USERDB_B = {"userc": {"mail_replica": ""}}

    def assert_clean_log(self, inst):
        self.assertEqual(inst.log_errors(), [], f"{inst.name} log has errors")

    def test_doveconf_lists_our_settings(self):
        out = self.a.doveconf("-n").stdout
        for key, val in OUR_SETTINGS.items():
            if val is not None and key not in ("replicator_host",
                                               "replicator_port"):
                self.assertRegex(out, rf"(?m)^{key} = ", key)
        self.assertRegex(out, r"(?m)^mail_replica = tcp:127\.0\.0\.1:")
        # every setting is known, with its default or configured value
        for key, val in OUR_SETTINGS.items():
            res = self.a.doveconf("-h", key)
            if val is not None:
                self.assertEqual(res.stdout.strip(), val[1], key)
        self.assertEqual(self.b.doveconf("-h", "replication_max_conns"
                                         ).stdout.strip(), "10")
        self.assertEqual(self.b.doveconf("-h", "replication_full_sync_interval"
                                         ).stdout.strip(), "1d")
        self.assertEqual(self.b.doveconf("-h", "noreplicate").stdout.strip(),
                         "no")

    def test_unknown_setting_still_fatal(self):
        # doveconf really validates keys, so the test above means something
        bad = self.a.conf + ".bad"
        with open(self.a.conf) as f, open(bad, "w") as out:
            out.write(f.read() + "replication_no_such_setting = 1\n")
        res = run(["doveconf", "-c", bad, "-n"], check=False)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("Unknown setting: replication_no_such_setting",
                      res.stderr)

    def test_services_declared_with_2_3_listeners(self):
        out = self.b.doveconf("service/aggregator", "service/replicator").stdout
        for name in ("replication-notify-fifo", "replication-notify",
                     "replicator", "replicator-doveadm"):
            self.assertIn(name, out)
        self.assertEqual(self.b.doveconf(
            "-h", "service/replicator/process_limit").stdout.strip(), "1")
        for sock in ("replicator", "replicator-doveadm", "replication-notify"):
            st = os.stat(os.path.join(self.b.base_dir, sock))
            self.assertEqual(st.st_mode & 0o777, 0o600, sock)
        st = os.stat(os.path.join(self.b.base_dir, "replicator-doveadm"))
        self.assertEqual(st.st_uid, 0)

    def test_services_run_under_master(self):
        wait_until("replicator process", lambda: self.a.service_pids("replicator"))
        # the aggregator is started by master when the fifo has data
        fifo = os.path.join(self.a.base_dir, "replication-notify-fifo")
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, b"usera\tlow\n")
        finally:
            os.close(fd)
        wait_until("aggregator process", lambda: self.a.service_pids("aggregator"))
        self.assert_clean_log(self.a)

    def test_doveadm_replicator_is_known(self):
        res = self.a.doveadm("replicator", "status", check=False)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("Total number of known users", res.stdout)
        help_out = self.a.doveadm("help", check=False)
        text = help_out.stdout + help_out.stderr
        self.assertRegex(text, r"(?m)^  replicator +"
                         r"add\|dsync-status\|remove\|replicate\|status$")

    def test_modules_carry_abi_version(self):
        with open("/usr/share/dovecot/dovecot-abi") as f:
            abi = f.read().strip()            # e.g. 2.4.abiv1
        for path, sym in (
                (f"{MODULEDIR}/lib20_replication_plugin.so",
                 "replication_plugin_version"),
                (f"{MODULEDIR}/doveadm/lib10_doveadm_replicator_plugin.so",
                 "doveadm_replicator_plugin_version"),
                (f"{MODULEDIR}/settings/libreplication_settings.so",
                 "replication_settings_version")):
            syms = run(["nm", "-D", "--defined-only", path]).stdout
            self.assertIn(sym, syms, path)
            with open(path, "rb") as f:
                data = f.read()
            self.assertIn(abi.replace("abiv", "ABIv").encode(), data, path)

    def test_other_abi_build_is_refused(self):
        with open("/usr/share/dovecot/dovecot-abi") as f:
            abi = f.read().strip()
        abi_root = os.path.join(os.path.dirname(__file__), "..", "..",
                                ".build", "abi")
        others = [d for d in (os.listdir(abi_root) if os.path.isdir(abi_root)
                              else []) if d != abi]
        if not others:
            self.skipTest("no build for another Dovecot ABI yet (test/run "
                          "builds trixie before sid)")
        for other in others:
            plugin_dir = os.path.join(ROOT, f"plugins-{other}")
            os.makedirs(plugin_dir, exist_ok=True)
            shutil.copy(f"{MODULEDIR}/lib15_notify_plugin.so", plugin_dir)
            shutil.copy(os.path.join(abi_root, other,
                                     "lib20_replication_plugin.so"),
                        plugin_dir)
            res = self.a.doveadm("-o", f"mail_plugin_dir={plugin_dir}",
                                 "mailbox", "list", "-u", "usera", check=False)
            self.assertNotEqual(res.returncode, 0, other)
            self.assertIn("Module is for different ABI version",
                          res.stdout + res.stderr, other)
        # and the same command with our own build works
        self.a.doveadm("mailbox", "list", "-u", "usera")

    def test_plugin_reads_per_user_settings_from_userdb(self):
        def debug_of(user):
            res = self.a.doveadm("-D", "mailbox", "list", "-u", user)
            return res.stdout + res.stderr
        self.assertIn("noreplicate set - replication disabled", debug_of("userb"))
        self.assertIn("No mail_replica setting", debug_of("userc"))
        out = debug_of("usera")
        self.assertNotIn("replication disabled", out)
        self.assertIn("Module loaded: " + MODULEDIR +
                      "/lib20_replication_plugin.so", out)

    def test_plugin_loads_in_imap_lmtp_pop3(self):
        self.a.lmtp_deliver("usera", "loads-lmtp")
        imap = self.a.imap("usera")
        try:
            typ, _ = imap.append("INBOX", None, None,
                                 b"Subject: loads-imap\r\n\r\nbody\r\n")
            self.assertEqual(typ, "OK")
            typ, data = imap.select("INBOX")
            self.assertEqual(typ, "OK")
            self.assertGreaterEqual(int(data[0]), 2)
        finally:
            imap.logout()
        import poplib
        pop = poplib.POP3("127.0.0.1", self.a.pop3_port, timeout=30)
        try:
            pop.user("usera")
            pop.pass_("pass-usera")
            self.assertGreaterEqual(pop.stat()[0], 2)
        finally:
            pop.quit()
        self.assertNotIn("Couldn't load", self.a.log_text())
        self.assert_clean_log(self.a)

    def test_doveadm_sync_converges(self):
        user = "userc"
        for i in range(3):
            self.a.lmtp_deliver(user, f"sync-a-{i}")
        imap = self.b.imap(user)
        try:
            imap.create("Archive")
            imap.append("Archive", "(\\Seen)", None,
                        b"Subject: sync-b\r\n\r\nbody\r\n")
        finally:
            imap.logout()
        self.assertNotEqual(self.a.snapshot(user), self.b.snapshot(user))
        self.a.doveadm("sync", "-u", user, f"tcp:127.0.0.1:{self.b.doveadm_port}")
        content = wait_equal(self.a, self.b, user, timeout=10)
        self.assertIn("Archive", content)
        self.assertEqual(len(content["INBOX"]), 3)
        self.assertEqual([f for _, f in content["Archive"]], ["\\Seen"])


if __name__ == "__main__":
    unittest.main()
