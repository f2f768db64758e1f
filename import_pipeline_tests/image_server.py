"""A real HTTP server on 127.0.0.1 (http.server in a thread) serving the image URLs the
tests fetch: good images, one image under two URLs, a 404, a slow answer, oversized
bodies, non-images and redirects to places a fetch must not follow."""

import io
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image

SLOW_SECONDS = 3.0
BIG_BYTES = 3 << 20


def picture(size: tuple[int, int], colour: tuple[int, int, int], kind: str) -> bytes:
    """A gradient image (so resizing and hashing have something to work on)."""
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    image = Image.blend(image, Image.new("RGB", size, colour), 0.5)
    out = io.BytesIO()
    image.save(out, kind)
    return out.getvalue()


RED_PNG = picture((1200, 900), (200, 30, 30), "PNG")
BLUE_JPEG = picture((640, 480), (30, 30, 200), "JPEG")

ROUTES: dict[str, tuple[int, dict[str, str], bytes]] = {
    "/red.png": (200, {"Content-Type": "image/png"}, RED_PNG),
    "/red-again.png": (200, {"Content-Type": "image/png"}, RED_PNG),
    "/blue.jpg": (200, {"Content-Type": "image/jpeg"}, BLUE_JPEG),
    "/missing.jpg": (404, {"Content-Type": "text/plain"}, b"not here"),
    "/page.html": (200, {"Content-Type": "text/html"}, b"<html>a page</html>"),
    "/fake.jpg": (200, {"Content-Type": "image/jpeg"}, b"this is text, not a JPEG"),
    "/declared-huge.jpg": (200, {"Content-Type": "image/jpeg", "Content-Length": "999999999"}, b""),
    "/to-private.jpg": (302, {"Location": "http://10.0.0.1/red.png"}, b""),
    "/to-metadata.jpg": (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""),
    "/to-ftp.jpg": (302, {"Location": "ftp://127.0.0.1/red.png"}, b""),
    "/to-red.jpg": (301, {"Location": "/red.png"}, b""),
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/slow.jpg":
            time.sleep(SLOW_SECONDS)
            self._answer(200, {"Content-Type": "image/jpeg"}, BLUE_JPEG)
        elif path == "/endless.jpg":
            self._stream_big()
        elif path in ROUTES:
            self._answer(*ROUTES[path])
        else:
            self._answer(404, {"Content-Type": "text/plain"}, b"no such route")

    def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def _stream_big(self) -> None:
        """An image/jpeg body with no Content-Length, longer than any cap."""
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Connection", "close")
        self.end_headers()
        with suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(BIG_BYTES // 65536):
                self.wfile.write(b"\xff" * 65536)

    def log_message(self, format: str, *args: object) -> None:
        return


class _Server(ThreadingHTTPServer):
    # NOTE: the default listen backlog of 5 drops a burst of concurrent connections (the
    # images load opens 8 at once), and a dropped SYN is retried only after a second.
    request_queue_size = 64
    daemon_threads = True


@contextmanager
def image_server() -> Iterator[str]:
    """The server's base URL (`http://127.0.0.1:PORT`) while the block runs."""
    server = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
