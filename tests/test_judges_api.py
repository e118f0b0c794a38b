"""The API judge against a real OpenAI-style HTTP server on 127.0.0.1 (good, garbage, out of range, slow,
flaky, down), its cache (in memory and on disk), the secrecy of the key, and the shared judge prompt."""

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kit.judges import JudgeConfig, build_judge
from kit.judges.base import CTAItem
from kit.judges.prompt import build_messages, parse_score

EN_Q = ("Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her "
        "friends every day with four. She sells the remainder at the farmers' market daily for $2 per fresh duck "
        "egg. How much in dollars does she make every day at the farmers' market?")
EN_REF = ("Janet starts with 16 eggs. She eats 3 and bakes with 4, so 16 - 3 - 4 = 9 eggs remain. "
          "Each sells for $2, so she makes 9 * 2 = 18 dollars. The answer is \\boxed{18}.")
JA_ALL = "アヒルは16個の卵を産む。3個食べて4個使うので、16 - 3 - 4 = 9個残る。1個2ドルなので 9 × 2 = 18 ドル。"


@pytest.mark.parametrize("reply,expected", [
    ("<score>0.75</score>", 0.75), ("thinking... <score> 1 </score>", 1.0), ("<score>0</score>", 0.0),
    ("<SCORE>.5</SCORE>", 0.5), ("<score>7</score>", None), ("<score>-0.1</score>", None), ("0.5", None),
    ("<score>nan</score>", None), ("<score>inf</score>", None), ("", None), (None, None), (b"<score>1</score>", None),
    ("<score>0.2</score> then <score>0.4</score>", 0.4),
])
def test_parse_score(reply, expected):
    assert parse_score(reply) == expected


def test_prompt_applies_the_rubric_to_both_thinkings():
    messages = build_messages(CTAItem(EN_Q, EN_REF, JA_ALL, "ja"))
    assert [m["role"] for m in messages] == ["system", "user"]
    user = messages[1]["content"]
    for part in (EN_Q, EN_REF, JA_ALL, "Japanese", "key intermediate results", "final answer", "<score>"):
        assert part in user
    long = build_messages(CTAItem(EN_Q, "A" * 50_000 + "END", "B" * 50_000, "xx"))[1]["content"]
    assert len(long) < 30_000 and "END" in long and "[...]" in long  # clipped head+tail, the conclusion kept


# ------------------------------------------------------------------ a real OpenAI-style server

class JudgeServer:
    """An OpenAI chat-completions server on 127.0.0.1 whose behaviour a test picks with ``mode``."""

    def __init__(self):
        self.mode = "good"
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.auth_headers: list[str] = []
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


@pytest.fixture
def server():
    srv = JudgeServer()
    yield srv
    srv.close()


def _api_judge(url, **kw):
    options = {"kind": "api", "base_url": url, "model": "judge-model", "timeout_s": 1.0, "retries": 2, "backoff_s": 0.01}
    options.update(kw)
    return build_judge(options)


def _items(n):
    return [CTAItem(EN_Q, EN_REF, f"{JA_ALL} ({i})", "ja") for i in range(n)]


def test_api_good_replies_cache_and_concurrency(server, monkeypatch, caplog):
    secret = "sk-test-SECRET-123"
    monkeypatch.setenv("MTHINKER_JUDGE_API_KEY", secret)
    judge = _api_judge(server.url, concurrency=3)
    caplog.set_level(logging.DEBUG)
    assert judge.score(_items(12)) == [0.75] * 12
    assert server.requests == 12 and 2 <= server.max_in_flight <= 3  # parallel, within the limit
    assert all(h == f"Bearer {secret}" for h in server.auth_headers)
    assert judge.score(_items(12)) == [0.75] * 12  # all from the cache
    assert server.requests == 12 and judge.stats.cache_hits == 12 and judge.stats.failures == 0
    visible = repr(judge) + str(judge.stats) + caplog.text + json.dumps(vars(JudgeConfig(kind="api", base_url="u",
                                                                                          model="m")))
    assert secret not in visible


@pytest.mark.parametrize("mode", ["garbage", "range"])
def test_api_bad_replies_score_zero_and_are_counted(server, mode):
    server.mode = mode
    judge = _api_judge(server.url)
    assert judge.score(_items(3)) == [0.0, 0.0, 0.0]
    assert judge.stats.failures == 3 and server.requests == 3  # a bad reply is not retried
    judge.score(_items(3))
    assert server.requests == 6  # failures are not cached: asked again next time


def test_api_slow_server_times_out_after_retries(server):
    server.mode = "slow"
    judge = _api_judge(server.url, timeout_s=0.3, retries=1)
    start = time.monotonic()
    assert judge.score(_items(2)) == [0.0, 0.0]
    assert time.monotonic() - start < 5 and judge.stats.failures == 2 and server.requests == 4


def test_api_timeout_bounds_the_whole_request(server):
    """A reply trickled one byte every 50 ms never idles past httpx's per-read timeout, yet takes seconds:
    the timeout covers the whole request, so it fails, scores 0 and is counted."""
    server.mode = "trickle"
    judge = _api_judge(server.url, timeout_s=0.3, retries=1)
    start = time.monotonic()
    assert judge.score(_items(2)) == [0.0, 0.0]
    assert time.monotonic() - start < 2.0  # (1 + retries) * 0.3 s and the backoff; the full reply takes ~3 s
    assert judge.stats.failures == 2 and server.requests == 4
    assert "no complete reply within 0.3s" in judge.stats.errors[-1]
    server.mode = "good"
    assert _api_judge(server.url, timeout_s=5).score(_items(1)) == [0.75]  # the same server, answering well


def test_api_backoff_doubles_between_retries(server, monkeypatch):
    import asyncio

    real_sleep, slept = asyncio.sleep, []

    async def recording_sleep(delay, *args, **kwargs):
        slept.append(delay)
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", recording_sleep)
    server.fail_first = 3  # three HTTP 500s, then a good reply
    judge = _api_judge(server.url, concurrency=1, retries=3, backoff_s=0.25)
    assert judge.score(_items(1)) == [0.75]
    assert server.requests == 4 and slept == [0.25, 0.5, 1.0]  # 1x, 2x, 4x the base delay
    slept.clear()
    server.fail_first = 5  # more failures than retries: the item scores 0 after the last retry, no sleep after it
    assert _api_judge(server.url, concurrency=1, retries=2, backoff_s=0.25).score(_items(2)[1:]) == [0.0]
    assert slept == [0.25, 0.5]


def test_api_retries_server_errors(server):
    server.fail_first = 2
    judge = _api_judge(server.url, concurrency=1, retries=3)
    assert judge.score(_items(1)) == [0.75]
    assert server.requests == 3 and judge.stats.failures == 0


def test_api_down_server_lets_training_go_on(server, tmp_path):
    url = server.url
    server.close()
    judge = _api_judge(url, retries=1)
    start = time.monotonic()
    assert judge.score(_items(4)) == [0.0] * 4
    assert time.monotonic() - start < 5  # refused connections fail fast, retries included
    assert judge.stats.failures == 4 and "ConnectError" in judge.stats.errors[-1]
    # and the M-Thinker reward still computes, with CTA 0
    from kit.rewards.mthinker import RewardConfig, score_completions

    completion = JA_ALL * 3 + "</think>最終的な答えは \\boxed{18}"
    row = score_completions([completion], lang="ja", answer="18", en_reference=EN_REF,
                            config=RewardConfig(min_response_chars=10), judge=judge)[0]
    assert (row.format, row.lc, row.accuracy, row.cta, row.reward) == (1.0, 1.0, 1.0, 0.0, 1.0)


def test_disk_cache_is_shared_across_judges(server, tmp_path):
    path = tmp_path / "judge.sqlite"
    assert _api_judge(server.url, cache_path=str(path)).score(_items(2)) == [0.75, 0.75]
    again = _api_judge(server.url, cache_path=str(path))
    assert again.score(_items(2)) == [0.75, 0.75]
    assert server.requests == 2 and again.stats.cache_hits == 2


def test_api_judge_works_inside_a_running_event_loop(server):
    import asyncio

    async def main():
        return _api_judge(server.url).score(_items(2))

    assert asyncio.run(main()) == [0.75, 0.75]
