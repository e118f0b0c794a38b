"""The demo's `solve` API through gradio_client, on an app launched in-process (tiny model, no network),
and the OpenAI-compatible source against a real streaming HTTP server on 127.0.0.1 (`tests.support.replay`)."""

import socket
import threading
from pathlib import Path

import pytest

from kit.app.local import LocalModelSource
from kit.app.session import (
    GenerationSettings,
    InputError,
    OpenAISource,
    run_session,
    solve_result,
)
from kit.prompts import user_message
from tests.support.replay import ReplayServer
from tests.test_app_indicators import JA_ANSWER, JA_SWITCHING

SCHEMA = {
    "thinking": str,
    "answer": str,
    "input_lang": str,
    "consistent": bool,
    "lc_ratio": float,
    "segments": list,
}
QUESTION_JA = "三角形の底辺が 6、高さが 4 のとき、面積はいくつですか？"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(**config):
    from kit.app.launch import AppConfig, launch_demo

    demo, url = launch_demo(AppConfig(port=free_port(), **config), block=False)
    return demo, url


# ---------------------------------------------------------------------------------------------- a chat server


@pytest.fixture
def chat_server():
    servers = []

    def start(**kwargs) -> ReplayServer:
        servers.append(ReplayServer(**kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


# ---------------------------------------------------------------------------------------------- tiny app


@pytest.fixture(scope="module")
def tiny_app(tiny_model_path):
    demo, url = launch(preset="tiny")
    yield url
    demo.close()


@pytest.mark.slow
def test_solve_returns_the_documented_schema(tiny_app):
    from gradio_client import Client

    from kit.rewards.language import lc_ratio

    result = Client(tiny_app, verbose=False).predict(QUESTION_JA, "auto", 0.7, 48, api_name="/solve")
    for key in (
        "thinking",
        "answer",
        "boxed",
        "input_lang",
        "thinking_lang",
        "answer_lang",
        "consistent",
        "lc_ratio",
        "segments",
    ):
        assert key in result, key
    for key, kind in SCHEMA.items():
        assert isinstance(result[key], kind), (key, result[key])
    assert result["input_lang"] == "ja" and result["target_lang"] == "ja"
    assert result["thinking"]  # the tiny model always says something
    assert 0.0 <= result["lc_ratio"] <= 1.0
    assert result["lc_ratio"] == pytest.approx(
        lc_ratio(result["thinking"] + "</think>" + result["answer"], "ja")
    )
    for segment in result["segments"]:
        assert set(segment) == {"text", "lang"} and segment["text"] in result["thinking"]


@pytest.mark.slow
def test_solve_rejects_bad_input_with_a_clear_message(tiny_app):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(tiny_app, verbose=False)
    with pytest.raises(AppError, match="limit is 4000"):
        client.predict("x" * 4001, "auto", 0.7, 16, api_name="/solve")
    with pytest.raises(AppError, match="unknown language code 'xx'"):
        client.predict(QUESTION_JA, "xx", 0.7, 16, api_name="/solve")
    with pytest.raises(AppError, match="temperature must be between 0 and 2"):
        client.predict(QUESTION_JA, "auto", 7.0, 16, api_name="/solve")
    result = client.predict(QUESTION_JA, "fr", 0.7, 16, api_name="/solve")  # an explicit target wins
    assert result["input_lang"] == "ja" and result["target_lang"] == "fr"


# ---------------------------------------------------------------------------------------------- API source


@pytest.mark.slow
def test_app_on_an_openai_compatible_server(chat_server):
    from gradio_client import Client

    server = chat_server(reasoning=JA_SWITCHING, answer=JA_ANSWER)
    demo, url = launch(api_base=server.url, api_model="m-thinker-1.5b")
    try:
        result = Client(url, verbose=False).predict(QUESTION_JA, "auto", 0.0, 256, api_name="/solve")
    finally:
        demo.close()
    request = server.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["body"]["model"] == "m-thinker-1.5b" and request["body"]["stream"] is True
    assert request["body"]["messages"][0]["content"] == user_message(QUESTION_JA, "ja")
    assert request["body"]["max_tokens"] == 256
    assert result["thinking"] == JA_SWITCHING and result["answer"] == JA_ANSWER and result["boxed"] == "18"
    assert [s["lang"] for s in result["segments"]] == ["ja", "ja", "en", "en"]
    assert result["switch"] == {"paragraph": 2, "from": "ja", "to": "en"}
    assert result["answer_lang"] == "ja"


def test_server_errors_end_the_session_with_the_partial_text_kept(chat_server, caplog):
    """The caller sees a generic message with an error id; the log line under that id has the detail."""

    def logged_for(error: str) -> str:
        error_id = error.split("error id ")[1].split(";")[0]
        return next(r.getMessage() for r in caplog.records if f"error {error_id}" in r.getMessage())

    source = OpenAISource(chat_server(reasoning=JA_SWITCHING, answer=JA_ANSWER, cut_after=6).url)
    last = list(run_session(source, QUESTION_JA, "auto", GenerationSettings(max_new_tokens=64)))[-1]
    assert last.done and "the model failed (error id" in last.error
    assert "not chat-completion JSON" in logged_for(last.error)
    assert last.completion == JA_SWITCHING[:54] and last.verdict is not None and not last.verdict.consistent

    failing = OpenAISource(chat_server(reasoning="", answer="", status=503).url)
    last = list(run_session(failing, QUESTION_JA, "auto"))[-1]
    assert "HTTP 503" not in last.error and "model overloaded" not in last.error
    assert "HTTP 503" in logged_for(last.error) and "model overloaded" in logged_for(last.error)

    unreachable = OpenAISource(f"http://127.0.0.1:{free_port()}/v1")
    assert "cannot reach the model server" in logged_for(list(run_session(unreachable, QUESTION_JA))[-1].error)


def test_gold_answer_gives_correctness(chat_server):
    source = OpenAISource(chat_server(reasoning=JA_SWITCHING, answer=JA_ANSWER).url)
    right = list(run_session(source, QUESTION_JA, "ja", gold="18"))[-1]
    wrong = list(run_session(source, QUESTION_JA, "ja", gold="19"))[-1]
    assert right.correct is True and wrong.correct is False and right.boxed == "18"
    assert solve_result(right)["switch"]["paragraph"] == 2


def test_input_is_checked_before_anything_is_generated():
    source = OpenAISource("http://127.0.0.1:9/v1")  # never contacted
    with pytest.raises(InputError, match="type a question"):
        next(run_session(source, "   "))
    with pytest.raises(InputError, match="max new tokens"):
        GenerationSettings(max_new_tokens=0)


# ---------------------------------------------------------------------------------------------- local model


@pytest.mark.slow
def test_stop_event_halts_the_local_model(tiny_model_path):
    stop = threading.Event()
    updates = []
    for update in run_session(
        LocalModelSource("tiny"),
        QUESTION_JA,
        "auto",
        GenerationSettings(max_new_tokens=4000),
        stop_event=stop,
        update_every_s=0,
    ):
        updates.append(update)
        if update.n_chars:
            stop.set()
    last = updates[-1]
    assert last.done and last.stopped and last.error is None
    assert last.n_chars < 400  # 4000 tokens would be thousands of characters
    assert last.verdict is not None and not last.verdict.well_formed


def _final_completions(sources, settings) -> list[str]:
    from kit.app.ui import _stream_sessions

    final = list(_stream_sessions(sources, QUESTION_JA, "auto", settings, None, "fasttext", threading.Event()))[-1]
    assert all(u is not None and u.done and u.error is None for u in final), [
        (u and (u.done, u.error)) for u in final
    ]
    assert all(u.target_lang == "ja" and u.verdict is not None for u in final)
    return [u.completion for u in final]


@pytest.mark.slow
def test_compare_mode_loads_the_model_once_and_switches_the_adapter_off_for_the_base(
    tiny_model_path, tmp_path, monkeypatch
):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    import kit.app.local
    from kit.app.launch import AppConfig, build_sources

    # init_lora_weights=False: a non-zero LoRA, so the adapter really changes what the model writes
    lora = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM", init_lora_weights=False)
    get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_path), lora).save_pretrained(
        tmp_path / "adapter"
    )
    greedy = GenerationSettings(temperature=0.0, max_new_tokens=24)
    base_alone = _final_completions([LocalModelSource("tiny")], greedy)[0]
    adapter_alone = _final_completions([LocalModelSource("tiny", adapter=str(tmp_path / "adapter"))], greedy)[0]
    assert base_alone != adapter_alone

    loads = []
    real_load = kit.app.local.load_for_inference  # the app's own reference to kit.models' loader
    monkeypatch.setattr(kit.app.local, "load_for_inference", lambda *a, **k: loads.append(a) or real_load(*a, **k))
    sources = build_sources(AppConfig(preset="tiny", adapter=str(tmp_path / "adapter")))
    # the two sides run at once from two threads; each must see its own state of the adapter
    adapter_side, base_side = _final_completions([sources.main, sources.base], greedy)
    assert len(loads) == 1, "compare mode loaded the backbone twice"
    assert (adapter_side, base_side) == (adapter_alone, base_alone)
    # the adapter is on again afterwards
    assert _final_completions([sources.main], greedy)[0] == adapter_alone


def test_the_page_names_local_folders_without_this_machines_absolute_paths(tmp_path, monkeypatch, tiny_model_path):
    from kit.app.launch import AppConfig, build_sources, shown_name

    (tmp_path / "runs" / "final").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert shown_name("deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B") == "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"
    assert shown_name(str(tmp_path / "runs" / "final")) == str(Path("runs") / "final")  # inside: relative
    assert shown_name(str(tiny_model_path)) == Path(tiny_model_path).name  # outside: the folder's own name

    sources = build_sources(AppConfig(model=str(tiny_model_path)))
    assert str(tmp_path) not in sources.description and str(Path(tiny_model_path).parent) not in sources.description
    assert sources.main.label == Path(tiny_model_path).name


# ---------------------------------------------------------------------------------------------- page wiring


def test_every_generating_event_shares_one_concurrency_limit_and_the_queue_is_bounded():
    from kit.app.launch import AppConfig, create_demo
    from kit.app.ui import GENERATE

    demo = create_demo(AppConfig(preset="tiny", concurrency=3, max_queue=5))
    generating = [f for f in demo.fns.values() if getattr(f.fn, "__name__", "") in ("think", "solve")]
    # the Think button, the Enter key and the solve API
    assert sorted(f.fn.__name__ for f in generating) == ["solve", "think", "think"]
    assert {f.concurrency_id for f in generating} == {GENERATE}
    assert {f.concurrency_limit for f in generating} == {"default"}  # resolves to the queue's default
    assert demo._queue.default_concurrency_limit == 3 and demo._queue.max_size == 5
    others = [f for f in demo.fns.values() if f not in generating]
    assert all(f.concurrency_id != GENERATE for f in others)


def test_examples_label_names_the_benchmarks_it_loaded(monkeypatch):
    import kit.app.examples
    from kit.app.launch import AppConfig, create_demo

    def example_labels(demo) -> list[str]:
        return [
            c["props"].get("label")
            for c in demo.config["components"]
            if str(c["props"].get("label") or "").startswith("Examples from")
        ]

    monkeypatch.setattr(kit.app.examples, "find_benchmarks_dir", lambda *a, **k: None)  # a fresh clone
    demo = create_demo(AppConfig(preset="tiny"))
    assert example_labels(demo) == ["Examples from PolyMath"]
    # the buttons show the question's opening words, not ids; the solve API names its values
    buttons = next(c["props"]["sample_labels"] for c in demo.config["components"]
                   if str(c["props"].get("label") or "").startswith("Examples from"))
    assert all(label.startswith("[") and "PolyMath" not in label and len(label) > 12 for label in buttons), buttons
    solve = demo.get_api_info()["named_endpoints"]["/solve"]["parameters"]
    assert [p["label"] for p in solve] == ["question", "target_language", "temperature", "max_new_tokens"]
    assert demo.config["title"] == "M-Thinker demo: think in the question's language"


def test_an_adapter_given_as_model_opens_compare_mode_on_its_recorded_base(tmp_path):
    from kit.app.launch import AppConfig, launch_banner
    from kit.models import record_base

    adapter = tmp_path / "final"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    record_base(adapter, str(tmp_path))
    cfg = AppConfig(model=str(adapter))
    assert cfg.adapter == str(adapter) and cfg.model_name() == str(tmp_path.resolve())
    assert "--share" in launch_banner("http://127.0.0.1:7860/", None, False)
    assert "share=True" not in launch_banner("http://127.0.0.1:7860/", None, False)


def test_browser_tests_fail_instead_of_skipping_when_the_browser_is_required(tmp_path):
    """CI sets MTHINKER_REQUIRE_BROWSER=1: there, no Chromium must be a failure, never a silent skip."""
    import os
    import subprocess
    import sys

    tests = Path(__file__).parent
    env = {**os.environ, "MTHINKER_CHROMIUM": str(tmp_path / "no-such-chromium")}

    def run(required: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "too_long",
             str(tests / "test_app_browser.py")],
            env={**env, "MTHINKER_REQUIRE_BROWSER": required}, cwd=tests.parent, capture_output=True,
            text=True, timeout=300, check=False,
        )

    required = run("1")
    assert required.returncode != 0 and "1 error" in required.stdout, required.stdout[-2000:]
    assert "MTHINKER_REQUIRE_BROWSER=1 but no chromium binary" in required.stdout
    optional = run("0")
    assert optional.returncode == 0 and "1 skipped" in optional.stdout, optional.stdout[-2000:]


# ---------------------------------------------------------------------------------------------- failures leak nothing


class _EchoingFailure:
    """A backend on 127.0.0.1 answering 500 with a body that echoes the request's Authorization header, as
    some proxies and debug servers do."""

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = ('{"error": "internal failure in shard-7", "request_headers": {"Authorization": "'
                        + str(self.headers.get("Authorization")) + '"}}').encode()
                self.send_response(500)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.slow
def test_a_failing_backend_leaks_nothing_to_callers_and_its_detail_goes_to_the_log(monkeypatch, caplog, capfd):
    import logging
    from types import SimpleNamespace

    from gradio_client import Client
    from gradio_client.exceptions import AppError

    key = "sk-test-0123456789abcdef"
    monkeypatch.setenv("MTHINKER_TEST_KEY", key)
    backend = _EchoingFailure()
    demo, url = launch(api_base=backend.url, api_model="served-model", api_key_env="MTHINKER_TEST_KEY")
    leaks = (backend.url.split("//")[1].split("/")[0], "shard-7", key, "Bearer")
    # only pytest's own capture: a console handler another test's setup_logging left on the root logger would
    # print the debug records below to stderr, which is the operator's choice, not the app printing tracebacks
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [h for h in root.handlers if type(h).__module__.startswith("_pytest")])
    try:
        with caplog.at_level(logging.DEBUG, logger="kit.app"):
            capfd.readouterr()
            with pytest.raises(AppError) as failure:
                Client(url, verbose=False).predict(QUESTION_JA, "auto", 0.7, 16, api_name="/solve")
            with pytest.raises(AppError, match="limit is 4000"):  # a rejected request
                Client(url, verbose=False).predict("x" * 4001, "auto", 0.7, 16, api_name="/solve")
            think = next(f.fn for f in demo.fns.values() if getattr(f.fn, "__name__", "") == "think")
            page = list(think(QUESTION_JA, "auto", 0.7, 16, "", "fasttext", False, SimpleNamespace(session_hash="t")))
        stderr = capfd.readouterr().err
    finally:
        demo.close()
        backend.close()
    message = str(failure.value)
    status = page[-1][0]  # the status line the page shows
    assert "error id" in message and "error id" in status, (message, status)
    for text in (message, status, demo.config["components"].__repr__()):
        assert not any(leak in text for leak in leaks), text
    # the operator's log has the detail (which server, what it answered) under the same id, redacted
    error_id = message.split("error id ")[1].split(";")[0]
    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    assert f"error {error_id}" in logged and backend.url in logged and "shard-7" in logged
    assert key not in logged and "Bearer [redacted]" not in logged and "[redacted]" in logged
    assert key not in caplog.text and f"error {error_id} traceback" in caplog.text  # the debug traceback too
    assert "solve rejected: the question has 4001 characters" in caplog.text  # at debug level
    assert "Traceback" not in stderr, stderr
