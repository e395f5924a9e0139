"""`webcam --serve`: the page, its endpoints and who gets in, against a real show on the test
scene; and the page in a real browser (Debian's chromium through Playwright) where there is one."""

import http.client
import json
import shutil
import threading
import time
import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest

from streamdream.commands import Command, ControlChannel
from streamdream.presets import build_config

pytest.importorskip("uvicorn")

from streamdream.live.web import PREVIEW_CLIENTS, Bucket, Preview, WebControl  # noqa: E402

FAST = {"width": 160, "octaves": 1, "iterations": 1, "layers": "block3", "seed": 1, "device": "cpu"}


class Show:
    """`run_webcam` on the test scene in a thread, serving its page; `url` once it is up."""

    def __init__(self, seconds=30.0, **options):
        from streamdream.live.show import WebcamOptions, run_webcam

        self.said, self.result, self.controls = [], None, ControlChannel()
        config = build_config(None, {"dream": FAST})
        run = lambda: setattr(self, "result", run_webcam(WebcamOptions("test", window=False, duration=seconds, serve=0,
                                                                       **options), config, say=self.said.append,
                                                         commands=self.controls))
        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        while not any("web page on" in str(m) for m in self.said):
            assert self.thread.is_alive(), self.said
            time.sleep(0.05)
        self.url = next(str(m) for m in self.said if "web page on" in str(m)).split("web page on ")[1]
        self.base = self.url.split("?")[0]

    def get(self, path, token=True):
        url = self.base + path + (self.url[len(self.base):] if token and "?" in self.url else "")
        return urllib.request.urlopen(url, timeout=10)

    def stop(self):
        self.controls.put(Command("quit"))
        self.thread.join(timeout=60)
        assert not self.thread.is_alive()

    def status(self):
        return json.loads(self.get("status.json").read())

    def wait(self, done, what):
        while not done():
            assert self.thread.is_alive(), f"the show ended before {what}"
            time.sleep(0.05)

    def command(self, address, args, token=True):
        url = self.base + "command" + (self.url[len(self.base):] if token and "?" in self.url else "")
        request = urllib.request.Request(url, data=json.dumps({"address": address, "args": args}).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        return urllib.request.urlopen(request, timeout=10)


def mjpeg_frames(response, count):
    """The first `count` JPEG frames of an MJPEG response, decoded."""
    frames, buffer = [], b""
    while len(frames) < count:
        buffer += response.read1(65536)
        start = buffer.find(b"\xff\xd8")
        end = buffer.find(b"\xff\xd9", start + 2)
        if start >= 0 and end > start:
            frames.append(cv2.imdecode(np.frombuffer(buffer[start:end + 2], np.uint8), cv2.IMREAD_COLOR))
            buffer = buffer[end + 2:]
    return frames


def test_the_page_watches_and_steers_a_show():
    show = Show(seconds=300.0)
    try:
        page = show.get("").read().decode()
        assert "stream.mjpg" in page and "command" in page
        show.wait(lambda: show.status()["dreamt"] >= 2, "two frames were dreamt")
        status = show.status()
        assert status["look"].endswith("x1.00") and "clouds" in status["presets"] and status["camera"]
        assert json.loads(show.command("/streamdream/strength", [2.5]).read())["command"] == "set_strength"
        show.wait(lambda: show.status()["strength"] == 2.5, "the strength changed")
        show.command("/streamdream/preset", ["clouds"])
        show.wait(lambda: show.status()["preset"] == "clouds", "the preset changed")
        stream = show.get("stream.mjpg")
        frames = mjpeg_frames(stream, 3)
        stream.close()
        assert all(f is not None and f.shape[1] == 160 and f.std() > 5 for f in frames)  # pictures, not blank
        snapshot = cv2.imdecode(np.frombuffer(show.get("snapshot.jpg").read(), np.uint8), cv2.IMREAD_COLOR)
        assert snapshot.shape[1] == 160
        with pytest.raises(urllib.error.HTTPError) as bad:
            show.command("/streamdream/strength", ["lots"])
        assert bad.value.code == 400
        connection = http.client.HTTPConnection(show.base.split("//")[1].rstrip("/"), timeout=10)
        connection.request("GET", "/%2e%2e/%2e%2e/etc/passwd")
        assert connection.getresponse().status == 404
        show.command("/streamdream/freeze", [1])
        show.wait(lambda: show.status()["frozen"], "the show froze")
    finally:
        show.stop()


def test_off_loopback_every_path_needs_the_token():
    show = Show(seconds=300.0, serve_host="0.0.0.0")
    try:
        assert "token=" in show.url
        base = show.base.replace("0.0.0.0", "127.0.0.1")
        token = show.url.split("token=")[1]
        for path in ("", "status.json", "snapshot.jpg", "stream.mjpg", "events"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(base + path, timeout=10)
            assert refused.value.code == 401
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(base + "command", data=b'{"address": "/streamdream/freeze", '
                                                          b'"args": [1]}', method="POST"), timeout=10)
        assert refused.value.code == 401
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(base + "status.json?token=wrong" + token[:3], timeout=10)
        first = urllib.request.urlopen(base + f"?token={token}", timeout=10)
        cookie = first.headers["set-cookie"].split(";")[0]
        assert cookie.startswith("streamdream_token=") and "HttpOnly" in first.headers["set-cookie"]
        again = urllib.request.urlopen(urllib.request.Request(base + "status.json", headers={"Cookie": cookie}), timeout=10)
        assert json.loads(again.read())["look"]
    finally:
        show.stop()


def test_commands_are_rate_limited_and_previews_capped():
    clock = [0.0]
    bucket = Bucket(rate=2.0, burst=3, clock=lambda: clock[0])
    assert [bucket.take() for _ in range(5)] == [True, True, True, False, False]
    clock[0] = 1.0  # two more a second
    assert [bucket.take() for _ in range(3)] == [True, True, False]

    channel, preview = ControlChannel(), Preview()
    preview.write(np.full((48, 64, 3), 128, np.uint8), 0.0)
    web = WebControl(channel, preview, lambda: {"ok": True}, port=0, say=lambda m: None, rate=0.0, burst=3)
    try:
        codes = []
        for _ in range(10):
            request = urllib.request.Request(f"http://127.0.0.1:{web.port}/command", method="POST",
                                             data=b'{"address": "/streamdream/preset/next"}')
            try:
                codes.append(urllib.request.urlopen(request, timeout=10).status)
            except urllib.error.HTTPError as exc:
                codes.append(exc.code)
        assert codes == [200] * 3 + [429] * 7 and len(channel.drain()) == 3
        streams = [urllib.request.urlopen(f"http://127.0.0.1:{web.port}/stream.mjpg", timeout=10)
                   for _ in range(PREVIEW_CLIENTS)]
        with pytest.raises(urllib.error.HTTPError) as full:
            urllib.request.urlopen(f"http://127.0.0.1:{web.port}/stream.mjpg", timeout=10)
        assert full.value.code == 503
        for s in streams:
            s.close()
    finally:
        web.close()


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_the_page_in_a_real_browser(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    if chromium() is None:
        pytest.skip("no chromium here (scripts/test installs Debian's where apt can)")
    show = Show(seconds=300.0)
    try:
        show.wait(lambda: show.status()["dreamt"] >= 2, "two frames were dreamt")
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 480, "height": 800})
            start = time.perf_counter()
            page.goto(show.url)
            page.wait_for_selector("button.preset")
            loaded = time.perf_counter() - start
            page.wait_for_function("document.getElementById('preview').naturalWidth > 0")
            shot = tmp_path / "page.png"
            page.screenshot(path=str(shot))
            picture = cv2.imread(str(shot))
            top = picture[:200]  # the preview fills the top of a phone-sized page
            assert top.std() > 10, "the preview is blank"
            page.click("button.preset:text-is('clouds')")
            show.wait(lambda: show.status()["preset"] == "clouds", "the preset button took")
            page.locator("#strength").fill("0.5")  # 10 ** 0.5
            show.wait(lambda: abs(show.status()["strength"] - 10 ** 0.5) < 0.01, "the slider took")
            page.wait_for_function("document.getElementById('figures').textContent.includes('dream')")
            browser.close()
        print(f"page loaded in {loaded:.2f} s")
    finally:
        show.stop()
