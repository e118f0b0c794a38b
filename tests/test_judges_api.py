"""The API judge against a real OpenAI-style HTTP server on 127.0.0.1 (good, garbage, out of range, slow,
flaky, down), its cache (in memory and on disk), the secrecy of the key, and the shared judge prompt."""

import json
import logging
import time

import pytest

from kit.judges import JudgeConfig, build_judge
from kit.judges.base import CTAItem
from kit.judges.prompt import build_messages, parse_score
from tests.support.judge_server import JudgeServer

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


# ------------------------------------------------------------------ a judge that fails loudly in training

def test_check_asks_the_server_once_and_names_the_problem(server):
    judge = _api_judge(server.url, retries=0)
    assert judge.check() is None and server.requests == 1
    server.fail_first = 10**6  # HTTP 500 from now on
    problem = judge.check()
    assert problem == f"HTTP 500 from {server.url}/chat/completions"
    assert judge.stats.calls == 0 and judge.stats.failures == 0  # a check is not a training call
    assert "judge.base_url" in judge.fix_hint and "MTHINKER_JUDGE_API_KEY" in judge.fix_hint


def test_grpo_with_a_failing_judge_stops_before_loading_the_model(server, tmp_path, monkeypatch):
    """Issue 16: with the judge at a server answering 500, GRPO trained to the end with CTA 0 and no log
    line. Now the run stops before training, naming the error and the keys to fix."""
    from typer.testing import CliRunner

    from kit.cli.main import app

    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded before the judge was checked")

    monkeypatch.setattr("kit.models.load_model", no_model)
    server.fail_first = 10**6
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["grpo", "--preset", "tiny", "--output", str(out), "--set", "judge.kind=api",
                                      "--set", f"judge.base_url={server.url}", "--set", "judge.model=judge-model",
                                      "--set", "judge.retries=0"])
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert f"failed its check before training: HTTP 500 from {server.url}/chat/completions" in message
    assert "judge.base_url" in message and "judge.kind=symbolic" in message
    assert not list(out.glob("checkpoint-*")) and not (out / "adapter").exists()


def _step(monitor, judge, step, items):
    """One training step as the trainer drives the callbacks: rewards (the judge scores), step end, log."""
    from transformers import TrainerControl, TrainerState

    judge.score([CTAItem(EN_Q, EN_REF, f"{JA_ALL} s{step} {i}", "ja") for i in range(items)])
    state = TrainerState(global_step=step, max_steps=20)
    monitor.on_step_end(None, state, TrainerControl())
    logs = {"loss": 0.1}
    monitor.on_log(None, state, TrainerControl(), logs=logs)
    return logs


def test_monitor_warns_each_failed_step_counts_it_and_stops_after_five(server, caplog):
    from kit.train.callbacks import JUDGE_CALLS, JUDGE_FAILURES, JudgeFailedError, JudgeMonitor

    judge = _api_judge(server.url, retries=0)
    monitor = JudgeMonitor(judge)  # the defaults: stop when every call of 5 steps failed
    caplog.set_level(logging.WARNING, logger="kit.train")
    assert _step(monitor, judge, 1, 3) == {"loss": 0.1, JUDGE_CALLS: 3, JUDGE_FAILURES: 0}
    assert not [r for r in caplog.records if r.name == "kit.train"]
    server.fail_first = 10**6
    for step in (2, 3, 4, 5):
        logs = _step(monitor, judge, step, 2)
        assert (logs[JUDGE_CALLS], logs[JUDGE_FAILURES]) == (2, 2)
    assert JUDGE_CALLS not in _step(monitor, judge, 6, 0)  # no correct completion, no call: not a judge step
    warnings = [r.getMessage() for r in caplog.records if r.name == "kit.train"]
    assert len(warnings) == 4 and all("failed 2 of 2 calls (HTTP 500 from" in w for w in warnings)
    assert warnings[0].startswith("step 2: the CTA judge (api)")
    with pytest.raises(JudgeFailedError) as stopped:
        _step(monitor, judge, 7, 2)  # the fifth judge step with every call failed
    message = str(stopped.value)
    assert "stopped at step 7" in message and "failed 100% of its calls over the last 5 steps" in message
    assert "judge.base_url" in message and "--resume" in message and "judge.stop_failure_steps=0" in message
    summary = monitor.summary()
    assert (summary["calls"], summary["failures"], summary["failed_steps"]) == (13, 10, [2, 3, 4, 5, 7])


def test_monitor_share_and_off_switch(server):
    from kit.train.callbacks import JudgeFailedError, JudgeMonitor

    judge = _api_judge(server.url, retries=0)
    half = JudgeMonitor(judge, stop_share=0.5, stop_steps=2)
    server.fail_first = 1
    _step(half, judge, 1, 2)  # one of the two calls failed
    server.fail_first = 10**6
    with pytest.raises(JudgeFailedError, match="failed 75% of its calls over the last 2 steps"):
        _step(half, judge, 2, 2)
    never = JudgeMonitor(judge, stop_steps=0)
    for step in range(3, 13):
        _step(never, judge, step, 2)  # never stops, however long the judge is down
    assert never.summary()["failed_steps"] == list(range(3, 13))


def test_reward_cli_bounds_a_trickling_judge(server, tmp_path):
    """`mthinker reward --judge api` takes --judge-timeout and --judge-retries (a trickling server held it 98 s)."""
    from typer.testing import CliRunner

    from kit.cli.main import app

    server.mode = "trickle"
    completion, reference = tmp_path / "c.txt", tmp_path / "ref.txt"
    completion.write_text(JA_ALL * 3 + "</think>最終的な答えは \\boxed{18}", encoding="utf-8")
    reference.write_text(EN_REF, encoding="utf-8")
    start = time.monotonic()
    result = CliRunner().invoke(app, ["reward", "--completion", str(completion), "--lang", "ja", "--answer", "18",
                                      "--en-reference", str(reference), "--min-chars", "10", "--judge", "api",
                                      "--judge-base-url", server.url, "--judge-model", "judge-model",
                                      "--judge-timeout", "0.3", "--judge-retries", "1", "--json"])
    assert result.exit_code == 0, result.output
    assert time.monotonic() - start < 10  # 2 attempts x 0.3 s (the reply itself takes ~3 s)
    assert server.requests == 2 and "no complete reply within 0.3s" in result.output
    assert json.loads(result.output.splitlines()[-1])["cta"] == 0.0


def test_api_judge_backed_by_a_reasoning_model(server):
    """The default budget ends the reply inside the thinking: 0, counted, with advice (and the <score> the
    model considered while thinking is not read). Thinking on: the budget fits and the score after </think> is
    read. Thinking off: the server is asked to skip the thinking (vLLM's chat_template_kwargs)."""
    from kit.judges.prompt import ENDED_IN_THINKING

    server.mode = "reasoning"
    default = _api_judge(server.url)
    assert default.score(_items(1)) == [0.0] and default.stats.failures == 1
    assert ENDED_IN_THINKING in default.stats.errors[-1] and "chat_template_kwargs" not in server.bodies[-1]
    thinking = _api_judge(server.url, thinking=True, thinking_tokens=2048)
    assert thinking.score(_items(1)) == [0.8] and server.bodies[-1]["max_tokens"] == 2048
    off = _api_judge(server.url, thinking=False)
    assert off.score(_items(1)) == [0.5] and server.bodies[-1]["chat_template_kwargs"] == {"enable_thinking": False}
    assert server.bodies[-1]["max_tokens"] == 64


@pytest.mark.parametrize("reply,expected", [
    ("<think>\nmaybe <score>1</score>\n</think>\n\n<score>0.4</score>", 0.4),
    ("<think>\nmaybe <score>1</score> and still thinking", None),  # cut off while thinking
    ("the template opened it\n</think>\n<score>0.3</score>", 0.3),
])
def test_parse_score_reads_after_the_thinking(reply, expected):
    assert parse_score(reply) == expected


def test_thinking_options_are_checked():
    with pytest.raises(ValueError, match="judge.thinking='yes'"):
        JudgeConfig(thinking="yes")
    with pytest.raises(ValueError, match="judge.thinking_tokens=0"):
        JudgeConfig(thinking_tokens=0)
