#!/usr/bin/env python3
"""Run the integration tests (test_*.py here, or the modules named on the
command line). Prints one line per test and ends with
'integration: N passed, N failed, N skipped'."""

import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


class Result(unittest.TextTestResult):
    def startTest(self, test):
        self._t0 = time.monotonic()
        super().startTest(test)

    def _line(self, status, test):
        name = test.id().split(".", 1)[-1]
        # class set-up failures come without startTest()
        t0 = getattr(self, "_t0", time.monotonic())
        self.stream.write(f"{status} {name} ({time.monotonic() - t0:.1f}s)\n")
        self.stream.flush()

    passed = 0

    def addSuccess(self, test):
        unittest.TestResult.addSuccess(self, test)
        self.passed += 1
        self._line("PASS", test)

    def addFailure(self, test, err):
        unittest.TestResult.addFailure(self, test, err)
        self._line("FAIL", test)

    def addError(self, test, err):
        unittest.TestResult.addError(self, test, err)
        self._line("FAIL", test)

    def addSkip(self, test, reason):
        unittest.TestResult.addSkip(self, test, reason)
        self._line(f"SKIP ({reason})", test)


def main():
    loader = unittest.TestLoader()
    names = sys.argv[1:]
    if names:
        suite = loader.loadTestsFromNames(names)
    else:
        suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=0,
                                     resultclass=Result)
    res = runner.run(suite)
    failed = len(res.failures) + len(res.errors)
    print(f"integration: {res.passed} passed, {failed} failed, "
          f"{len(res.skipped)} skipped")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
