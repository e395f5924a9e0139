#!/usr/bin/env bash
# The CUDA check, for a machine with an NVIDIA GPU, from the repository root:
#   bash scripts/gpu_check.sh [path/to/bigbuckbunny.mp4]
# Runs the test suite (CUDA tests included) and prints fps for images, video and zoom.
# DEVICE=cpu runs the same steps on the CPU: a dry run of the script where no GPU is lent.
set -u
DEVICE=${DEVICE:-cuda}
export PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
MEDIA=${1:-../shared/media/bigbuckbunny.mp4}
python3 - <<'PY'
import torch, torchvision, av, cv2
print("torch", torch.__version__, "torchvision", torchvision.__version__, "av", av.__version__, "cv2", cv2.__version__)
print("cuda", torch.cuda.is_available(), torch.cuda.get_device_name() if torch.cuda.is_available() else "")
PY
echo "== bench (one JSON document: steps against the card's matmul peak, file to file 320x180-1920x1080, profile)"
if [ -f "$MEDIA" ]; then BENCH_INPUT=(--input "$MEDIA"); else BENCH_INPUT=(); fi
timeout 420 python3 scripts/bench.py --device "$DEVICE" --frames 48 --live-runs 1 "${BENCH_INPUT[@]}" --out "${OUT:-.}/bench_${DEVICE}.json" \
  | python3 -c "import json,sys; r=json.load(sys.stdin); print(json.dumps(r['targets'], indent=1)); print(json.dumps(r.get('profile'), indent=1))"
python3 scripts/bench.py --markdown "${OUT:-.}/bench_${DEVICE}.json"
echo "== tests"
timeout 240 python3 -m pytest -q -p no:cacheprovider tests 2>&1 | tail -n 15
echo "== image"
timeout 60 python3 scripts/bench_image.py --device "$DEVICE" --repeats 5
timeout 60 python3 scripts/bench_image.py --device "$DEVICE" --width 1280 --height 720 --repeats 3
echo "== video"
if [ -f "$MEDIA" ]; then
  timeout 150 python3 scripts/bench_video.py --device "$DEVICE" --input "$MEDIA" --frames 132
  timeout 90 python3 scripts/bench_video.py --device "$DEVICE" --input "$MEDIA" --frames 60 --width 1280 --flow-only --window 20
else
  echo "no clip at $MEDIA: video benchmark skipped"
fi
echo "== compile (opt-in --compile): the default path at 1280x720, 96 frames, without and with"
if [ -f "$MEDIA" ]; then
  for flag in "" --compile; do
    timeout 240 python3 -m streamdream video "$MEDIA" -o /tmp/gpu_check_compile.mp4 --width 1280 --frames 96 \
      --device "$DEVICE" --overwrite $flag 2>&1 | tail -n 1
  done
fi
echo "== zoom"
timeout 90 python3 scripts/bench_zoom.py --device "$DEVICE" --frames 300
echo "== live (webcam, headless; target: 1280x720 at 30 dream fps)"
timeout 60 python3 scripts/bench_live.py --device "$DEVICE" --source test --width 1280 --seconds 20 --record
if [ -f "$MEDIA" ]; then
  timeout 60 python3 scripts/bench_live.py --device "$DEVICE" --source "$MEDIA" --width 1280 --seconds 20
  echo "== live depth (webcam 1280x720 against full dreams of 6 of its frames; target: retained >= 50%)"
  timeout 120 python3 scripts/bench_live.py --device "$DEVICE" --source "$MEDIA" --width 1280 --seconds 20 --depth 6
fi
