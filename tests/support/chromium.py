"""Drive a real headless Chromium through the DevTools protocol over a pipe: no WebDriver, no websocket
package, no downloaded browser. Used by the browser test and ``scripts/screenshot_app.py``.

Chromium started with ``--remote-debugging-pipe`` reads protocol messages on file descriptor 3 and writes on
4, each a JSON object terminated by a NUL byte. We attach to one page target ("flatten" sessions) and use
``Runtime.evaluate`` to type, click and poll, and ``Page.captureScreenshot`` for PNGs.

    >>> with Chromium() as browser:                      # doctest: +SKIP
    ...     browser.open("http://127.0.0.1:7860")
    ...     browser.wait_for("document.querySelector('#verdict') !== null")
    ...     browser.screenshot("page.png")
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class BrowserError(RuntimeError):
    pass


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome binary ($MTHINKER_CHROMIUM first), or None."""
    explicit = os.environ.get("MTHINKER_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class Chromium:
    """One headless browser with one page. Use as a context manager; every call has a timeout."""

    def __init__(
        self, binary: str | None = None, width: int = 1280, height: int = 1000, timeout_s: float = 30.0
    ):
        self.binary = binary or find_chromium()
        if not self.binary:
            raise BrowserError(
                "no Chromium found: install Debian's `chromium` (make chromium) "
                "or set MTHINKER_CHROMIUM to a Chrome/Chromium binary"
            )
        self.width, self.height, self.timeout_s = width, height, timeout_s
        self._next_id = 0
        self._replies: dict[int, dict] = {}
        self._cond = threading.Condition()
        self._session: str | None = None
        self._closed = False

    # ------------------------------------------------------------------------------------------ process

    def __enter__(self) -> Chromium:  # noqa: PYI034 - py310 has no typing.Self
        self._profile = tempfile.mkdtemp(prefix="mthinker-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire_fds():  # in the child: the protocol pipe is fds 3 (browser reads) and 4 (browser writes)
            reads, writes = (
                fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10),
                fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10),
            )
            os.dup2(reads, 3)  # moved above 10 first: a pipe end may itself be fd 3 or 4
            os.dup2(writes, 4)
            # Popen's close_fds would run after this and close 3 and 4, so it is off; close the parent's
            # other descriptors here instead.
            os.closerange(5, 65536)

        args = [
            self.binary,
            "--headless=new",
            "--remote-debugging-pipe",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--mute-audio",
            "--hide-scrollbars",
            f"--user-data-dir={self._profile}",
            f"--window-size={self.width},{self.height}",
            "about:blank",
        ]
        self._log = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            preexec_fn=wire_fds,  # noqa: PLW1509 - only fcntl/dup2/close run there, nothing is imported
            close_fds=False,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()
        try:
            targets = self.call("Target.getTargets")["targetInfos"]
            page = next((t for t in targets if t["type"] == "page"), None)
            target_id = (
                page["targetId"] if page else self.call("Target.createTarget", url="about:blank")["targetId"]
            )
            self._session = self.call("Target.attachToTarget", targetId=target_id, flatten=True)["sessionId"]
            self.call("Page.enable")
            self.call("Runtime.enable")
            self.call(
                "Emulation.setDeviceMetricsOverride",
                width=self.width,
                height=self.height,
                deviceScaleFactor=1,
                mobile=False,
            )
        except Exception:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._session = None
            self._send("Browser.close", {})
            self._proc.wait(timeout=10)
        except Exception:  # noqa: BLE001 - closing must not hide the test's own failure
            self._proc.kill()
            self._proc.wait(timeout=10)
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self._profile, ignore_errors=True)

    def browser_log(self) -> str:
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-4000:]

    # ------------------------------------------------------------------------------------------ protocol

    def _read_loop(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._from_browser, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._closed_pipe = True
                    self._cond.notify_all()
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "id" in message:
                    with self._cond:
                        self._replies[message["id"]] = message
                        self._cond.notify_all()

    def _send(self, method: str, params: dict) -> int:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if self._session:
            message["sessionId"] = self._session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        return self._next_id

    def call(self, method: str, timeout_s: float | None = None, **params) -> dict:
        """Send one protocol command and wait for its reply (raises on a protocol error)."""
        message_id = self._send(method, params)
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        with self._cond:
            while message_id not in self._replies:
                if getattr(self, "_closed_pipe", False):
                    raise BrowserError(f"Chromium exited during {method}: {self.browser_log()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BrowserError(f"no reply to {method} within {timeout_s or self.timeout_s}s")
                self._cond.wait(left)
            reply = self._replies.pop(message_id)
        if "error" in reply:
            raise BrowserError(f"{method} failed: {reply['error']}")
        return reply.get("result", {})

    # ------------------------------------------------------------------------------------------ page

    def open(self, url: str, ready: str = "document.readyState === 'complete'") -> None:
        self.call("Page.navigate", url=url)
        self.wait_for(ready)

    def evaluate(self, expression: str):
        """Evaluate JavaScript in the page and return its (JSON-serializable) value."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"JavaScript error in {expression[:80]!r}: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    def wait_for(self, condition: str, timeout_s: float | None = None, poll_s: float = 0.1):
        """Poll a JavaScript expression until it is truthy; return its value."""
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        while True:
            value = self.evaluate(
                f"(() => {{ try {{ return ({condition}); }} catch (e) {{ return null; }} }})()"
            )
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out after {timeout_s or self.timeout_s}s waiting for: {condition}")
            time.sleep(poll_s)

    def fill(self, selector: str, text: str) -> None:
        """Set an input/textarea's value the way typing does (frameworks listen to the input event)."""
        # pages render progressively: wait for the element first
        self.wait_for(f"document.querySelector({json.dumps(selector)}) !== null")
        self.evaluate(
            f"(() => {{ const el = document.querySelector({json.dumps(selector)});"
            "  if (!el) throw new Error('no element ' + " + json.dumps(selector) + ");"
            "  const proto = el.tagName === 'TEXTAREA' ? HTMLTextAreaElement.prototype"
            "    : HTMLInputElement.prototype;"
            "  Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, " + json.dumps(text) + ");"
            "  el.dispatchEvent(new Event('input', {bubbles: true}));"
            "  el.dispatchEvent(new Event('change', {bubbles: true})); return true; })()"
        )

    def click(self, selector: str) -> None:
        self.wait_for(f"document.querySelector({json.dumps(selector)}) !== null")
        self.evaluate(
            f"(() => {{ const el = document.querySelector({json.dumps(selector)});"
            f" if (!el) throw new Error('no element {selector}'); el.click(); return true; }})()"
        )

    def screenshot(self, path: str | os.PathLike, full_page: bool = False) -> Path:
        params = {"format": "png"}
        if full_page:
            metrics = self.call("Page.getLayoutMetrics")["cssContentSize"]
            params["clip"] = {
                "x": 0,
                "y": 0,
                "width": metrics["width"],
                "height": metrics["height"],
                "scale": 1,
            }
            params["captureBeyondViewport"] = True
        data = self.call("Page.captureScreenshot", **params)["data"]
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path
