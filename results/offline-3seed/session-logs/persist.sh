#!/bin/bash
# Copy the finished cells of /work/run6/runs (all but checkpoints and locks) into the repo.
set -eu
src=/work/run6/runs; dst=/work/main/results/offline-3seed
mkdir -p "$dst"
cp "$src/environment.json" "$src/MANIFEST.jsonl" "$dst/"
n=0
while IFS= read -r res; do
  cell=$(dirname "$res"); rel=${cell#$src/}
  mkdir -p "$dst/$rel"
  rsync -a --exclude '*.pt' --exclude '.lock' "$cell/" "$dst/$rel/"
  n=$((n+1))
done < <(find "$src" -path "$src/cache" -prune -o -name results.json -print)
[ -d "$src/report" ] && rsync -a --exclude '.lock' "$src/report/" "$dst/report/"
echo "$n cells in $dst"
