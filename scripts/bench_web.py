#!/usr/bin/env python
"""The web page's targets on this machine: `webcam --source test --no-window --serve` with 0 and
then 3 preview clients, in turns in one run; the dream rate in each turn, each client's frame
rate, the page's load time, and the time from a posted command to a shown frame dreamt with it.

    python scripts/bench_web.py [--width 640] [--turn 10] [--turns 2]
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import urllib.request

import numpy as np

from streamdream.commands import Command, ControlChannel
from streamdream.live import compositor as compositor_module, stage as stage_module
from streamdream.live.show import WebcamOptions, run_webcam
from streamdream.models import allocator
from streamdream.presets import build_config


def main() -> None:
    allocator.keep_freed_memory()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--turn", type=float, default=10.0, help="seconds of each turn")
    p.add_argument("--turns", type=int, default=2, help="turns of each kind (none, three clients)")
    args = p.parse_args()

    dreamt: list[tuple[float, float]] = []  # (finished at, strength)
    shown: dict[int, float] = {}
    next_dream, present = stage_module.LiveStage.next, compositor_module.Compositor.present

    def timed_next(self, image, motion):
        strength = self.stream.strength
        out = next_dream(self, image, motion)
        dreamt.append((time.perf_counter(), strength))
        return out

    def timed_present(self, frame, latest):
        out = present(self, frame, latest)
        if latest is not None and latest.count not in shown:
            shown[latest.count] = time.perf_counter()
        return out

    stage_module.LiveStage.next, compositor_module.Compositor.present = timed_next, timed_present
    said, controls = [], ControlChannel()
    config = build_config(None, {"dream": {"width": args.width}})
    show = threading.Thread(target=run_webcam, args=(WebcamOptions("test", window=False, duration=3600, serve=0),
                                                     config), kwargs={"say": said.append, "commands": controls})
    show.start()
    while not any("web page on" in str(m) for m in said):
        time.sleep(0.05)
    url = next(str(m) for m in said if "web page on" in str(m)).split("web page on ")[1]
    while not dreamt:
        time.sleep(0.1)  # the first full dream
    time.sleep(2)

    start = time.perf_counter()
    page = urllib.request.urlopen(url).read()
    load = time.perf_counter() - start
    print(f"page: {len(page)} bytes in {1000 * load:.1f} ms (target < 1000 ms)")

    def dream_rate(since: float) -> float:
        done = [t for t, _ in dreamt if t >= since]
        return (len(done) - 1) / (done[-1] - done[0]) if len(done) > 2 else 0.0

    def watch(counts: list, stop: threading.Event) -> None:
        stream = urllib.request.urlopen(url + "stream.mjpg")
        while not stop.is_set():
            chunk = stream.read1(65536)
            counts[0] += chunk.count(b"\xff\xd8")
        stream.close()

    rates = {"none": [], "three": []}
    client_rates = []
    for turn in range(args.turns):
        begin = time.perf_counter()
        time.sleep(args.turn)
        rates["none"].append(dream_rate(begin))
        stop, counts = threading.Event(), [[0], [0], [0]]
        threads = [threading.Thread(target=watch, args=(c, stop), daemon=True) for c in counts]
        for t in threads:
            t.start()
        time.sleep(1.0)
        begin, before = time.perf_counter(), [c[0] for c in counts]
        time.sleep(args.turn)
        seconds = time.perf_counter() - begin
        rates["three"].append(dream_rate(begin))
        client_rates += [(c[0] - b) / seconds for c, b in zip(counts, before)]
        stop.set()
        for t in threads:
            t.join(timeout=5)
        print(f"turn {turn + 1}: dream {rates['none'][-1]:.2f} fps with no clients, {rates['three'][-1]:.2f} with three "
              f"(each shown {', '.join(f'{r:.1f}' for r in client_rates[-3:])} fps)")
    none, three = float(np.mean(rates["none"])), float(np.mean(rates["three"]))
    print(f"dream rate with three clients: {three:.2f} fps against {none:.2f}: {100 * (1 - three / none):.1f}% lower "
          f"(target <= 10%); previews {min(client_rates):.1f} to {max(client_rates):.1f} fps (target >= 10)")

    latencies = []
    for k, value in enumerate((2.0, 1.0, 2.0, 1.0, 2.0, 1.0)):
        time.sleep(1.0)
        sent = time.perf_counter()
        request = urllib.request.Request(url.split("?")[0] + "command", method="POST",
                                         data=json.dumps({"address": "/streamdream/strength", "args": [value]}).encode())
        urllib.request.urlopen(request).read()
        while True:
            count = next((i + 1 for i, (t, s) in enumerate(dreamt) if t > sent and abs(s - value) < 1e-9), None)
            if count is not None and count in shown:
                latencies.append(shown[count] - sent)
                break
            time.sleep(0.005)
    print(f"command to shown frame: median {1000 * np.median(latencies):.0f} ms, max {1000 * max(latencies):.0f} ms "
          f"over {len(latencies)} commands (target <= 150 ms)")
    controls.put(Command("quit"))
    show.join()


if __name__ == "__main__":
    main()
