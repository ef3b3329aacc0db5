#!/usr/bin/env python3
"""Page faults in mimalloc's arena, per 64 KiB mimalloc page (BENCHMARKS.md, 18:40 UTC section).

    FUNCTIONS_CUSTOMHANDLER_PORT=18200 perf record -e page-faults -c 1 -d -o /tmp/h.data BINARY &
    # ... POST one invocation, then stop it with SIGTERM (scripts/start-faults.py's invoke and stop)
    scripts/heap-faults.py /tmp/h.data

Reads `perf script` of a recording with data addresses (-d). The arena is the process's one 64 MiB
anonymous mapping (the first arena, MI_DEFAULT_ARENA_RESERVE in .cargo/config.toml); each fault inside
it is grouped by thread name and 64 KiB page. Prints how many pages took how many faults, then every
page with more than one, with the offsets of its faults: a page of small blocks whose free list crosses
into a second OS page shows two, at the first block and at 0x1000.
"""

import collections
import re
import subprocess
import sys

ARENA = 0x4000000  # 64 MiB


def main(data):
    out = subprocess.run(["perf", "script", "-i", data, "--show-mmap-events", "-F", "comm,tid,addr"],
                         capture_output=True, text=True, check=True).stdout
    base = None
    pages = collections.defaultdict(list)
    for line in out.splitlines():
        mapped = re.search(r"\[(0x[0-9a-f]+)\((0x[0-9a-f]+)\)", line)
        if mapped:
            if int(mapped[2], 16) == ARENA:
                base = int(mapped[1], 16)
            continue
        fields = line.split()
        if len(fields) != 3 or base is None:
            continue
        try:
            address = int(fields[2], 16)
        except ValueError:
            continue
        if base <= address < base + ARENA:
            offset = address - base
            pages[(fields[0], offset >> 16)].append(offset & 0xFFFF)
    if base is None:
        raise SystemExit("no 64 MiB arena mapping in the recording")
    counts = collections.Counter(len(v) for v in pages.values())
    print(f"{len(pages)} mimalloc pages, {sum(len(v) for v in pages.values())} faults; "
          f"pages by faults: {dict(sorted(counts.items()))}")
    for (thread, page), offsets in sorted(pages.items(), key=lambda kv: kv[0][1]):
        if len(offsets) > 1:
            print(f"  {thread:<16} {page << 16:#9x} {[hex(o) for o in offsets]}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else sys.exit(__doc__))
