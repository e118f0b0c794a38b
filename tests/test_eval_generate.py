"""Generation: an OpenAI-compatible server on 127.0.0.1, resumability, the baselines' prompts, and the CLI
end to end with the tiny model (generate -> score -> eval -> compare)."""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kit.data.benchmarks import load_problems
from kit.eval.baselines import Baseline, prefill_for, render
from kit.eval.engines import EngineError, OpenAIEngine, keeps_think_close, make_engine
from kit.eval.generate import done_samples, generate_predictions
from kit.eval.score import PredictionFileError
from kit.generation import SamplingParams

pytestmark = pytest.mark.usefixtures("benchmarks")  # full benchmarks, or the bundled slice (conftest)


class _Server:
    """A minimal OpenAI-compatible server: records each request body and answers with ``n`` choices, or with
    ``fail(body) -> (status, text)`` when that returns something (after ``fail_delay_s``)."""

    def __init__(self, chat_reasoning=False, fail=None, fail_delay_s=0.0):
        self.bodies = []
        self.fail, self.fail_delay_s = fail, fail_delay_s
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.bodies.append((self.path, body))
                k = len(outer.bodies)
                failure = outer.fail(body) if outer.fail else None
                if failure:
                    time.sleep(outer.fail_delay_s)
                    data = failure[1].encode()
                    self.send_response(failure[0])
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                if self.path.endswith("/completions") and "prompt" in body:
                    choices = [{"text": f"まず考えます。</think>答え \\boxed{{18}} r{k}c{j}"} for j in range(body["n"])]
                else:
                    choices = [{"message": {"reasoning_content": "まず考えます。", "content": f"答え \\boxed{{18}} {j}"}}
                               for j in range(body["n"])]
                data = json.dumps({"choices": choices}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = _Server()
    yield s
    s.close()


def _lines(path):
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def test_openai_completions_engine_resumes_and_recovers_a_cut_line(tmp_path, server, tiny_model_path):
    problems = load_problems("polymath", langs=["ja"], levels=["low"], limit=3)
    engine = OpenAIEngine(server.base, model="served", mode="completions", tokenizer=str(tiny_model_path),
                          concurrency=2)
    out = tmp_path / "preds.jsonl"
    params = SamplingParams(n=2, temperature=0.9, top_p=0.95, max_new_tokens=32)
    summary = generate_predictions(problems, engine, out, params)
    assert (summary.written, summary.already) == (6, 0) and len(server.bodies) == 3
    assert all(path == "/v1/completions" and body["n"] == 2 and body["max_tokens"] == 32
               and body["prompt"].endswith("<think>\n") for path, body in server.bodies)
    # requests run concurrently, so their order is free; each problem was asked for exactly once
    for p in problems:
        assert sum(p.question.strip() in body["prompt"] for _, body in server.bodies) == 1
    rows = _lines(out)
    assert {(r["id"], r["sample"]) for r in rows} == {(p.id, s) for p in problems for s in (0, 1)}
    assert all(r["bench"] == "polymath" and r["lang"] == "ja" and "</think>" in r["prediction"] for r in rows)

    again = generate_predictions(problems, engine, out, params)
    assert (again.written, again.already) == (0, 6) and len(server.bodies) == 3  # nothing asked again

    # a crash while writing the last line: cut it in the middle; the rerun drops it and regenerates it only
    data = out.read_bytes()
    out.write_bytes(data[: len(data) - 20])
    resumed = generate_predictions(problems, engine, out, params)
    assert resumed.dropped_partial_line and (resumed.written, resumed.already) == (1, 5)
    assert server.bodies[-1][1]["n"] == 1 and len(_lines(out)) == 6

    # more samples later: only the new sample indices are generated
    more = generate_predictions(problems, engine, out, SamplingParams(n=3, max_new_tokens=32))
    assert more.written == 3 and sorted(r["sample"] for r in _lines(out) if r["id"] == problems[0].id) == [0, 1, 2]

    # a broken line in the middle is not silently dropped
    lines = out.read_text(encoding="utf-8").splitlines()
    lines[2] = "{broken"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(PredictionFileError, match=r"line 3: not valid JSON"):
        generate_predictions(problems, engine, out, params)


def test_resume_refuses_a_language_the_benchmark_lacks(tmp_path):
    out = tmp_path / "preds.jsonl"
    rows = [{"bench": "mmath", "lang": "ja", "id": 0, "sample": 0, "prediction": "x"},
            {"bench": "mmath", "lang": "de", "id": 0, "sample": 0, "prediction": "x"}]
    out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(PredictionFileError, match=r"preds.jsonl line 2: language 'de' is not in mmath \(mmath has"):
        done_samples(out, "mmath")


def test_chunked_engine_syncs_once_per_chunk(tmp_path, tiny_model_path, monkeypatch):
    import os

    problems = load_problems("polymath", langs=["ja"], levels=["low"], limit=7)
    engine = make_engine("transformers", str(tiny_model_path), batch_size=3, progress=False)
    assert engine.chunk_size == 3  # --batch-size is the one way to set it
    syncs, seen = [], []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (syncs.append(fd), real_fsync(fd))[1])
    out = tmp_path / "preds.jsonl"
    summary = generate_predictions(problems, engine, out, SamplingParams(n=2, max_new_tokens=2, seed=0),
                                   progress=lambda done, total: seen.append((done, total)))
    assert summary.written == 14 and len(_lines(out)) == 14
    assert len(syncs) == 3 and seen == [(6, 14), (12, 14), (14, 14)]  # chunks of 3, 3 and 1 problems

    engine.chunk_size = 0
    with pytest.raises(ValueError, match=r"transformers chunk size \(--batch-size\) must be an integer >= 1"):
        generate_predictions(problems, engine, tmp_path / "other.jsonl", SamplingParams(n=1, max_new_tokens=2))


def test_openai_chat_engine_joins_reasoning(tmp_path, server):
    problems = load_problems("polymath", langs=["ja"], levels=["low"], limit=2)
    engine = OpenAIEngine(server.base, model="served", mode="chat")
    texts = engine.complete(problems, SamplingParams(n=2, max_new_tokens=16))
    assert texts[0] == ["まず考えます。</think>答え \\boxed{18} 0", "まず考えます。</think>答え \\boxed{18} 1"]
    path, body = server.bodies[0]
    assert path == "/v1/chat/completions" and body["messages"][0]["role"] == "user"
    with pytest.raises(ValueError, match="pre-fills the thinking"):
        engine.complete(problems, SamplingParams(n=1), Baseline.dit)


def test_baseline_prompts(tiny_model_path):
    from kit.languages import get_language
    from kit.models import load_tokenizer

    tok = load_tokenizer(str(tiny_model_path))
    q, ja = "りんごが3個あります。", get_language("ja")
    plain = render(tok, q, "ja")
    assert plain.endswith("<think>\n") and ja.control not in plain
    assert ja.control in render(tok, q, "ja", Baseline.prompt_control)
    assert render(tok, q, "ja", Baseline.dit) == plain + ja.discourse_word
    qrt = render(tok, q, "ja", "qrt")
    assert qrt.startswith(plain) and q in qrt[len(plain):] and qrt.endswith("まず、")
    assert prefill_for("qrt", q, "de").endswith("Let me think about it in German. First,")


@pytest.mark.slow
def test_cli_generate_score_eval_compare_with_tiny_model(tmp_path, tiny_model_path):
    from typer.testing import CliRunner

    from kit.cli.main import app

    runner = CliRunner()
    preds, metrics = tmp_path / "preds.jsonl", tmp_path / "metrics.json"
    gen = ["generate", "--bench", "polymath", "--langs", "ja", "--levels", "low", "--limit", "2", "--n", "2",
           "--max-tokens", "8", "--seed", "0", "--model", str(tiny_model_path), "--output", str(preds)]
    result = runner.invoke(app, gen)
    assert result.exit_code == 0, result.output
    rows = _lines(preds)
    assert sorted((r["id"], r["sample"]) for r in rows) == [("low-ja-0", 0), ("low-ja-0", 1), ("low-ja-1", 0),
                                                          ("low-ja-1", 1)]
    result = runner.invoke(app, gen)
    assert result.exit_code == 0 and "0 predictions written, 4 already" in result.output

    result = runner.invoke(app, ["score", "--bench", "polymath", "--preds", str(preds), "--output", str(metrics),
                                 "--details", str(tmp_path / "details.jsonl"), "--workers", "1"])
    assert result.exit_code == 0, result.output
    m = json.loads(metrics.read_text())
    assert set(m) >= {"bench", "lid", "n_predictions", "languages", "id_avg", "ood_avg", "all_avg"}
    assert m["n_predictions"] == 4 and set(m["languages"]["ja"]) >= {"acc", "lc", "lc_acc", "think_lc", "answer_lc"}
    assert m["ood_avg"] is None and len(_lines(tmp_path / "details.jsonl")) == 4
    assert (tmp_path / "metrics.md").read_text().count("|") > 10

    run = tmp_path / "dit"
    result = runner.invoke(app, ["eval", "--bench", "polymath", "--langs", "ja", "--levels", "low", "--limit", "2",
                                 "--n", "1", "--max-tokens", "8", "--model", str(tiny_model_path),
                                 "--baseline", "dit", "--workers", "1", "--output", str(run)])
    assert result.exit_code == 0, result.output
    for name in ("preds.jsonl", "metrics.json", "details.jsonl", "report.md", "report.png"):
        assert (run / name).is_file(), name

    result = runner.invoke(app, ["compare", str(metrics), "--paper", "M-Thinker-1.5B-Iter2", "--output",
                                 str(tmp_path / "cmp.md")])
    assert result.exit_code == 0, result.output
    assert "| ja |" in (tmp_path / "cmp.md").read_text()
    result = runner.invoke(app, ["compare", str(metrics), str(run / "metrics.json"), "--output", str(tmp_path / "ab.md")])
    assert result.exit_code == 0, result.output
    assert "| ja | 0.00 | 0.00 | +0.00 |" in (tmp_path / "ab.md").read_text()
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**json.loads(metrics.read_text()), "bench": "mmath"}))
    result = runner.invoke(app, ["compare", str(metrics), str(other)])
    assert result.exit_code != 0 and "different benchmarks" in result.output

    bad = tmp_path / "bad.jsonl"
    bad.write_text(preds.read_text() + '{"bench": "polymath"}\n')
    result = runner.invoke(app, ["score", "--bench", "polymath", "--preds", str(bad), "--output", str(metrics)],
                           env={"COLUMNS": "400", "TERMINAL_WIDTH": "400"})  # one line: the message is not wrapped
    assert result.exit_code == 2 and "bad.jsonl line 5: missing field(s)" in result.output, result.output


def _asks_for(question):
    """A server ``fail`` rule: HTTP 400 for the request of the problem with ``question``."""
    return lambda body: (400, "model [vllm] refused [/x] this prompt") if question in json.dumps(
        body, ensure_ascii=False) else None


def test_failed_request_keeps_the_finished_ones_and_a_rerun_asks_only_for_it(tmp_path):
    problems = load_problems("polymath", langs=["ja"], levels=["low"], limit=4)
    # the failure comes late, so the three other requests (all in flight at once) are surely done by then
    server = _Server(fail=_asks_for(problems[1].question.strip()), fail_delay_s=1.0)
    try:
        engine = OpenAIEngine(server.base, model="served", mode="chat", concurrency=4, retries=1)
        out = tmp_path / "preds.jsonl"
        params = SamplingParams(n=2, max_new_tokens=16)
        with pytest.raises(EngineError) as failure:
            generate_predictions(problems, engine, out, params)
        message = str(failure.value)
        assert "polymath ja id 'low-ja-1'" in message and "6 of the 8 predictions" in message
        assert f"{server.base}/chat/completions: HTTP 400" in message and "//chat" not in message
        # the three requests that came back are on disk, both samples each
        assert sorted((r["id"], r["sample"]) for r in _lines(out)) == sorted(
            (p.id, s) for p in problems if p is not problems[1] for s in (0, 1))

        server.fail, asked = None, len(server.bodies)
        again = generate_predictions(problems, engine, out, params)
        assert (again.written, again.already) == (2, 6)
        assert len(server.bodies) == asked + 1 and problems[1].question.strip() in json.dumps(
            server.bodies[-1][1], ensure_ascii=False)
        assert len(_lines(out)) == 8
    finally:
        server.close()


def test_after_a_failed_request_no_new_one_is_sent(tmp_path):
    problems = load_problems("polymath", langs=["ja"], levels=["low"], limit=6)
    server = _Server(fail=_asks_for(problems[0].question.strip()))
    try:
        engine = OpenAIEngine(server.base, model="served", mode="chat", concurrency=1, retries=1)
        out = tmp_path / "preds.jsonl"
        with pytest.raises(EngineError, match="low-ja-0"):
            generate_predictions(problems, engine, out, SamplingParams(n=1, max_new_tokens=8))
        # one worker: the failing request, then whatever the worker had taken up before the others were
        # cancelled (usually one), never the whole queue
        assert 1 <= len(server.bodies) < len(problems)
        assert len(_lines(out)) == len(server.bodies) - 1  # what did come back is saved
    finally:
        server.close()


def test_cli_error_messages_keep_brackets(tmp_path, monkeypatch):
    import sys

    from typer.testing import CliRunner

    from kit.cli.main import app

    problems = load_problems("polymath", langs=["ja"], levels=["low"], limit=1)
    server = _Server(fail=_asks_for(problems[0].question.strip()))
    wide = {"COLUMNS": "400", "TERMINAL_WIDTH": "400"}
    gen = ["generate", "--bench", "polymath", "--langs", "ja", "--levels", "low", "--limit", "1", "--n", "1",
           "--output", str(tmp_path / "preds.jsonl")]
    try:
        result = CliRunner().invoke(app, [*gen, "--engine", "openai", "--api-mode", "chat", "--api-base",
                                          server.base + "/", "--model", "served"], env=wide)
    finally:
        server.close()
    assert result.exit_code == 1, result.output
    assert "HTTP 400: model [vllm] refused [/x] this prompt" in result.output  # not read as rich markup
    assert f"{server.base}/chat/completions" in result.output and "0 of the 1 predictions" in result.output

    monkeypatch.setitem(sys.modules, "vllm", None)  # vLLM absent, whether or not this machine has it
    result = CliRunner().invoke(app, [*gen, "--engine", "vllm", "--model", "some/model"], env=wide)
    assert result.exit_code == 1 and "pip install 'mthinker-kit[vllm]'" in result.output, result.output
    with pytest.raises(EngineError, match=r"mthinker-kit\[vllm\]"):
        make_engine("vllm", "some/model")


def test_vllm_keeps_skip_special_tokens_when_think_close_is_not_special(tiny_model_path):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from kit.models import load_tokenizer

    # the tiny tokenizer lists </think> among its special tokens: skipping them could delete it
    assert keeps_think_close(load_tokenizer(str(tiny_model_path))) is False
    # DeepSeek-R1-Distill's </think> is an added token with "special": false, so the authors' default holds
    words = Tokenizer(models.WordLevel({"[UNK]": 0, "x": 1}, unk_token="[UNK]"))
    words.pre_tokenizer = pre_tokenizers.Whitespace()
    plain = PreTrainedTokenizerFast(tokenizer_object=words, unk_token="[UNK]", eos_token="<eos>")
    plain.add_tokens(["<think>", "</think>"])
    assert keeps_think_close(plain) is True
    flagged = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(words.to_str()), unk_token="[UNK]")
    flagged.add_tokens(["</think>"], special_tokens=True)  # special in the tokenizer, not in the map
    assert keeps_think_close(flagged) is False


@pytest.mark.slow
def test_eval_of_another_model_into_the_same_folder_refuses_and_records_provenance(tmp_path, monkeypatch):
    """The issue's reproduction: an eval of one model, then `--model tiny` into the same folder, used to print
    "0 written, 16 already" and the first model's table under the second's name."""
    from PIL import Image
    from typer.testing import CliRunner

    from kit.cli.main import app
    from kit.eval import engines

    server, wide = _Server(), {"COLUMNS": "400", "TERMINAL_WIDTH": "400"}
    run = tmp_path / "eval"
    common = ["eval", "--bench", "polymath", "--langs", "ja", "--levels", "low", "--limit", "2", "--n", "2",
              "--max-tokens", "16", "--workers", "1", "--output", str(run)]
    served = [*common, "--engine", "openai", "--api-mode", "chat", "--api-base", server.base]
    try:
        result = CliRunner().invoke(app, [*served, "--model", "model-a"], env=wide)
        assert result.exit_code == 0, result.output
        asked = len(server.bodies)
        record = json.loads((run / "preds.provenance.json").read_text())
        assert record["model"] == "model-a" and record["engine"] == "openai" and record["max_new_tokens"] == 16
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["provenance"]["model"] == "model-a"
        assert (run / "report.md").read_text().startswith("**model-a — polymath")
        assert "- engine: openai (api_mode=chat" in (run / "report.md").read_text()
        assert json.loads(Image.open(run / "report.png").text["Description"])["model"] == "model-a"
        before = {name: (run / name).read_bytes() for name in ("preds.jsonl", "metrics.json", "report.md")}

        def no_model(*args, **kwargs):
            raise AssertionError("no model may load")
        monkeypatch.setattr(engines, "make_engine", no_model)
        # the same settings again: nothing left to generate, so no engine is made and no request sent
        result = CliRunner().invoke(app, [*served, "--model", "model-a"], env=wide)
        assert result.exit_code == 0 and "0 predictions written, 4 already" in result.output, result.output
        assert len(server.bodies) == asked

        for other, setting in ((["--model", "tiny"], "model"),
                               ([*served[len(common):], "--model", "model-a", "--temperature", "0.3"],
                                "temperature"),
                               ([*served[len(common):], "--model", "model-a", "--baseline", "prompt-control"],
                                "baseline")):
            result = CliRunner().invoke(app, [*common, *other], env=wide)
            assert result.exit_code == 1, result.output
            message = " ".join(result.output.split())
            assert f"was generated with {setting}" in message and "--overwrite" in message, message
            assert "Traceback" not in result.output
            assert {name: (run / name).read_bytes() for name in before} == before  # nothing touched

        monkeypatch.undo()
        result = CliRunner().invoke(app, [*served, "--model", "model-b", "--overwrite"], env=wide)
        assert result.exit_code == 0 and "4 predictions written, 0 already" in result.output, result.output
        assert json.loads((run / "metrics.json").read_text())["provenance"]["model"] == "model-b"
        assert (run / "report.md").read_text().startswith("**model-b — polymath")
    finally:
        server.close()


@pytest.fixture
def fake_vllm(monkeypatch, tiny_model_path):
    """vLLM cannot run without a GPU: a stand-in ``vllm`` module records the engine's arguments and returns
    the tiny tokenizer, so what the kit asks vLLM for is checked (the sampling itself is vLLM's)."""
    import types

    from kit.models import load_tokenizer

    created = []

    class LLM:
        def __init__(self, **kwargs):
            created.append(kwargs)

        def get_tokenizer(self):
            return load_tokenizer(str(tiny_model_path))

    monkeypatch.setitem(sys.modules, "vllm", types.SimpleNamespace(LLM=LLM, SamplingParams=dict))
    return created


def test_vllm_engine_context_dtype_and_adapter_as_model(fake_vllm, tmp_path, monkeypatch):
    import torch

    from kit import models
    from kit.eval.engines import VLLM_PROMPT_BUDGET

    adapter = tmp_path / "final"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"r": 32, "base_model_name_or_path": "x-bnb-4bit"}))
    models.record_base(adapter, "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(models, "bf16_supported", lambda: False)  # a T4: capability 7.5
    engine = make_engine("vllm", str(adapter), max_new_tokens=4096)
    args = fake_vllm[-1]
    assert args["model"] == "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B" and engine.adapter == str(adapter)
    assert args["enable_lora"] is True and args["max_lora_rank"] == 32
    assert args["max_model_len"] == VLLM_PROMPT_BUDGET + 4096 and args["dtype"] == "float16"
    monkeypatch.setattr(models, "bf16_supported", lambda: True)
    make_engine("vllm", "some/model", max_new_tokens=512)
    assert fake_vllm[-1]["dtype"] == "bfloat16" and fake_vllm[-1]["enable_lora"] is False
    with pytest.raises(EngineError, match="is a LoRA adapter folder and --adapter"):
        make_engine("vllm", str(adapter), adapter=str(adapter))


def test_vllm_engine_names_a_prompt_over_its_budget(fake_vllm):
    engine = make_engine("vllm", "some/model", max_new_tokens=64, prompt_budget=8)
    problem = load_problems("polymath", langs=["ja"], levels=["low"], limit=1)[0]
    with pytest.raises(EngineError, match=rf"polymath ja id {problem.id!r}: the prompt has \d+ tokens, over"):
        engine.complete([problem], SamplingParams(n=1, max_new_tokens=64))
