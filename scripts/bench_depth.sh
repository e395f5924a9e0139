#!/usr/bin/env bash
# The depth benchmark: `video` against `--no-flow`, and `webcam` against full dreams, on the shared
# clip and on clips made from it with a cut, a hand-held camera and a fast mover before a still
# camera (and, live, one that cuts to a shot never seen every 1.6 s, the clip turned upright, and
# the clip seen twice as close, its moving subject filling the frame as a performer in front of a
# webcam does); the numbers go to docs/depth/*.json and docs/depth.md. About 40 minutes on a 2-core
# CPU; the contact sheets of the live runs go beside them.
#
#     scripts/bench_depth.sh [--live | --video] [SHARED_CLIP]
#
# --live measures `webcam` again and keeps the `video` numbers (about 22 minutes); --video the
# other way round (about 20 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
video=true
live=true
if [ "${1:-}" = --live ]; then video=false; shift; elif [ "${1:-}" = --video ]; then live=false; shift; fi
clip=${1:-../shared/media/bigbuckbunny.mp4}
out=docs/depth
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
if $video; then
    python scripts/make_clips.py --input "$clip" --out "$work/clips" --width 320 >/dev/null
    python scripts/bench_video.py --input "$clip" --width 640 --frames 30 --json "$out/video_shared.json"
    python scripts/bench_video.py --input "$clip" --width 1280 --frames 20 --json "$out/video_shared-hd.json" \
        --keep "$work/hd"
    python scripts/contact_sheet.py "$clip" --width 1280 --frames 20 --at 0,6,12,19 --tile-width 480 \
        --reference "$work/hd/noflow.mp4" --dream "$work/hd/flow.mp4" -o "$out/video_shared-hd_sheet.png"
    for name in cut handheld object; do
        python scripts/bench_video.py --input "$work/clips/$name.mp4" --width 320 --frames 60 --json "$out/video_$name.json" \
            --keep "$work/$name"
        # the cut clip cuts at frame 40
        python scripts/contact_sheet.py "$work/clips/$name.mp4" --width 320 --frames 60 --at 15,39,41,59 \
            --reference "$work/$name/noflow.mp4" --dream "$work/$name/flow.mp4" -o "$out/video_${name}_sheet.png"
    done
fi
if $live; then
    python scripts/make_clips.py --input "$clip" --out "$work/clips640" --width 640 >/dev/null
    python scripts/bench_live.py --source "$clip" --width 640 --seconds 25 --depth 12 --json "$out/live_shared.json"
    for name in cut handheld object shots close; do
        python scripts/bench_live.py --source "$work/clips640/$name.mp4" --width 640 --seconds 25 --depth 12 --json "$out/live_$name.json"
    done
    # upright, 640 tall: the size `webcam` gives a portrait source with no --width
    python scripts/bench_live.py --source "$work/clips640/upright.mp4" --width 360 --seconds 25 --depth 12 \
        --json "$out/live_upright.json"
    rm -f "$out"/live_*_sheet.png  # the sheets are JPEG now: a PNG of one is 7 MB
    python scripts/live_sheet.py --source "$clip" --seconds 20 -o "$out/live_shared_sheet.jpg"
    for name in cut object shots close; do
        python scripts/live_sheet.py --source "$work/clips640/$name.mp4" --seconds 20 -o "$out/live_${name}_sheet.jpg"
    done
fi
python scripts/depth_report.py "$out" > docs/depth.md
echo "wrote docs/depth.md"
