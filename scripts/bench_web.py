#!/usr/bin/env python
"""The web page's targets on this machine: `webcam --source test --no-window --serve` with 0 and
then 3 preview clients, in turns in one run; the dream rate in each turn, each client's frame
rate, the page's load time, and the time from a posted command to a shown frame dreamt with it.

    python scripts/bench_web.py [--width 640] [--turn 10] [--turns 2]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

from streamdream.commands import Command, ControlChannel
from streamdream.live.show import WebcamOptions, run_webcam
from streamdream.models import allocator
from streamdream.presets import build_config

from live_timing import report, time_frames, write_page


def thread_cpu(tid: int) -> float:
    """CPU seconds (user and system) one thread of this process has used."""
    fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    allocator.keep_freed_memory()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--turn", type=float, default=10.0, help="seconds of each turn")
    p.add_argument("--turns", type=int, default=2, help="turns of each kind (none, three clients)")
    p.add_argument("--markdown", type=Path, help="also write the lines printed here as a Markdown page")
    args = p.parse_args()
    lines: list[str] = []
    print = report(lines)  # noqa: A001 (every line printed is also kept for --markdown)

    strengths: list[tuple[float, float]] = []  # (when, the strength shown) for every picture shown
    dreamt, shown = time_frames(strengths)  # (finished at, strength) per dreamt frame; count -> first shown
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

    latencies, at_once = [], []
    for k, value in enumerate((2.0, 1.0, 2.0, 1.0, 2.0, 1.0)):
        time.sleep(1.0)
        sent = time.perf_counter()
        request = urllib.request.Request(url.split("?")[0] + "command", method="POST",
                                         data=json.dumps({"address": "/streamdream/strength", "args": [value]}).encode())
        urllib.request.urlopen(request).read()
        while True:  # the display shows the new strength (scaling the latest dream's detail)
            when = next((t for t, s in list(strengths) if t > sent and abs(s - value) < 1e-9), None)
            if when is not None:
                at_once.append(when - sent)
                break
            time.sleep(0.002)
        while True:  # ... and a frame dreamt with it
            count = next((i + 1 for i, (t, s) in enumerate(dreamt) if t > sent and abs(s - value) < 1e-9), None)
            if count is not None and count in shown:
                latencies.append(shown[count] - sent)
                break
            time.sleep(0.005)
    print(f"command to the shown frame at the new strength: median {1000 * np.median(at_once):.0f} ms, max "
          f"{1000 * max(at_once):.0f} ms over {len(at_once)} commands (target <= 150 ms)")
    print(f"command to the first shown frame dreamt with it: median {1000 * np.median(latencies):.0f} ms, max "
          f"{1000 * max(latencies):.0f} ms")
    # a flood of commands from one client, then a client that reads a byte a second
    from streamdream.live.show import rss_mb

    host, port = url.split("//")[1].split("/")[0].split(":")
    before_rate, before_rss = dream_rate(time.perf_counter() - args.turn), rss_mb()
    # another process, as an attacker on the network is: its work must not count as the show's
    import resource

    server = next(t for t in threading.enumerate() if t.name == "web")
    client_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before = thread_cpu(server.native_id)
    begin = time.perf_counter()
    flooded = subprocess.run([sys.executable, str(Path(__file__).with_name("web_flood.py")), f"{host}:{port}"],
                             capture_output=True, text=True, check=True)
    codes = {int(k): v for k, v in json.loads(flooded.stdout).items()}
    sent = sum(codes.values())
    seconds = time.perf_counter() - begin
    flood_rate = dream_rate(begin)
    client_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = (client_after.ru_utime + client_after.ru_stime) - (client_before.ru_utime + client_before.ru_stime)
    server_cpu = thread_cpu(server.native_id) - server_before
    print(f"flood: {sent} commands answered in {seconds:.1f} s from another process trying 10000 in 10 s over eight "
          f"connections ({codes}); dream {flood_rate:.2f} fps against {before_rate:.2f} before "
          f"({100 * (1 - flood_rate / before_rate):.1f}% lower, target <= 20%); RSS {before_rss:.0f} -> "
          f"{rss_mb():.0f} MB; CPU over the flood: the server {server_cpu:.1f} s, the flooding client {client_cpu:.1f} s (of "
          f"{2 * seconds:.0f} core-seconds)")
    slow = socket.create_connection((host, int(port)))
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
    rss = [rss_mb()]
    for _ in range(20):
        slow.recv(1)
        time.sleep(1.0)
        rss.append(rss_mb())
    slow.close()
    print(f"a client reading 1 byte a second for 20 s: RSS {rss[0]:.0f} -> {max(rss):.0f} MB at most "
          f"(a 640x360 JPEG frame is about 0.05 MB)")
    controls.put(Command("quit"))
    show.join()
    if args.markdown:
        write_page(args.markdown, "The web page: measured", lines, args.width)


if __name__ == "__main__":
    main()
