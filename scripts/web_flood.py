#!/usr/bin/env python
"""A flood of POST /command for scripts/bench_web.py, in a process of its own that imports
nothing heavy, as an attacker on the network would be: its answers' status codes as JSON.

    python scripts/web_flood.py HOST:PORT
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time


def send_flood(address: str, total: int = 10_000, seconds: float = 10.0, connections: int = 8) -> dict[int, int]:
    """Up to `total` POST /command over `connections` connections, paced evenly over `seconds`
    (faster where the server answers slower, never more), for `seconds`; the answers' status
    codes, counted."""
    host, port = address.rsplit(":", 1)
    codes: dict[int, int] = {}
    lock = threading.Lock()
    begin = time.perf_counter()

    def one(k: int) -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        for i in range(k, total, connections):
            if time.perf_counter() - begin >= seconds:
                return  # what the server did not take in time is not sent
            wait = begin + seconds * i / total - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            connection.request("POST", "/command", body=b'{"address": "/streamdream/strength", "args": [1.5]}')
            response = connection.getresponse()
            response.read()
            with lock:
                codes[response.status] = codes.get(response.status, 0) + 1

    threads = [threading.Thread(target=one, args=(k,)) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes


if __name__ == "__main__":
    sys.stdout.write(json.dumps(send_flood(sys.argv[1])))
