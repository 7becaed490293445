#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Host-side checks of what the vblk test guest wrote (guest/tests/vblk.c).

  blkcheck.py basic FILE       the whole-disk pattern (seed 1), sectors 8..23
                               zeroed by write-zeroes, 64..71 discarded
                               (zeroes or the pattern)
  blkcheck.py records FILE N   records 0..N-1 of the durable mode are intact
Prints one line; exit 0 if the check holds.
"""
import struct
import sys

M = (1 << 64) - 1


def pattern_words(byte_off, count, seed):
    base = (byte_off // 8 + seed * 0x9E3779B97F4A7C15) & M
    out = []
    for i in range(count):
        x = (base + i) & M
        x ^= x >> 31
        x = (x * 0xBF58476D1CE4E5B9) & M
        out.append(x ^ (x >> 29))
    return out


def sector_expected(sector, seed):
    return struct.pack("<64Q", *pattern_words(sector * 512, 64, seed))


def check_basic(path):
    data = open(path, "rb").read()
    bad = []
    for s in range(len(data) // 512):
        got = data[s * 512:(s + 1) * 512]
        if 8 <= s < 24:
            ok = got == bytes(512)
        elif 64 <= s < 72:
            ok = got == bytes(512) or got == sector_expected(s, 1)
        else:
            ok = got == sector_expected(s, 1)
        if not ok:
            bad.append(s)
    if bad:
        print(f"basic: {len(bad)} sectors differ, first {bad[:8]}")
        return 1
    print(f"basic: all {len(data) // 512} sectors as the guest wrote them")
    return 0


def check_records(path, n):
    data = open(path, "rb").read()
    for i in range(n):
        want = bytearray(sector_expected(0, i))
        struct.pack_into("<Q", want, 0, 0x434552 | (i << 24))
        if data[i * 512:(i + 1) * 512] != bytes(want):
            print(f"records: record {i} of {n} acknowledged ones is not on disk")
            return 1
    print(f"records: all {n} acknowledged records are on disk")
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "basic":
        sys.exit(check_basic(sys.argv[2]))
    if sys.argv[1] == "records":
        sys.exit(check_records(sys.argv[2], int(sys.argv[3])))
    sys.exit(2)
