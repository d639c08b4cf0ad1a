#!/bin/bash
cd /work/run7
echo "start $(date -u +%FT%TZ) code $(git rev-parse --short HEAD)" >> walls.txt
XMNER_CACHE=/work/run7/cache PYTHONPATH=/work/run7/src HF_HUB_OFFLINE=1 OMP_WAIT_POLICY=PASSIVE /work/main/.venv/bin/python -c "from xmner.cli import main; main()" reproduce --preset offline --out /work/run7/runs >> log.txt 2>&1
echo "end rc=$? $(date -u +%FT%TZ)" >> walls.txt
