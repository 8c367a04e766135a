#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Unit test: the committed seed corpora are what fuzz/gen_corpus.py writes (TAP).

fuzz/gen_corpus.py writes the seeds of every fuzz target from the wire
format, the control tests' requests and the documentation's configuration
example; fuzz/corpus/ holds its output, committed.  When a wire format, a
control test or the example changes and nobody reruns the script, the
fuzzers start from seeds of an older protocol and nothing says so (it had
drifted by 14 files when this test was written).  One TAP line per target:

* every file the script writes is in fuzz/corpus/<target>/, byte for byte;
* every other file there is a regression seed (a fixed crash's input,
  moved there by hand from fuzz/crashes-found/, docs/hardening.md), named
  regress-*.

The fix for a failure is to rerun `fuzz/gen_corpus.py` and commit its
output.
"""

import os
import subprocess
import sys
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
GEN = os.path.join(ROOT, "fuzz", "gen_corpus.py")


def files(d):
    return sorted(f for f in os.listdir(d) if os.path.isfile(os.path.join(d, f)))


def read(p):
    with open(p, "rb") as f:
        return f.read()


def main():
    with tempfile.TemporaryDirectory() as out:
        r = subprocess.run([sys.executable, GEN, out], capture_output=True, text=True)
        if r.returncode != 0:
            print("1..1")
            print("not ok 1 - fuzz/gen_corpus.py exited %d: %s" % (r.returncode, r.stderr.strip()))
            return 1
        targets = sorted(os.listdir(out))
        print("1..%d" % len(targets))
        failed = 0
        for i, t in enumerate(targets, 1):
            gen_dir, com_dir = os.path.join(out, t), os.path.join(CORPUS, t)
            have = files(com_dir) if os.path.isdir(com_dir) else []
            want = files(gen_dir)
            missing = [f for f in want if f not in have]
            differ = [f for f in want if f in have and
                      read(os.path.join(gen_dir, f)) != read(os.path.join(com_dir, f))]
            stale = [f for f in have if f not in want and not f.startswith("regress-")]
            ok = not (missing or differ or stale)
            failed += not ok
            print("%s %d - %s: %d seeds as fuzz/gen_corpus.py writes them, %d regression seeds"
                  % ("ok" if ok else "not ok", i, t, len(want) - len(missing) - len(differ),
                     len([f for f in have if f.startswith("regress-")])))
            for what, names in (("missing", missing), ("different", differ),
                                ("neither generated nor regress-*", stale)):
                if names:
                    print("# %s: %s" % (what, " ".join(names)))
            if not ok:
                print("# rerun fuzz/gen_corpus.py and commit fuzz/corpus/")
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
