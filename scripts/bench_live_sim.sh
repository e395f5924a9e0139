#!/usr/bin/env bash
# The live show replayed offline (scripts/live_sim.py --clock) on the clips bench_depth.sh shows
# live: numbers that do not depend on the machine, so a change to the live dream can be judged
# on any machine, and against them. Each dreamt frame is charged the time its work took on the
# CPU the costs were fitted on (a 2-core AMD EPYC), so dreams a second are that machine's, as
# modelled. The JSONs go to docs/live_sim/ and the table to docs/live_sim.md. Under half an hour on
# 2 cores (two sims at a time, each on one thread; what each prints is in its JSON).
#
#     scripts/bench_live_sim.sh [SHARED_CLIP]
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
clip=${1:-../shared/media/bigbuckbunny.mp4}
out=docs/live_sim
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
python scripts/make_clips.py --input "$clip" --out "$work/clips" --width 640 >/dev/null
cp "$clip" "$work/clips/shared.mp4"
# name, width: upright is 640 tall, as `webcam` gives a portrait source with no --width
printf '%s\n' "close 640" "cut 640" "handheld 640" "object 640" "shared 640" "shots 640" "upright 360" |
    xargs -P 2 -L 1 sh -c 'OMP_NUM_THREADS=1 python scripts/live_sim.py --clock --clip "$1/$3.mp4" --width "$4" \
        --json "$2/$3.json" > /dev/null' sh "$work/clips" "$out"
python scripts/live_sim_report.py "$out" > docs/live_sim.md
echo "wrote docs/live_sim.md"
