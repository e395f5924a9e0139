#!/usr/bin/env bash
# The CUDA check, in one command on a machine with an NVIDIA GPU, from the repository root:
#
#   bash scripts/gpu_check.sh [CLIP]
#
# CLIP: a real clip, 1280x720 or larger (default ../shared/media/bigbuckbunny.mp4, else the
# packaged one). Most valuable first: the card, its matmul peak and the dream step's time, one
# video frame taken apart by the profiler, an image at 720p, `video` file to file at 720p and
# 1080p (default path, Lite0), `webcam` at 1280x720 on the clip with its depth judged, what a
# step costs the first time a size is met (bench_cold.py), the CUDA tests, `webcam` on a clip that
# cuts every 1.6 s (made from the clip), and `video` with GoogLeNet (half the frames). Its time
# limits add up to 535 s, so it fits a lent machine's 10-minute command with its start; each was
# set from what the step took on an H200. Each result lands in $OUT (default gpu_check/) as soon
# as it is measured: check.log, steps.json, video_lite0.json, live.json, live_sheet.jpg,
# live_shots.json, video_googlenet.json, summary.md. A step that fails or runs out of time is
# named in the summary, the others still run, and the script exits 1. `--compile` is not in it:
# on an H200 it spent 43 s of a 49 s run of 96 frames compiling (docs/gpu.md).
#
# DEVICE=cpu runs the same steps at small sizes on the CPU: a dry run where no GPU is lent
# (about 3 minutes on a 2-core machine).
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
  VIDEO_SIZES=320x180 FRAMES=24 LIVE_WIDTH=320 LIVE_SECONDS=10 COLD_SIZES=320x180,112x63
else
  # judging a 1280-wide show takes longer than the show (the motion measures' flow runs on the
  # host, 1280 wide): 15 s of show ran past the step's limit, so 12
  STEP_SIZES=1280x720,1920x1080 IMAGE=(--width 1280 --height 720 --repeats 3)
  VIDEO_SIZES=1280x720,1920x1080 FRAMES=120 LIVE_WIDTH=1280 LIVE_SECONDS=12 COLD_SIZES=1280x720,448x252
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

step "card, matmul peak, dream steps and one frame profiled" 90 python3 scripts/bench.py --device "$DEVICE" \
  --models lite0 --sizes "$STEP_SIZES" --no-video --no-live --input "$MEDIA" --profile-width "$LIVE_WIDTH" \
  --frames 24 --out "$OUT/steps.json"
step "image" 30 python3 scripts/bench_image.py --device "$DEVICE" "${IMAGE[@]}"
step "video lite0" 75 python3 scripts/bench.py --device "$DEVICE" --models lite0 --no-steps --no-live --no-profile \
  --input "$MEDIA" --video-sizes "$VIDEO_SIZES" --frames "$FRAMES" --out "$OUT/video_lite0.json"
step "live on the clip, depth judged" 70 python3 scripts/bench_live.py --device "$DEVICE" --source "$MEDIA" \
  --width "$LIVE_WIDTH" --seconds "$LIVE_SECONDS" --depth 6 --json "$OUT/live.json" --sheet "$OUT/live_sheet.jpg"
step "the first step at a size against the next" 60 python3 scripts/bench_cold.py --device "$DEVICE" --sizes "$COLD_SIZES"
step "CUDA tests" 90 python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_device_path.py
step "clip with cuts" 20 python3 scripts/make_clips.py --input "$MEDIA" --out "$WORK" --width "$LIVE_WIDTH" --only shots
if [ -f "$WORK/shots.mp4" ]; then
  step "live on a clip that cuts every 1.6 s, depth judged" 70 python3 scripts/bench_live.py --device "$DEVICE" \
    --source "$WORK/shots.mp4" --width "$LIVE_WIDTH" --seconds "$LIVE_SECONDS" --depth 6 --json "$OUT/live_shots.json"
fi
step "video googlenet" 30 python3 scripts/bench.py --device "$DEVICE" --models googlenet --no-steps --no-live \
  --no-profile --input "$MEDIA" --video-sizes "$VIDEO_SIZES" --frames $((FRAMES / 2)) --out "$OUT/video_googlenet.json"

python3 scripts/gpu_summary.py "$OUT" "${FAILED[@]}" | tee "$OUT/summary.md"
[ ${#FAILED[@]} -eq 0 ]
