"""`webcam --serve`: a web page to watch and steer a show from a phone or a desktop browser.
The preview is the shown picture as MJPEG; every button and slider posts a command that becomes
the same `Command` on the show's channel as a key or an OSC message (controls.osc_command).

Starlette and uvicorn (the `web` extra) run on their own thread. Bound to loopback unless told
otherwise; on any other address every path needs the show's token, given once in the URL
(`?token=...`) and kept as a cookie. Commands are rate-limited per client, and a few preview
clients at most are served; each takes the newest frame when it is ready for one, so a slow
client misses frames and never holds the show back."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import secrets
import socket
import threading
import time
from importlib import resources
from typing import Callable

import cv2
import numpy as np

from ..commands import ControlChannel
from ..errors import UsageError
from .controls import osc_command

# a command refused for coming too fast is answered after this long: a client flooding over a few
# connections is slowed to a few dozen requests a second, each costing the show almost nothing
TOO_MANY_WAIT = 0.1
PREVIEW_FPS = 15  # the most frames a second a client is sent
PREVIEW_CLIENTS = 4  # the most previews served at once
CONNECTIONS = 64  # the most requests in hand at once (previews and event streams included)
COMMANDS_PER_SECOND = 30  # a client's steady rate; bursts up to COMMAND_BURST
COMMAND_BURST = 60
MAX_BODY = 4096  # bytes: a command is a few dozen
COOKIE = "streamdream_token"


def web_modules():
    try:
        import starlette  # noqa: F401
        import uvicorn
    except ImportError:
        raise UsageError("the web page needs the web extra: pip install 'streamdream[web]'", setting="serve") from None
    return uvicorn


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class Preview:
    """The newest shown frame, as JPEG, for the page: a sink of the show. Frames are encoded
    only while someone watches, at most PREVIEW_FPS a second."""

    def __init__(self):
        self._lock = threading.Lock()
        self.jpeg: bytes | None = None
        self.image: np.ndarray | None = None
        self.count = 0  # frames encoded so far
        self.watchers = 0
        self._last = 0.0

    def watched(self, more: int) -> None:
        """One more client watching (1), or one fewer (-1)."""
        with self._lock:
            self.watchers += more

    def write(self, image: np.ndarray, time_: float) -> None:
        with self._lock:
            self.image = image
            watched = self.watchers > 0
        now = time.perf_counter()
        if watched and now - self._last >= 1.0 / PREVIEW_FPS:
            self._last = now
            self._encode(image)

    def _encode(self, image: np.ndarray) -> bytes:
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
        with self._lock:
            self.jpeg, self.count = data.tobytes(), self.count + 1
            return self.jpeg

    def snapshot(self) -> bytes | None:
        """The newest frame as JPEG, encoded now."""
        with self._lock:
            image = self.image
        return None if image is None else self._encode(image)

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


class Bucket:
    """A token bucket: `take()` is False once a client sends faster than `rate` a second, after
    a first burst of `burst`."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self.level, self.clock = rate, burst, burst, clock
        self.at = clock()

    def take(self) -> bool:
        now = self.clock()
        self.level = min(self.burst, self.level + (now - self.at) * self.rate)
        self.at = now
        if self.level < 1:
            return False
        self.level -= 1
        return True


class WebControl:
    """The show's web app on `host:port` (0: any free port, see `port`). `status()` gives the
    figures the page shows; commands go onto `channel`."""

    def __init__(self, channel: ControlChannel, preview: Preview, status: Callable[[], dict],
                 port: int = 8080, host: str = "127.0.0.1", token: str | None = None,
                 say: Callable[[str], None] = print, rate: float = COMMANDS_PER_SECOND, burst: float = COMMAND_BURST):
        uvicorn = web_modules()
        self.channel, self.preview, self.status = channel, preview, status
        self.token = token if token else (None if is_loopback(host) else secrets.token_urlsafe(16))
        self._buckets: dict[str, Bucket] = {}
        self.rate, self.burst = rate, burst
        self._previews = threading.BoundedSemaphore(PREVIEW_CLIENTS)
        self._page = (resources.files("streamdream.live") / "page" / "index.html").read_bytes()
        try:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            self.socket = socket.socket(family, socket.SOCK_STREAM)
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.socket.bind((host, port))
            self.socket.listen(64)  # from now on connections wait for the server, not bounce
        except OSError as exc:
            raise UsageError(f"cannot serve the web page on {host}:{port} ({exc.strerror or exc}); "
                             f"choose another `serve` port", setting="serve") from None
        self.port = self.socket.getsockname()[1]
        self.host = host
        # past CONNECTIONS at once, uvicorn answers 503 before any of our code runs: a flood over
        # many connections costs the show no more than one over a few
        config = uvicorn.Config(self._app(), log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=1, limit_concurrency=CONNECTIONS)
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]},
                                        name="web", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        say(f"web page on {self.url}")

    @property
    def url(self) -> str:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.port}/" + (f"?token={self.token}" if self.token else "")

    def _allowed(self, request) -> bool:
        if self.token is None:
            return True
        given = request.query_params.get("token") or request.cookies.get(COOKIE) or ""
        return hmac.compare_digest(given.encode(), self.token.encode())

    def _app(self):
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
        from starlette.routing import Route

        def guarded(handler):
            async def inner(request):
                if not self._allowed(request):
                    return PlainTextResponse("a token is needed: open the address the show printed", status_code=401)
                response = await handler(request)
                if self.token is not None and request.query_params.get("token"):
                    response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict")
                return response
            return inner

        async def page(request):
            return Response(self._page, media_type="text/html")

        async def status(request):
            return JSONResponse(self.status())

        async def snapshot(request):
            data = await asyncio.to_thread(self.preview.snapshot)
            if data is None:
                return PlainTextResponse("nothing shown yet", status_code=503)
            return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

        async def stream(request):
            if not self._previews.acquire(blocking=False):
                return PlainTextResponse(f"at most {PREVIEW_CLIENTS} previews at once", status_code=503)

            async def frames():
                self.preview.watched(1)
                try:
                    seen = -1
                    while not self.server.should_exit:
                        if self.preview.count == seen or self.preview.jpeg is None:
                            await asyncio.sleep(1.0 / (2 * PREVIEW_FPS))
                            continue
                        seen, data = self.preview.count, self.preview.jpeg
                        # the newest frame each time this client is ready: a slow one skips frames
                        yield (b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: " + str(len(data)).encode()
                               + b"\r\n\r\n" + data + b"\r\n")
                finally:
                    self.preview.watched(-1)
                    self._previews.release()

            return StreamingResponse(frames(), media_type="multipart/x-mixed-replace; boundary=frame",
                                     headers={"Cache-Control": "no-store"})

        async def events(request):
            async def figures():
                while not self.server.should_exit:
                    yield f"data: {json.dumps(self.status())}\n\n"
                    await asyncio.sleep(0.5)

            return StreamingResponse(figures(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

        async def command(request):  # a client sending too fast never gets here (see `_throttled`)
            body = await request.body()
            if len(body) > MAX_BODY:
                return PlainTextResponse("a command is a few bytes", status_code=413)
            try:
                message = json.loads(body)
                address, args = message["address"], message.get("args", [])
                if not isinstance(address, str) or not isinstance(args, list):
                    raise ValueError("address must be text and args a list")
                order = osc_command(address, tuple(args))
            except (ValueError, KeyError, TypeError) as exc:
                return PlainTextResponse(f"not a command: {exc}", status_code=400)
            self.channel.put(order)
            return JSONResponse({"ok": True, "command": order.name})

        routes = [Route("/", guarded(page)), Route("/status.json", guarded(status)),
                  Route("/snapshot.jpg", guarded(snapshot)), Route("/stream.mjpg", guarded(stream)),
                  Route("/events", guarded(events)), Route("/command", guarded(command), methods=["POST"])]
        return self._throttled(Starlette(routes=routes))

    def _throttled(self, app):
        """`app` behind the rate limit of POST /command, answered before any routing, any request
        object or any token check: a flood costs the show as little per request as it can."""
        too_many = b"too many commands; slow down"
        start = {"type": "http.response.start", "status": 429,
                 "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(too_many)).encode())]}

        async def throttled(scope, receive, send):
            if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == "/command":
                client = scope["client"][0] if scope.get("client") else "?"
                bucket = self._buckets.setdefault(client, Bucket(self.rate, self.burst))
                if len(self._buckets) > 1000:
                    self._buckets = {client: bucket}
                if not bucket.take():
                    await asyncio.sleep(TOO_MANY_WAIT)
                    await send(start)
                    await send({"type": "http.response.body", "body": too_many})
                    return
            await app(scope, receive, send)

        return throttled

    def close(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=3)
        self.socket.close()
