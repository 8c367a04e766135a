#!/usr/bin/env python3
"""Compare guest RAM dumps taken after a migration and classify differences.

Usage:
    ramdiff.py SRC_DUMP DST_DUMP [--backend-ranges RANGES.json]
               [--base GPA] [--page-size N] [--max-pages N] [-o OUT.json]

SRC_DUMP and DST_DUMP are raw dumps of the same guest-physical range, made
with QMP `pmemsave` (val=BASE, size=SIZE) on the paused source and on the
destination (started with -S, still paused) after the migration completed.

RANGES.json lists the guest-physical ranges written by the network backend
(RX buffers, used rings) as [start, len] pairs, e.g. [[4096, 2048], ...];
numbers may also be strings such as "0x1000".  An object
{"ranges": [...]} is accepted too.

A page "differs in backend ranges" when at least one byte that differs
lies inside a backend range (byte-exact, so a page that holds both an RX
buffer and guest data is classified by where the difference is).

Verdicts and exit codes:
    identical               0   no page differs
    tcg-dirty-bitmap-bug   10   pages differ, but only outside backend ranges:
                                guest-CPU-written memory lost by the migration
                                (the QEMU < 9.0 TCG dirty-bitmap bug, fixed by
                                qemu-patches/), not the backend's fault
    backend-bug            20   some difference lies in backend-written memory
Errors (unreadable input, dumps of different sizes, bad ranges): exit 2.

The JSON summary goes to stdout (and to -o OUT.json if given).
"""

import argparse
import bisect
import json
import mmap
import os
import sys

EXIT_IDENTICAL = 0
EXIT_TCG = 10
EXIT_BACKEND = 20
EXIT_ERROR = 2

VERDICT_EXIT = {
    "identical": EXIT_IDENTICAL,
    "tcg-dirty-bitmap-bug": EXIT_TCG,
    "backend-bug": EXIT_BACKEND,
}

CHUNK_PAGES = 4096  # compare 16 MiB at a time before looking at pages


class RamDiffError(Exception):
    pass


def _num(v):
    if isinstance(v, bool):
        raise RamDiffError("bad number in ranges: %r" % (v,))
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        try:
            return int(v, 0)
        except ValueError:
            pass
    raise RamDiffError("bad number in ranges: %r" % (v,))


def parse_ranges(obj):
    """[[start, len], ...] -> sorted, merged list of (start, end) GPAs."""
    if isinstance(obj, dict):
        obj = obj.get("ranges")
    if not isinstance(obj, list):
        raise RamDiffError("ranges must be a list of [start, len] pairs")
    spans = []
    for item in obj:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise RamDiffError("range is not a [start, len] pair: %r" % (item,))
        start, length = _num(item[0]), _num(item[1])
        if start < 0 or length < 0:
            raise RamDiffError("negative range: %r" % (item,))
        if length:
            spans.append((start, start + length))
    spans.sort()
    merged = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            if e > merged[-1][1]:
                merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


def load_ranges(path):
    try:
        with open(path) as f:
            obj = json.load(f)
    except (OSError, ValueError) as e:
        raise RamDiffError("cannot read ranges %s: %s" % (path, e))
    return parse_ranges(obj)


class _Ranges:
    """Backend ranges translated to dump offsets, with overlap queries."""

    def __init__(self, spans, base):
        self.spans = [(s - base, e - base) for s, e in spans]
        self.starts = [s for s, _ in self.spans]

    def overlapping(self, lo, hi):
        """Parts of [lo, hi) inside ranges, as (a, b) pairs."""
        out = []
        i = bisect.bisect_right(self.starts, lo) - 1
        if i < 0:
            i = 0
        while i < len(self.spans):
            s, e = self.spans[i]
            if s >= hi:
                break
            a, b = max(s, lo), min(e, hi)
            if a < b:
                out.append((a, b))
            i += 1
        return out


def _complement(parts, lo, hi):
    out, pos = [], lo
    for a, b in parts:
        if a > pos:
            out.append((pos, a))
        pos = b
    if pos < hi:
        out.append((pos, hi))
    return out


def compare(src, dst, spans=(), base=0, page_size=4096, max_pages=64):
    """Compare two equal-length buffers (bytes/mmap); return the summary."""
    if len(src) != len(dst):
        raise RamDiffError("dumps differ in size: %d vs %d bytes"
                           % (len(src), len(dst)))
    if page_size <= 0:
        raise RamDiffError("page size must be positive")
    size = len(src)
    ranges = _Ranges(spans, base)
    pages_total = (size + page_size - 1) // page_size
    differing = in_backend = outside = 0
    listed = []
    chunk = page_size * CHUNK_PAGES
    for cstart in range(0, size, chunk):
        cend = min(cstart + chunk, size)
        if src[cstart:cend] == dst[cstart:cend]:
            continue
        for lo in range(cstart, cend, page_size):
            hi = min(lo + page_size, size)
            if src[lo:hi] == dst[lo:hi]:
                continue
            differing += 1
            inside_parts = ranges.overlapping(lo, hi)
            diff_in = any(src[a:b] != dst[a:b] for a, b in inside_parts)
            diff_out = any(src[a:b] != dst[a:b]
                           for a, b in _complement(inside_parts, lo, hi))
            if diff_in:
                in_backend += 1
            if diff_out:
                outside += 1
            if len(listed) < max_pages:
                nbytes = sum(1 for x, y in zip(src[lo:hi], dst[lo:hi])
                             if x != y)
                listed.append({
                    "gpa": "0x%x" % (base + lo),
                    "bytes_differing": nbytes,
                    "in_backend_ranges": diff_in,
                    "outside_backend_ranges": diff_out,
                })
    if in_backend:
        verdict = "backend-bug"
    elif differing:
        verdict = "tcg-dirty-bitmap-bug"
    else:
        verdict = "identical"
    return {
        "pages_total": pages_total,
        "pages_differing": differing,
        "differing_in_backend_ranges": in_backend,
        "differing_outside_backend_ranges": outside,
        "verdict": verdict,
        "page_size": page_size,
        "base": "0x%x" % base,
        "bytes_total": size,
        "backend_ranges": len(ranges.spans),
        "differing_pages": listed,
        "differing_pages_truncated": differing > len(listed),
    }


def _map(path):
    f = open(path, "rb")
    try:
        if os.fstat(f.fileno()).st_size == 0:
            return b""
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    finally:
        f.close()


def compare_files(src_path, dst_path, spans=(), base=0, page_size=4096,
                  max_pages=64):
    try:
        src, dst = _map(src_path), _map(dst_path)
    except OSError as e:
        raise RamDiffError("cannot read dump: %s" % e)
    try:
        return compare(src, dst, spans, base, page_size, max_pages)
    finally:
        for m in (src, dst):
            if isinstance(m, mmap.mmap):
                m.close()


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Classify guest RAM differences after a migration.")
    ap.add_argument("src", help="pmemsave dump from the source")
    ap.add_argument("dst", help="pmemsave dump from the paused destination")
    ap.add_argument("--backend-ranges", metavar="JSON",
                    help="JSON list of [start, len] guest-physical ranges "
                         "written by the backend (RX buffers, used rings)")
    ap.add_argument("--base", default="0",
                    help="guest-physical address of the first dump byte "
                         "(pmemsave val), default 0")
    ap.add_argument("--page-size", type=int, default=4096)
    ap.add_argument("--max-pages", type=int, default=64,
                    help="list at most N differing pages (default 64)")
    ap.add_argument("-o", "--output", help="also write the JSON summary here")
    args = ap.parse_args(argv)
    try:
        base = int(args.base, 0)
        spans = load_ranges(args.backend_ranges) if args.backend_ranges else []
        summary = compare_files(args.src, args.dst, spans, base,
                                args.page_size, args.max_pages)
    except (RamDiffError, ValueError) as e:
        print("ramdiff: error: %s" % e, file=sys.stderr)
        return EXIT_ERROR
    text = json.dumps(summary, indent=2)
    print(text)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")
    return VERDICT_EXIT[summary["verdict"]]


if __name__ == "__main__":
    sys.exit(main())
