#!/bin/bash
# Every 30 s: VmRSS and VmHWM (kB) of every python process of the run.
while true; do
  line="$(date +%s)"
  for p in $(pgrep -f 'xmner.cli|multiprocessing' ); do
    r=$(awk '/VmRSS/{print $2}' /proc/$p/status 2>/dev/null); h=$(awk '/VmHWM/{print $2}' /proc/$p/status 2>/dev/null)
    line="$line $p:$r/$h"
  done
  echo "$line" >> /work/run7/rss.log
  sleep 10
done
