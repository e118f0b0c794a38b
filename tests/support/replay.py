"""An OpenAI-compatible chat server on 127.0.0.1 that replays a fixed completion, slowly if asked.

The demo's tests and its screenshot need a model whose output is known in advance and arrives over time:
the tiny embedded model streams random scripts, and a real one needs a GPU. This server answers every
``POST .../chat/completions`` with the same text as a stream of chat-completion chunks, the thinking as
``reasoning_content`` deltas and the answer as ``content`` deltas (as vLLM's reasoning parsers send them),
so the app takes it through the very path it uses for a served model (`kit.app.session.OpenAISource`).

The bundled story, :data:`DRIFT_THINKING` and :data:`DRIFT_ANSWER`, is hand-written: a Japanese question
whose thinking starts in Japanese and drifts into English, the behaviour M-Thinker trains away. It is a
replay, not any model's output; pages that show it must say so.

    python -m tests.support.replay --port 8000 --delay 0.05     # then: python app.py --api-base http://127.0.0.1:8000/v1
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# PolyMath's "Janet's ducks" problem in Japanese (the question of the drift story).
DRIFT_QUESTION = (
    "ジャネットのアヒルは1日に16個の卵を生みます。ジャネットは毎朝朝食の一環で3個を消費し、毎日4個使って"
    "友達向けにマフィンを焼きます。残りを市場で1個あたり2ドルの価格で売ります。彼女は毎日市場でいくら手に入れていますか？"
)
DRIFT_GOLD = "18"
# Two paragraphs of Japanese, then the thinking slides into English and stays there; the answer returns to
# Japanese. Paragraph 3 is where the switch alert must appear.
DRIFT_THINKING = (
    "まず、問題文を整理します。ジャネットのアヒルは毎日16個の卵を産みます。そのうち3個は毎朝の朝食で食べ、"
    "4個は友達のためのマフィンに使います。\n\n"
    "つまり、自分で使う卵は合計で3個と4個、あわせて7個です。残りの卵はすべて市場で1個2ドルで売ります。\n\n"
    "Wait, let me double-check the subtraction. She starts with 16 eggs and uses 7 of them, so "
    "16 - 7 = 9 eggs are left to sell at the market.\n\n"
    "Each egg sells for 2 dollars, so her daily income at the market is 9 times 2, which is 18 dollars.\n\n"
    "Let me verify once more: 3 for breakfast plus 4 for muffins is 7, sixteen minus seven is nine, and "
    "nine eggs at two dollars each give eighteen dollars. The answer is 18."
)
DRIFT_ANSWER = "ジャネットは毎日、市場で $9 \\times 2 = 18$ ドルを得ます。答えは $\\boxed{18}$ ドルです。"


class ReplayServer:
    """Serve one completion to every chat request, in chunks, on 127.0.0.1 (a free port by default).

    ``reasoning`` streams as ``reasoning_content`` deltas of ``reasoning_chars`` characters, then ``answer``
    as ``content`` deltas of ``answer_chars``; ``delay_s`` is the pause before each chunk. ``status`` other
    than 200 answers that status with a JSON error body; ``cut_after=N`` sends a malformed chunk in place of
    chunk N and ends the stream. Every request body is kept in ``requests``. Use as a context manager or
    call :meth:`close`.
    """

    def __init__(
        self,
        reasoning: str = DRIFT_THINKING,
        answer: str = DRIFT_ANSWER,
        *,
        delay_s: float = 0.0,
        reasoning_chars: int = 9,
        answer_chars: int = 5,
        status: int = 200,
        cut_after: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        if reasoning_chars < 1 or answer_chars < 1:
            raise ValueError("chunk sizes must be >= 1 character")
        self.requests: list[dict] = []
        chunks = [("reasoning_content", reasoning[i : i + reasoning_chars])
                  for i in range(0, len(reasoning), reasoning_chars)]
        chunks += [("content", answer[i : i + answer_chars]) for i in range(0, len(answer), answer_chars)]
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test and demo output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                server.requests.append({"path": self.path, "body": body})
                if status != 200:
                    self.send_response(status)
                    self.end_headers()
                    self.wfile.write(b'{"error": "model overloaded"}')
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                try:
                    for n, (key, text) in enumerate(chunks):
                        if delay_s:
                            time.sleep(delay_s)
                        if cut_after is not None and n == cut_after:
                            self.wfile.write(b"data: {not json\n\n")
                            return
                        event = {"choices": [{"index": 0, "delta": {key: text}}]}
                        self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                        self.wfile.flush()
                    self.wfile.write(b"data: [DONE]\n\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading (the stop button): nothing left to send

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://{host}:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> ReplayServer:  # noqa: PYI034 - py310 has no typing.Self
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Replay the bundled drift story as an OpenAI-compatible "
                                                 "streaming server (for trying the demo without a model).")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds before each chunk")
    args = parser.parse_args(argv)
    with ReplayServer(delay_s=args.delay, port=args.port) as server:
        print(f"replaying on {server.url} (Ctrl+C to stop); try: python app.py --api-base {server.url}")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
