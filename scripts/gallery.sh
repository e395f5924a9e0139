#!/usr/bin/env bash
# Renders the README's gallery into docs/gallery/ with streamdream's own commands:
#   bash scripts/gallery.sh [path/to/bigbuckbunny.mp4]
# A Big Buck Bunny frame amplified at a low, a middle and a high layer; a banana and the five
# classes of the 2015 post visualised from noise; frames 0, 100 and 200 of a zoom from noise.
# Small PNGs, fixed seeds.
set -euo pipefail
cd "$(dirname "$0")/.."
clip=${1:-../shared/media/bigbuckbunny.mp4}
out=docs/gallery
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# a still from the clip (frame 80), the photo the three layers dream on
python3 - "$clip" "$work/photo.png" <<'PY'
import sys, av, cv2
with av.open(sys.argv[1]) as c:
    for i, frame in enumerate(c.decode(video=0)):
        if i == 80:
            cv2.imwrite(sys.argv[2], frame.to_ndarray(format="bgr24"))
            break
PY
common=(--width 400 --seed 1 --overwrite)
streamdream image "$work/photo.png" -o "$out/photo.png" --iterations 1 --step 0 "${common[@]}"
streamdream image "$work/photo.png" -o "$out/low-block2.png" --layers block2 "${common[@]}"
streamdream image "$work/photo.png" -o "$out/mid-block6.png" --layers block6 "${common[@]}"
streamdream image "$work/photo.png" -o "$out/high-block11.png" --layers block11 --octaves 5 "${common[@]}"
streamdream visualize banana -o "$out/banana.png" --seed 1 --overwrite
# the five classes of the 2015 post, made by lite0+lite1 and judged by lite2 (the README's table)
python3 scripts/visualize_check.py --gallery "$out/classes.png" > docs/visualize_check.json
streamdream zoom -o "$work/zoom.mp4" --size 400x224 --frames 201 --seed 1 --overwrite
python3 - "$work/zoom.mp4" "$out" <<'PY'
import sys, av, cv2
with av.open(sys.argv[1]) as c:
    for i, frame in enumerate(c.decode(video=0)):
        if i in (0, 100, 200):
            cv2.imwrite(f"{sys.argv[2]}/zoom-{i:03d}.png", frame.to_ndarray(format="bgr24"))
PY
ls -la "$out"
