#!/usr/bin/env bash
# The CUDA check, in one command on a machine with an NVIDIA GPU, from the repository root:
#
#   bash scripts/gpu_check.sh [CLIP]
#
# CLIP: a real clip, 1280x720 or larger (default ../shared/media/bigbuckbunny.mp4, else the
# packaged one). Most valuable first: the card and its matmul peak with the dream step's time,
# an image at 720p, `video` file to file at 720p and 1080p (default path), `webcam` at 1280x720
# on the clip and on a clip that cuts every 1.6 s (made from it) with its depth judged, the CUDA
# tests, and `--compile`. Its time limits add up to 540 s, so it fits a lent machine's
# 10-minute command with its start. Each result lands in $OUT (default gpu_check/) as soon as it
# is measured: check.log, steps.json, video_lite0.json, video_googlenet.json, live.json,
# live_shots.json, live_sheet.jpg, summary.md. A step that fails or runs out of time is named in
# the summary, the others still run, and the script exits 1.
#
# DEVICE=cpu runs the same steps at small sizes on the CPU: a dry run where no GPU is lent
# (under 10 minutes on a 2-core machine).
set -uo pipefail
DEVICE=${DEVICE:-cuda}
OUT=${OUT:-gpu_check}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
LOG="$OUT/check.log"
: >"$LOG"
export PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
MEDIA=${1:-../shared/media/bigbuckbunny.mp4}
[ -f "$MEDIA" ] || MEDIA=streamdream/data/bigbuckbunny.mp4
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if [ "$DEVICE" = cpu ]; then
  STEP_SIZES=320x180,640x360 IMAGE=(--width 320 --height 180 --repeats 2)
  VIDEO_SIZES=320x180 FRAMES=24 LIVE_WIDTH=320 LIVE_SECONDS=10
else
  STEP_SIZES=1280x720,1920x1080 IMAGE=(--width 1280 --height 720 --repeats 3)
  VIDEO_SIZES=1280x720,1920x1080 FRAMES=120 LIVE_WIDTH=1280 LIVE_SECONDS=20
fi
FAILED=()

# step NAME LIMIT COMMAND...: run it under its time limit, its output into the log as it comes
step() {
  local name=$1 limit=$2
  shift 2
  echo "== $name (at most $limit s)" | tee -a "$LOG"
  timeout -k 5 "$limit" "$@" 2>&1 | tee -a "$LOG"
  local rc=${PIPESTATUS[0]}
  if [ "$rc" -ne 0 ]; then
    [ "$rc" -eq 124 ] && why="ran out of its $limit s" || why="exit $rc"
    echo "!! $name FAILED: $why" | tee -a "$LOG"
    FAILED+=("$name ($why)")
  fi
}

step "card, matmul peak and dream steps" 60 python3 scripts/bench.py --device "$DEVICE" --sizes "$STEP_SIZES" \
  --no-video --no-live --no-profile --out "$OUT/steps.json"
step "image" 30 python3 scripts/bench_image.py --device "$DEVICE" "${IMAGE[@]}"
for model in lite0 googlenet; do
  step "video $model" 75 python3 scripts/bench.py --device "$DEVICE" --models "$model" --no-steps --no-live \
    --no-profile --input "$MEDIA" --video-sizes "$VIDEO_SIZES" --frames "$FRAMES" --out "$OUT/video_$model.json"
done
step "clip with cuts" 30 python3 scripts/make_clips.py --input "$MEDIA" --out "$WORK" --width "$LIVE_WIDTH" --only shots
step "live on the clip, depth judged" 75 python3 scripts/bench_live.py --device "$DEVICE" --source "$MEDIA" \
  --width "$LIVE_WIDTH" --seconds "$LIVE_SECONDS" --depth 6 --json "$OUT/live.json" --sheet "$OUT/live_sheet.jpg"
if [ -f "$WORK/shots.mp4" ]; then
  step "live on a clip that cuts every 1.6 s, depth judged" 75 python3 scripts/bench_live.py --device "$DEVICE" \
    --source "$WORK/shots.mp4" --width "$LIVE_WIDTH" --seconds "$LIVE_SECONDS" --depth 6 --json "$OUT/live_shots.json"
fi
step "CUDA tests" 60 python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_device_path.py
if [ "$DEVICE" = cpu ]; then
  echo "== --compile: left out of the dry run (minutes on a CPU)" | tee -a "$LOG"
else
  step "video 1280 wide with --compile" 60 python3 -m streamdream video "$MEDIA" -o "$WORK/compiled.mp4" \
    --width 1280 --frames 96 --device "$DEVICE" --compile
fi

python3 scripts/gpu_summary.py "$OUT" "${FAILED[@]}" | tee "$OUT/summary.md"
[ ${#FAILED[@]} -eq 0 ]
