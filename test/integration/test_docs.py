"""The shipped documentation works: the man page renders, the example
configuration is accepted by Dovecot 2.4."""

import os
import shutil
import unittest

from harness import Instance, run, ensure_mail_user, MAIL_USER

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
MAN = os.path.join(TOP, "doc", "man", "doveadm-replicator.1")
EXAMPLE = os.path.join(TOP, "doc", "example-config", "conf.d",
                       "90-replication.conf")
ROOT = os.path.join(os.environ.get("TMPDIR", "/tmp"), "dovecot-replication-docs")


class DocsTest(unittest.TestCase):
    @unittest.skipIf(shutil.which("man") is None, "man is not installed")
    def test_man_page_renders(self):
        res = run(["man", "--warnings", "-l", MAN],
                  env=dict(os.environ, MANWIDTH="80"))
        self.assertEqual(res.stderr, "")
        for cmd in ("replicator status", "replicator dsync-status",
                    "replicator replicate", "replicator add",
                    "replicator remove"):
            self.assertIn(cmd, res.stdout)
        self.assertIn("next sync secs", res.stdout)

    def test_example_config_is_accepted(self):
        ensure_mail_user()
        inst = Instance(ROOT, "docs", 12)
        inst.write_config()
        with open(EXAMPLE) as f:
            example = f.read().replace("user = vmail", f"user = {MAIL_USER}")
        with open(inst.conf, "a") as f:
            f.write(example)
        res = inst.doveconf("-n")
        self.assertIn("mail_replica = tcp:replica.example.com:12345",
                      res.stdout)
        self.assertRegex(res.stdout, r"replication = yes")


if __name__ == "__main__":
    unittest.main()
