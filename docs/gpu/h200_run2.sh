#!/usr/bin/env bash
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD:$PYTHONPATH"
LOG=$OUT/run2.log
t() {
  local name=$1 limit=$2; shift 2
  local s=$(date +%s.%N)
  echo "== $name" | tee -a "$LOG"
  timeout -k 5 "$limit" "$@" 2>&1 | tee -a "$LOG"
  local rc=${PIPESTATUS[0]}
  echo "-- $name rc=$rc $(python3 -c "print(round($(date +%s.%N)-$s,1))") s" | tee -a "$LOG"
}
t "image heuristics" 40 python3 scripts/bench_image.py --device cuda --width 1280 --height 720 --repeats 3
t "image autotune" 40 python3 -c "import sys,runpy; sys.path.insert(0,'scripts'); import streamdream.models.runtime as r; r.CUDNN_AUTOTUNE=True; sys.argv=['bench_image.py','--device','cuda','--width','1280','--height','720','--repeats','3']; runpy.run_path('scripts/bench_image.py', run_name='__main__')"
t "video lite0" 90 python3 scripts/bench.py --device cuda --models lite0 --no-steps --no-live --no-profile --input .gpu/bigbuckbunny.mp4 --video-sizes 1280x720,1920x1080 --frames 120 --out "$OUT/video_lite0.json"
t "live shared" 75 python3 -c "import faulthandler,sys,runpy; faulthandler.dump_traceback_later(45); sys.path.insert(0,'scripts'); sys.argv=['bench_live.py','--device','cuda','--source','.gpu/bigbuckbunny.mp4','--width','1280','--seconds','15','--depth','6','--json','$OUT/live.json','--sheet','$OUT/live_sheet.jpg']; runpy.run_path('scripts/bench_live.py', run_name='__main__')"
t "clips" 25 python3 scripts/make_clips.py --input .gpu/bigbuckbunny.mp4 --out /tmp/clips --width 1280 --only shots
t "live shots" 55 python3 scripts/bench_live.py --device cuda --source /tmp/clips/shots.mp4 --width 1280 --seconds 15 --depth 6 --json "$OUT/live_shots.json"
