"""Where a process's resident bytes go, from a copy of its /proc/PID/smaps: the binary's own pages
(code, read-only data), the heap (anonymous mappings: malloc arenas), shared libraries, stacks.

    python3 scripts/rss_breakdown.py SMAPS EXE      prints the parts (MiB) as JSON
"""
import json
import re
import sys


def breakdown(smaps_path, exe):
    parts = {"binary_code_mib": 0, "binary_data_mib": 0, "heap_mib": 0,
             "libraries_mib": 0, "stacks_mib": 0}
    cur = None
    for line in open(smaps_path):
        m = re.match(r"^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$", line)
        if m:
            perm, name = m.group(1), m.group(2).strip()
            if name == exe:
                cur = "binary_code_mib" if "x" in perm else "binary_data_mib"
            elif name in ("", "[heap]"):
                cur = "heap_mib"
            elif name.startswith("[stack"):
                cur = "stacks_mib"
            elif name.startswith("/"):
                cur = "libraries_mib"
            else:
                cur = None
            continue
        if cur and line.startswith("Rss:"):
            parts[cur] += int(line.split()[1])
    return {k: round(v / 1024, 1) for k, v in parts.items()}


if __name__ == "__main__":
    print(json.dumps(breakdown(sys.argv[1], sys.argv[2])))
