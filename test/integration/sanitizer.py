"""Run Dovecot with the sanitizer runtimes when the package was built with
-fsanitize=address,undefined (test/build with DOVECOT_REPLICATION_SANITIZE=1).

Our services are our own executables and link the runtimes themselves, but
the mail, doveadm and settings plugins are loaded into Dovecot's own
programs, which are not built with ASan: libasan must then be the first
library of the process, or it refuses to start. So every Dovecot program
is started with LD_PRELOAD of libasan and libubsan: those the tests run
(dovecot, doveadm, doveconf) through this process's environment, which
subprocesses inherit, and the processes the master starts through
import_environment. Reports go to files in DOVECOT_REPLICATION_SANITIZER_DIR,
which test/check fails the run on. Leak checking is off: Dovecot's own
programs don't free everything at exit (the unit tests check leaks, with
LeakSanitizer on 2.4.5 and valgrind on 2.4.1)."""

import os
import subprocess

DIR = os.environ.get("DOVECOT_REPLICATION_SANITIZER_DIR", "")
# lines for the import_environment block of an instance's config
IMPORT_ENV = ""
# settings for the whole config
CONF = ""


def _runtime(name):
    path = subprocess.run(["gcc", f"-print-file-name={name}"],
                          capture_output=True, text=True).stdout.strip()
    return os.path.realpath(path)


if DIR:
    os.makedirs(DIR, exist_ok=True)
    os.chmod(DIR, 0o1777)
    env = {
        "LD_PRELOAD": f"{_runtime('libasan.so')} {_runtime('libubsan.so')}",
        "ASAN_OPTIONS": f"log_path={DIR}/asan:detect_leaks=0:"
                        "detect_odr_violation=0:print_suppressions=0",
        "UBSAN_OPTIONS": f"log_path={DIR}/ubsan:print_stacktrace=1",
    }
    os.environ.update(env)
    IMPORT_ENV = "".join(f'  {k} = "{v}"\n' for k, v in env.items())
    # ASan reserves terabytes of address space for its shadow memory
    CONF = "default_vsz_limit = unlimited\n"


def reports():
    """Paths of the sanitizer reports written so far."""
    if not DIR or not os.path.isdir(DIR):
        return []
    return sorted(os.path.join(DIR, f) for f in os.listdir(DIR))
