"""The demo's ``gr.Blocks`` page and its ``solve`` API.

One or two panels (compare mode: the base model and the trained adapter side by side) stream the thinking
into a collapsible accordion and the answer below it, with live language indicators and, at the end, the
verdict of the kit's LC reward. Handlers only call `kit.app.session`; nothing here generates or detects.
"""

import logging
import queue
import threading
from collections import defaultdict
from dataclasses import dataclass, field

from kit.app import html as fragments
from kit.app.examples import load_examples
from kit.app.session import (
    MAX_NEW_TOKENS_LIMIT,
    MAX_QUESTION_CHARS,
    GenerationSettings,
    InputError,
    SessionUpdate,
    Source,
    detect_question_language,
    report_failure,
    run_session,
    solve_result,
)
from kit.languages import LANGUAGES

log = logging.getLogger(__name__)

# Every event that generates (the page's Think button and Enter key, the `solve` API) is in this one
# concurrency group, so `--concurrency` bounds the requests generating at once over the whole app, not per
# event. A compare-mode request is one request running two generations, one after the other (kit.app.local).
GENERATE = "generate"


class Run:
    """One press of "Think": a session per source (two in compare mode), each in its own thread.

    The threads, not the page's generator, keep ``latest`` current, so the stop button can show the verdict
    of the partial text even after gradio has cancelled the generator that was streaming it.
    """

    def __init__(self, sources: list[Source], question, target, settings, gold, backend):
        self.sources, self.stop_event = sources, threading.Event()
        self.latest: list[SessionUpdate | None] = [None] * len(sources)
        self.failure: BaseException | None = None
        self.finished = threading.Event()
        self._inbox: queue.Queue = queue.Queue()
        self._left = len(sources)
        self._lock = threading.Lock()
        self._args = (question, target, settings, gold, backend)

    def start(self) -> "Run":
        for index, source in enumerate(self.sources):
            threading.Thread(target=self._work, args=(index, source), daemon=True).start()
        return self

    def _work(self, index: int, source: Source) -> None:
        question, target, settings, gold, backend = self._args
        try:
            for update in run_session(
                source, question, target, settings, gold=gold, backend=backend, stop_event=self.stop_event
            ):
                self.latest[index] = update
                self._inbox.put(index)
        except BaseException as exc:  # noqa: BLE001 - bad input or a bug: reported in the page
            self.failure = exc
            self.stop_event.set()  # the other panel has nothing to compare against
        with self._lock:
            self._left -= 1
            if self._left == 0:
                self.finished.set()
                self._inbox.put(None)

    def updates(self):
        """Yield the latest update of every source whenever one changes; raise the first failure."""
        while True:
            item = self._inbox.get()
            if self.failure is not None:
                raise self.failure
            if item is None:
                return
            yield list(self.latest)


def _stream_sessions(sources: list[Source], question, target, settings, gold, backend, stop_event=None):
    """Run one session per source in parallel; yield the latest updates (compare mode, tests)."""
    run = Run(sources, question, target, settings, gold, backend)
    if stop_event is not None:
        run.stop_event = stop_event
    yield from run.start().updates()


@dataclass
class DemoSources:
    """What the page talks to: the main model, and optionally a base model for compare mode."""

    main: Source
    base: Source | None = None  # compare mode: the same backbone without the adapter
    lid_backend: str = "fasttext"
    description: str = ""
    # Runs in progress per browser session: the stop button stops them.
    _running: dict[str, list[Run]] = field(default_factory=lambda: defaultdict(list))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, session_id: str, run: Run) -> Run:
        with self._lock:
            self._running[session_id].append(run)
        return run

    def release(self, session_id: str, run: Run) -> None:
        with self._lock:
            runs = self._running.get(session_id, [])
            if run in runs:
                runs.remove(run)
            if not runs:
                self._running.pop(session_id, None)

    def stop(self, session_id: str, wait_s: float = 15.0) -> list[Run]:
        """Set the stop events of the session's runs and wait for their threads to finish."""
        with self._lock:
            runs = list(self._running.get(session_id, []))
        for run in runs:
            run.stop_event.set()
        for run in runs:
            run.finished.wait(wait_s)
            self.release(session_id, run)
        return runs


def _target_choices() -> list[tuple[str, str]]:
    return [("auto (the question's language)", "auto")] + [
        (f"{lang.native_name} — {lang.name} ({code})", code) for code, lang in LANGUAGES.items()
    ]


def _question_info(question: str, backend: str) -> str:
    text = (question or "").strip()
    if len(text) > MAX_QUESTION_CHARS:
        return fragments.status_html(
            f"The question has {len(text)} characters; the limit is "
            f"{MAX_QUESTION_CHARS}. Shorten it before submitting.",
            error=True,
        )
    return fragments.input_language_html(detect_question_language(text, backend) if text else None)


def _panel_values(update: SessionUpdate) -> tuple[str, str, str, str]:
    """(indicators, thinking, answer, verdict) for one panel."""
    view = update.view
    verdict = fragments.verdict_html(
        update.verdict,
        update.target_lang,
        correct=update.correct,
        boxed=update.boxed,
        stopped=update.stopped,
        error=update.error,
    )
    if view.in_answer:
        answer = view.answer
    elif update.done:  # stopped, cut at max new tokens, or failed before </think>
        answer = "*(no answer: the output ended before the thinking closed with </think>)*"
    else:
        answer = "*(the answer appears after the thinking ends)*"
    return (
        fragments.indicators_html(view, elapsed_s=update.elapsed_s, streaming=not update.done),
        view.thinking,
        answer,
        verdict,
    )


def _answer_panel(gr, prefix: str, label: str, visible: bool):
    """One model's column: its indicators, thinking, answer and verdict; returns (column, those outputs)."""
    with gr.Column(visible=visible) as column:
        gr.Markdown(f"### {label}" if label else "")
        indicators = gr.HTML(elem_id=f"{prefix}-indicators" if prefix == "base" else "indicators")
        with gr.Accordion("Thinking", open=True, elem_id=f"{prefix}-thinking-panel"):
            thinking = gr.Textbox(
                show_label=False,
                lines=10,
                max_lines=24,
                autoscroll=True,
                interactive=False,
                elem_id=f"{prefix}-thinking",
            )
        with gr.Accordion("Answer", open=True, elem_id=f"{prefix}-answer-panel"):
            answer = gr.Markdown(
                elem_id=f"{prefix}-answer",
                latex_delimiters=[
                    {"left": "$$", "right": "$$", "display": True},
                    {"left": "$", "right": "$", "display": False},
                ],
            )
        verdict = gr.HTML(
            fragments.IDLE_VERDICT,
            elem_id="verdict" if prefix == "main" else "verdict-base",
        )
    return column, [indicators, thinking, answer, verdict]


def _renderer(gr):
    """The page's redraw of a run: the status line, both panels' outputs and the Stop button."""

    def render(run: Run) -> list:
        empty = [gr.skip()] * 4
        values = [_panel_values(u) if u else empty for u in run.latest]
        done = [u for u in run.latest if u is not None and u.done]
        errors = [u.error for u in done if u.error]
        if errors:
            message = fragments.status_html("The model failed: " + "; ".join(errors), error=True)
        elif len(done) == len(run.latest):
            message = fragments.status_html("Stopped." if run.stop_event.is_set() else "Done.")
        else:
            message = fragments.status_html("Generating… (Stop halts the model)")
        running = len(done) < len(run.latest)
        return [message, *values[0], *(values[1] if len(values) > 1 else empty), gr.update(interactive=running)]

    return render


def _think_handler(gr, sources: DemoSources, render):
    """The Think button's generator: starts a run and redraws it as it streams."""

    def think(
        question_text, target_code, temp, max_tokens, gold_text, backend, compare_on, request: gr.Request
    ):
        empty = [gr.skip()] * 8
        idle = gr.update(interactive=False)
        session_id = getattr(request, "session_hash", None) or "anonymous"
        run = None
        try:
            settings = GenerationSettings(temperature=temp, max_new_tokens=max_tokens)
            run_sources = [sources.main] + ([sources.base] if compare_on and sources.base else [])
            run = sources.register(
                session_id, Run(run_sources, question_text, target_code, settings, gold_text, backend)
            )
            # Stop is live from the press on (loading the model can take a while), not from the first token
            yield [fragments.status_html("Starting… (Stop halts the model)"), *empty, gr.update(interactive=True)]
            for _ in run.start().updates():
                if run.stop_event.is_set() and not all(u is not None and u.done for u in run.latest):
                    # Stop pressed: the stop handler draws the final state; a late partial redraw
                    # from this (being cancelled) stream must not overwrite its verdict.
                    continue
                yield render(run)
        except InputError as exc:
            yield [fragments.status_html(str(exc), error=True), *empty, idle]
        except Exception as exc:  # noqa: BLE001 - never a stack trace, or any detail, in the page
            message = report_failure(exc, "the page's Think")
            yield [fragments.status_html(message[0].upper() + message[1:] + ".", error=True), *empty, idle]
        finally:
            if run is not None:
                sources.release(session_id, run)

    return think


def _halt_handler(gr, sources: DemoSources, render):
    """The Stop button's handler."""

    def halt(request: gr.Request):
        """Stop the model, then show the verdict on what it had written (the stream is cancelled)."""
        runs = sources.stop(getattr(request, "session_hash", None) or "anonymous")
        if not runs:
            return [fragments.status_html("Nothing is running."), *[gr.skip()] * 8, gr.update(interactive=False)]
        return [*render(runs[-1])[:-1], gr.update(interactive=False)]

    return halt


def _solve_api(gr, sources: DemoSources):
    """The ``solve`` API endpoint (one question, the whole result)."""

    def solve(
        question: str, target_language: str = "auto", temperature: float = 0.6, max_new_tokens: int = 512
    ) -> dict:
        """Solve one question; returns the thinking, answer, boxed answer, detected languages, the LC
        verdict (consistent), lc_ratio and the thinking's paragraphs with their languages."""
        try:
            settings = GenerationSettings(temperature=temperature, max_new_tokens=max_new_tokens)
            last = None
            for last in run_session(
                sources.main, question, target_language, settings, backend=sources.lid_backend
            ):
                pass
        except InputError as exc:
            # a rejected request is the caller's mistake: its traceback is for debugging, not stderr
            log.debug("solve rejected: %s", exc, exc_info=True)
            raise gr.Error(str(exc), print_exception=False) from None
        if last.error:  # generic, with an error id: the detail is in the server log
            raise gr.Error(last.error, print_exception=False)
        return solve_result(last)

    return solve


def build_demo(sources: DemoSources):
    """The ``gr.Blocks`` app (not launched). Call ``demo.queue(...)`` and ``demo.launch(...)`` on it."""
    import gradio as gr

    examples = load_examples()
    compare_available = sources.base is not None
    with gr.Blocks(title="M-Thinker demo: think in the question's language") as demo:
        gr.Markdown(
            "# M-Thinker: does the model think in your language?\n"
            "Ask a math question in any language. The thinking streams below, with the language of each "
            "paragraph as it is written; the verdict at the end is the kit's own language-consistency (LC) "
            f"reward. {sources.description}"
        )
        with gr.Row():
            with gr.Column(scale=3):
                question = gr.Textbox(
                    label="Question",
                    lines=4,
                    elem_id="question",
                    placeholder="e.g. 三角形の底辺が 6、高さが 4 のとき、面積はいくつですか？",
                )
                question_info = gr.HTML(fragments.input_language_html(None), elem_id="input-lang")
                gold = gr.Textbox(label="Gold answer (optional: shows correctness)", elem_id="gold")
            with gr.Column(scale=2):
                target = gr.Dropdown(
                    choices=_target_choices(), value="auto", label="Target language", elem_id="target"
                )
                temperature = gr.Slider(
                    0.0, 1.5, value=0.6, step=0.05, label="Temperature", elem_id="temperature"
                )
                max_new_tokens = gr.Slider(
                    16, MAX_NEW_TOKENS_LIMIT, value=512, step=16, label="Max new tokens", elem_id="max-tokens"
                )
                lid_backend = gr.Radio(
                    ["fasttext", "langdetect"],
                    value=sources.lid_backend,
                    label="Language identification (verdict and indicators)",
                )
                compare = gr.Checkbox(
                    value=False,
                    label="Compare: base model vs trained adapter",
                    interactive=compare_available,
                    elem_id="compare",
                    info=None if compare_available else "start the app with --adapter to compare",
                )
        with gr.Row():
            submit = gr.Button("Think", variant="primary", elem_id="submit")
            stop = gr.Button("Stop", variant="stop", elem_id="stop", interactive=False)  # live only while running
        status = gr.HTML(fragments.status_html("Ready."), elem_id="status")
        panels = {}
        with gr.Row():
            # compare mode reads left to right: the base (cold-start) model, then the trained adapter
            for prefix, label, visible in (
                ("base", sources.base.label if sources.base else "", False),
                ("main", sources.main.label, True),
            ):
                panels[prefix] = _answer_panel(gr, prefix, label, visible)
        if examples:
            gr.Examples(
                examples=[[e.question, "auto", e.answer] for e in examples],
                inputs=[question, target, gold],
                example_labels=[e.label for e in examples],
                label="Examples from " + " and ".join(sorted({e.benchmark for e in examples})),
            )

        main_outputs, base_outputs = panels["main"][1], panels["base"][1]
        base_column = panels["base"][0]

        render = _renderer(gr)
        think = _think_handler(gr, sources, render)
        halt = _halt_handler(gr, sources, render)

        question.change(
            lambda q, b: _question_info(q, b),
            [question, lid_backend],
            question_info,
            queue=False,
            show_progress="hidden",
            api_visibility="private",
        )
        compare.change(
            lambda on: gr.update(visible=bool(on)),
            compare,
            base_column,
            queue=False,
            api_visibility="private",
        )
        inputs = [question, target, temperature, max_new_tokens, gold, lid_backend, compare]
        outputs = [status, *main_outputs, *base_outputs, stop]
        run_event = submit.click(
            think, inputs, outputs, api_visibility="private", show_progress="minimal", concurrency_id=GENERATE
        )
        submit_event = question.submit(
            think, inputs, outputs, api_visibility="private", show_progress="minimal", concurrency_id=GENERATE
        )
        # Stop halts the generation threads (their stop event), cancels the streaming event (or a queued
        # one) and draws the final state itself, verdict included.
        stop.click(
            halt, None, outputs, cancels=[run_event, submit_event], queue=False, api_visibility="private"
        )

        solve = _solve_api(gr, sources)
        gr.api(solve, api_name="solve", concurrency_id=GENERATE)
        _name_api_values(demo, "solve", solve)
    return demo


def _name_api_values(demo, api_name: str, fn) -> None:
    """Label the endpoint's values with the function's parameter names: ``gr.api`` labels them "1st",
    "2nd", ..., which is what ``/gradio_api/info`` and the page's API docs would show."""
    import inspect

    names = list(inspect.signature(fn).parameters)
    for block_fn in demo.fns.values():
        if block_fn.api_name == api_name:
            for component, name in zip(block_fn.inputs, names):
                component.label = name
            for component in block_fn.outputs:
                component.label = "result"
