"""Peak summed resident memory of a run, from an rsswatch log (``TIME PID:VmRSS/VmHWM ...``, KiB).

Usage: python peak.py RSS_LOG PID [PID ...]   (only the run's processes: main, builder, workers)
"""

import sys

GIB = 1024 * 1024  # KiB per GiB

path, pids = sys.argv[1], set(sys.argv[2:])
best, at, hwm = 0, None, {}
for line in open(path):
    time, *entries = line.split()
    sample = {}
    for entry in entries:
        pid, value = entry.split(":")
        rss, high = value.split("/")
        if pid in pids and rss:
            sample[pid] = int(rss)
            hwm[pid] = max(hwm.get(pid, 0), int(high or 0))
    if sum(sample.values()) > best:
        best, at = sum(sample.values()), (time, sample)
parts = ", ".join(f"{p} {k / GIB:.3f}" for p, k in at[1].items())
print(f"peak at once: {best} KiB = {best / GIB:.3f} GiB at {at[0]} ({parts})")
print("VmHWM per pid (GiB):", ", ".join(f"{p} {k / GIB:.3f}" for p, k in hwm.items()))
