"""An OpenAI chat-completions server on 127.0.0.1 for the CTA judge tests (the api judge, the verl reward)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class JudgeServer:
    """An OpenAI chat-completions server on 127.0.0.1 whose behaviour a test picks with ``mode``: ``good``
    scores 0.75 (a prompt with a REFERENCE), ``reasoning`` (a thinking model's reply), ``garbage``, ``range``
    (7), ``slow``, ``trickle``; ``fail_first`` answers that many requests with HTTP 500. Request bodies and
    Authorization headers are kept."""

    def __init__(self):
        self.mode = "good"
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.auth_headers: list[str] = []
        self.bodies: list[dict] = []
        self.fail_first = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests += 1
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    server.auth_headers.append(self.headers.get("Authorization", ""))
                    server.bodies.append(body)
                    fail = server.fail_first > 0
                    server.fail_first -= 1
                try:
                    time.sleep(0.05 if server.mode != "slow" else 2.0)
                    if server.mode == "trickle" and not fail:  # headers at once, then one byte every 50 ms
                        payload = json.dumps({"choices": [{"message": {"role": "assistant",
                                                                       "content": "<score>0.5</score>"}}]}).encode()
                        self.send_response(200)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(payload)))
                        self.end_headers()
                        for i in range(len(payload)):
                            self.wfile.write(payload[i:i + 1])
                            self.wfile.flush()
                            time.sleep(0.05)
                        return
                    if fail:
                        self.send_response(500)
                        self.end_headers()
                        return
                    prompt = body["messages"][-1]["content"]
                    content = {"good": "<score>0.75</score>" if "REFERENCE" in prompt else "?",
                               "reasoning": _reasoning_reply(body),
                               "garbage": "I think it is pretty good", "range": "<score>7</score>",
                               "slow": "<score>0.5</score>"}[server.mode]
                    payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]})
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(payload.encode())
                finally:
                    with server.lock:
                        server.in_flight -= 1

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):  # a client that gave up: expected in these tests
                pass

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _reasoning_reply(body) -> str:
    """A reasoning model behind a vLLM server: it thinks first (a <score> it considers along the way
    included) unless the template is told not to, and stops at max_tokens (counted in words here)."""
    if body.get("chat_template_kwargs", {}).get("enable_thinking") is False:
        return "<score>0.5</score>"
    words = ("<think>\nThe reference has 16, 3, 4, 9, 2 and 18; maybe <score>1</score>? No: the candidate "
             "misses 2. " + "Checking again. " * 100 + "</think>\n\n<score>0.8</score>").split(" ")
    return " ".join(words[: body["max_tokens"]])
