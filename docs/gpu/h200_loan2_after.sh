#!/usr/bin/env bash
# On the lent machine, after the network stays contiguous on a GPU: live at 1280x720 on the clip,
# video at 720p and 1080p, the CUDA tests, live on a cutting clip, while the command's time lasts.
set -uo pipefail
START=$(date +%s)
END=$((START + ${BUDGET:-190}))
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD:${PYTHONPATH:-}"
LOG=$OUT/check2.log
left() { echo $((END - $(date +%s))); }
step() {
  local name=$1 limit=$2; shift 2
  local l; l=$(left)
  [ "$l" -lt 15 ] && { echo "== $name skipped: $l s left" | tee -a "$LOG"; return; }
  [ "$limit" -gt "$l" ] && limit=$l
  echo "== $name (at most $limit s)" | tee -a "$LOG"
  timeout -k 5 "$limit" "$@" 2>&1 | tee -a "$LOG"
  echo "-- $name rc=${PIPESTATUS[0]} at $(( $(date +%s) - START )) s" | tee -a "$LOG"
}
M=.gpu/bigbuckbunny.mp4
step "live on the clip" 55 python3 scripts/bench_live.py --device cuda --source $M --width 1280 --seconds 15 \
  --depth 6 --json "$OUT/live.json" --sheet "$OUT/live_sheet.jpg"
step "video lite0" 50 python3 scripts/bench.py --device cuda --models lite0 --no-steps --no-live --no-profile \
  --input $M --video-sizes 1280x720,1920x1080 --frames 120 --out "$OUT/video_lite0.json"
step "CUDA tests" 50 python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_device_path.py
step "clip with cuts" 15 python3 scripts/make_clips.py --input $M --out /tmp/clips --width 1280 --only shots
step "live on shots" 50 python3 scripts/bench_live.py --device cuda --source /tmp/clips/shots.mp4 --width 1280 \
  --seconds 15 --depth 6 --json "$OUT/live_shots.json"
