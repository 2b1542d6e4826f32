"""The services and the mail plugin run cleanly under valgrind: no memory
errors and no leaks while replicating, on bad input and at shutdown."""

import glob
import os
import re
import shutil
import unittest

import harness
from harness import PairTestCase, wait_until, wait_equal

ROOT = os.path.join(os.environ.get("TMPDIR", "/tmp"), "dovecot-replication-valgrind")
VG_DIR = os.path.join(ROOT, "valgrind")
VALGRIND = shutil.which("valgrind")


def valgrind_conf():
    cmd = (f"{VALGRIND} -q --leak-check=full --show-leak-kinds=definite "
           f"--errors-for-leak-kinds=definite --num-callers=30 "
           f"--log-file={VG_DIR}/%p.log")
    conf = ""
    for service, binary in (("aggregator", "aggregator"),
                            ("replicator", "replicator"),
                            ("lmtp", "lmtp")):
        conf += f"""service {service} {{
  executable = {cmd} /usr/lib/dovecot/{binary}
  vsz_limit = unlimited
}}
"""
    return conf


@unittest.skipIf(VALGRIND is None, "valgrind is not installed")
@unittest.skipIf(harness.sanitizer.DIR, "sanitizer build (valgrind and ASan don't mix)")
class ValgrindTest(PairTestCase):
    ROOT = ROOT
    INDEX = 6
    # userc waits for the replica: the plugin's synchronous path
    USERDB_A = {"userc": {"replication_sync_timeout": "30"}}
    USERDB_B = {"userc": {"replication_sync_timeout": "30"}}
    EXTRA_CONF_A = valgrind_conf() if VALGRIND else ""

    @classmethod
    def setUpClass(cls):
        shutil.rmtree(VG_DIR, ignore_errors=True)
        os.makedirs(VG_DIR)
        os.chmod(VG_DIR, 0o1777)
        super().setUpClass()

    def test_services_and_plugin_are_valgrind_clean(self):
        wait_until("replicator under valgrind",
                   lambda: glob.glob(f"{VG_DIR}/*.log"), timeout=60)
        for n in range(3):
            self.a.lmtp_deliver("usera", f"vg-{n}")
        self.a.lmtp_deliver("userc", "vg-sync")
        wait_equal(self.a, self.b, "usera", timeout=120)
        wait_equal(self.a, self.b, "userc", timeout=120)
        fifo = os.path.join(self.a.base_dir, "replication-notify-fifo")
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, b"usera\tbogus\n" + b"z" * 9000 + b"\n")
        finally:
            os.close(fd)
        self.b.lmtp_deliver("usera", "vg-from-b")
        wait_equal(self.a, self.b, "usera", timeout=120)
        # stop a: every process exits, valgrind writes its summaries
        self.a.stop()
        logs = glob.glob(f"{VG_DIR}/*.log")
        self.assertGreaterEqual(len(logs), 3)
        problems = []
        for path in logs:
            with open(path, errors="replace") as f:
                text = f.read()
            if re.search(r"Invalid (read|write|free)|uninitialised|"
                         r"definitely lost|Mismatched free|"
                         r"Process terminating", text):
                problems.append(f"{path}:\n{text}")
        self.assertEqual(problems, [])
        # the only errors are the bad input's
        self.assertEqual([line for line in self.a.log_errors()
                          if "Invalid notification" not in line], [])

    @classmethod
    def tearDownClass(cls):
        cls.b.stop()
        cls.a.stop()


if __name__ == "__main__":
    unittest.main()
