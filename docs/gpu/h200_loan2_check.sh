#!/usr/bin/env bash
# On the lent machine: the prepared check, then, while its command's time lasts, live depth on
# clips with moving subjects at 1280x720.
set -uo pipefail
START=$(date +%s)
END=$((START + ${BUDGET:-570}))
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD:${PYTHONPATH:-}"
OUT=$OUT bash scripts/gpu_check.sh .gpu/bigbuckbunny.mp4
echo "gpu_check rc=$? after $(( $(date +%s) - START )) s" | tee -a "$OUT/check.log"
left() { echo $((END - $(date +%s))); }
extra() {
  local name=$1 limit=$2; shift 2
  local l; l=$(left)
  [ "$l" -lt 25 ] && { echo "== $name skipped: $l s left" | tee -a "$OUT/extra.log"; return; }
  [ "$limit" -gt "$l" ] && limit=$l
  echo "== $name (at most $limit s)" | tee -a "$OUT/extra.log"
  timeout -k 5 "$limit" "$@" 2>&1 | tee -a "$OUT/extra.log"
  echo "-- $name rc=${PIPESTATUS[0]} at $(( $(date +%s) - START )) s" | tee -a "$OUT/extra.log"
}
extra clips 45 python3 scripts/make_clips.py --input .gpu/bigbuckbunny.mp4 --out /tmp/clips --width 1280 --only object,handheld
extra "live object" 70 python3 scripts/bench_live.py --device cuda --source /tmp/clips/object.mp4 --width 1280 \
  --seconds 15 --depth 6 --json "$OUT/live_object.json" --sheet "$OUT/live_object_sheet.jpg"
extra "live handheld" 70 python3 scripts/bench_live.py --device cuda --source /tmp/clips/handheld.mp4 --width 1280 \
  --seconds 15 --depth 6 --json "$OUT/live_handheld.json"
# a lent machine sends back at most 8 files: all of them in one, the summary beside it
(cd "$OUT" && tar -cf /tmp/results.tar . && rm -f ./*.json ./*.jpg ./*.log && mv /tmp/results.tar results.tar && ls -la)
