#!/usr/bin/env python3
"""Unit test of tests/e2e/ramdiff.py with synthetic RAM dumps (TAP output)."""

import json
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
RAMDIFF = os.path.join(HERE, "..", "e2e", "ramdiff.py")
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import ramdiff  # noqa: E402

PAGE = 4096
NPAGES = 64  # 256 KiB synthetic guest


def make_ram(seed=1, npages=NPAGES, page=PAGE):
    # deterministic, non-uniform content (so a page of zeros never matches)
    return bytearray(random.Random(seed).getrandbits(8 * npages * page)
                     .to_bytes(npages * page, "little"))


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0
        self.results = []

    def ok(self, cond, name, diag=None):
        self.results.append((bool(cond), name, diag))

    def finish(self):
        print("1..%d" % len(self.results))
        for i, (cond, name, diag) in enumerate(self.results, 1):
            print("%s %d - %s" % ("ok" if cond else "not ok", i, name))
            if not cond:
                self.failed += 1
                if diag is not None:
                    for line in str(diag).splitlines():
                        print("# " + line)
        return 1 if self.failed else 0


def run_cli(tmp, src, dst, ranges=None, extra=()):
    sp, dp = os.path.join(tmp, "src.bin"), os.path.join(tmp, "dst.bin")
    with open(sp, "wb") as f:
        f.write(src)
    with open(dp, "wb") as f:
        f.write(dst)
    cmd = [sys.executable, RAMDIFF, sp, dp]
    if ranges is not None:
        rp = os.path.join(tmp, "ranges.json")
        with open(rp, "w") as f:
            json.dump(ranges, f)
        cmd += ["--backend-ranges", rp]
    cmd += list(extra)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True)
    try:
        summary = json.loads(p.stdout) if p.stdout.strip() else None
    except ValueError:
        summary = None
    return p.returncode, summary, p.stderr


def main():
    t = Tap()
    base = make_ram()
    # backend ranges: an RX buffer area (pages 10-13), a used ring inside
    # page 20 (first 1 KiB only), given as guest-physical [start, len]
    ranges = [[10 * PAGE, 4 * PAGE], [20 * PAGE, 1024]]

    with tempfile.TemporaryDirectory() as tmp:
        # 1. identical
        rc, s, err = run_cli(tmp, base, bytes(base), ranges)
        t.ok(rc == 0 and s and s["verdict"] == "identical"
             and s["pages_differing"] == 0 and s["pages_total"] == NPAGES,
             "identical dumps -> verdict identical, exit 0", (rc, s, err))

        # 2. guest-CPU-written pages differ (outside backend ranges)
        dst = bytearray(base)
        dst[3 * PAGE + 100] ^= 0xff          # e.g. a kernel counter
        dst[40 * PAGE:40 * PAGE + 64] = bytes(64)  # e.g. a stack slot
        rc, s, err = run_cli(tmp, base, dst, ranges)
        t.ok(rc == 10 and s and s["verdict"] == "tcg-dirty-bitmap-bug"
             and s["pages_differing"] == 2
             and s["differing_in_backend_ranges"] == 0,
             "differences outside backend ranges -> tcg-dirty-bitmap-bug, "
             "exit 10", (rc, s, err))
        t.ok(s and [p["gpa"] for p in s["differing_pages"]]
             == ["0x%x" % (3 * PAGE), "0x%x" % (40 * PAGE)]
             and s["differing_pages"][0]["bytes_differing"] == 1,
             "differing pages are listed with their guest-physical address",
             s)

        # 3. an RX buffer differs
        dst = bytearray(base)
        dst[11 * PAGE + 5] ^= 1
        rc, s, err = run_cli(tmp, base, dst, ranges)
        t.ok(rc == 20 and s and s["verdict"] == "backend-bug"
             and s["differing_in_backend_ranges"] == 1,
             "difference in an RX buffer range -> backend-bug, exit 20",
             (rc, s, err))

        # 4. both kinds: backend wins
        dst[50 * PAGE] ^= 1
        rc, s, err = run_cli(tmp, base, dst, ranges)
        t.ok(rc == 20 and s and s["verdict"] == "backend-bug"
             and s["pages_differing"] == 2
             and s["differing_in_backend_ranges"] == 1
             and s["differing_outside_backend_ranges"] == 1,
             "mixed differences -> backend-bug, exit 20", (rc, s, err))

        # 5. partial page: used ring covers the first 1 KiB of page 20
        dst = bytearray(base)
        dst[20 * PAGE + 2048] ^= 1           # same page, outside the ring
        rc, s, err = run_cli(tmp, base, dst, ranges)
        t.ok(rc == 10 and s and s["verdict"] == "tcg-dirty-bitmap-bug",
             "page shared with a used ring, difference outside it -> "
             "tcg-dirty-bitmap-bug", (rc, s, err))
        dst[20 * PAGE + 10] ^= 1             # now inside the ring too
        rc, s, err = run_cli(tmp, base, dst, ranges)
        t.ok(rc == 20 and s and s["verdict"] == "backend-bug"
             and s["pages_differing"] == 1,
             "difference inside the used ring's bytes -> backend-bug",
             (rc, s, err))

        # 6. no ranges file: any difference is attributed to guest memory
        dst = bytearray(base)
        dst[11 * PAGE] ^= 1
        rc, s, err = run_cli(tmp, base, dst, None)
        t.ok(rc == 10 and s and s["verdict"] == "tcg-dirty-bitmap-bug",
             "without a ranges file -> tcg-dirty-bitmap-bug", (rc, s, err))

        # 7. --base: dumps start at GPA 1 MiB, ranges are guest-physical
        gbase = 0x100000
        gr = [["0x%x" % (gbase + 2 * PAGE), "0x1000"]]  # hex strings
        dst = bytearray(base)
        dst[2 * PAGE + 7] ^= 1
        rc, s, err = run_cli(tmp, base, dst, gr, ["--base", hex(gbase)])
        t.ok(rc == 20 and s and s["verdict"] == "backend-bug"
             and s["differing_pages"][0]["gpa"] == "0x%x" % (gbase + 2 * PAGE),
             "--base offsets dump to guest-physical, hex-string ranges",
             (rc, s, err))
        rc, s, err = run_cli(tmp, base, dst, gr)   # without --base: outside
        t.ok(rc == 10 and s and s["verdict"] == "tcg-dirty-bitmap-bug",
             "same ranges without --base do not match the page",
             (rc, s, err))

        # 8. size mismatch and bad ranges are errors (exit 2)
        rc, s, err = run_cli(tmp, base, base[:-PAGE], ranges)
        t.ok(rc == 2 and "size" in err, "dumps of different sizes -> exit 2",
             (rc, s, err))
        rc, s, err = run_cli(tmp, base, bytes(base), [[1, 2, 3]])
        t.ok(rc == 2, "malformed ranges file -> exit 2", (rc, s, err))

        # 9. -o writes the same summary
        out = os.path.join(tmp, "summary.json")
        dst = bytearray(base)
        dst[0] ^= 1
        rc, s, err = run_cli(tmp, base, dst, ranges, ["-o", out])
        with open(out) as f:
            saved = json.load(f)
        t.ok(rc == 10 and saved == s, "-o writes the printed summary",
             (rc, s, saved))

    # 10. library API: overlapping ranges are merged; many chunks
    t.ok(ramdiff.parse_ranges([[0, 10], [5, 10], [30, 0], ["0x20", 4]])
         == [(0, 15), (32, 36)], "parse_ranges merges and drops empty ranges",
         ramdiff.parse_ranges([[0, 10], [5, 10], [30, 0], ["0x20", 4]]))
    small = 256  # small pages keep the multi-chunk case cheap
    big = make_ram(seed=7, npages=ramdiff.CHUNK_PAGES * 2 + 3, page=small)
    dst = bytearray(big)
    last = len(big) - 1
    dst[last] ^= 1
    s = ramdiff.compare(bytes(big), bytes(dst),
                        ramdiff.parse_ranges([[last, 1]]), page_size=small)
    t.ok(s["verdict"] == "backend-bug" and s["pages_differing"] == 1
         and s["pages_total"] == ramdiff.CHUNK_PAGES * 2 + 3,
         "difference in the last page after several compare chunks", s)

    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
