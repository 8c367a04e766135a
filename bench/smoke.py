#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""bench-smoke (meson e2e suite): `bench/run-all --quick` into a temporary
directory must succeed and produce a well-formed results.md: every table has
as many cells per row as its header, every benchmark's section is there,
and the blackout picture is a PNG.  Numbers are never asserted here: they
belong in benchmarks, not in tests.  TAP output; exit 77 (skip) without
root, DPDK or QEMU outside CI."""

import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
import vshimtest as vt  # noqa: E402

SECTIONS = ["## Machine", "## Forwarding", "## Replay", "## Idle cost", "## Live migrations",
            "## Scale", "## Goals"]


def tables(text):
    """Markdown tables of text as lists of rows (lists of cells)."""
    out, cur = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            cur.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif cur:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def main():
    if os.geteuid() != 0:
        vt.skip_or_fail("bench-smoke needs root")
    vt.require_e2e_env(tap=True)
    tap = vt.Tap(5)
    with tempfile.TemporaryDirectory(prefix="vshim-bench-smoke-") as out:
        r = subprocess.run([os.path.join(HERE, "run-all"), "--quick", "--out", out],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=860)
        tap.ok(r.returncode == 0, "bench/run-all --quick exits 0", r.stdout[-4000:])
        md = os.path.join(out, "results.md")
        text = open(md).read() if os.path.exists(md) else ""
        missing = [s for s in SECTIONS if s not in text]
        tap.ok(text and not missing, "results.md has every section", {"missing": missing})
        ts = tables(text)
        bad = []
        for t in ts:
            if len(t) < 3 or not all(set(c) <= set("-") for c in t[1]):
                bad.append(("no header/separator/row", t[:2]))
                continue
            for row in t[2:]:
                if len(row) != len(t[0]):
                    bad.append(("cells", t[0], row))
        tap.ok(len(ts) >= 8 and not bad, "%d well-formed tables" % len(ts), bad[:5])
        nums = 0
        for t in ts:
            for row in t[2:]:
                nums += sum(1 for c in row if re.match(r"^-?\d+(\.\d+)?$", c))
        tap.ok(nums >= 40 and "None" not in text and "nan" not in text.lower(),
               "tables hold numbers (%d numeric cells, no None/nan)" % nums)
        png = os.path.join(out, "blackout.png")
        head = open(png, "rb").read(8) if os.path.exists(png) else b""
        tap.ok(head == b"\x89PNG\r\n\x1a\n" and "blackout.png" in text,
               "blackout.png is a PNG and results.md shows it")
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
