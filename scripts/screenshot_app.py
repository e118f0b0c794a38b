"""Screenshots of the demo for the docs: one mid-stream (live indicators, switch alert) and one final
(verdict badge). Rerun after UI changes:

    .venv/bin/python scripts/screenshot_app.py                      # the replayed drift story (tests.support.replay)
    .venv/bin/python scripts/screenshot_app.py --tiny               # the tiny embedded model (random weights)
    .venv/bin/python scripts/screenshot_app.py --api-base http://127.0.0.1:8000/v1 --api-model m-thinker
    .venv/bin/python scripts/screenshot_app.py --compare runs/quickstart/final   # after make quickstart

By default the page talks to `tests.support.replay.ReplayServer` on 127.0.0.1, which streams a hand-written
Japanese thinking that drifts into English (a replay, not a model's output: the docs say so), so the shot
shows what the indicators are for. Needs Chromium and CJK/Thai fonts (`make chromium`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

PENDING = "document.querySelector('#verdict [data-state=pending]') !== null"
FINAL = "document.querySelector('#verdict [data-state=final]') !== null"


def main() -> None:
    from tests.support.replay import DRIFT_GOLD, DRIFT_QUESTION

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--question", default=DRIFT_QUESTION)
    parser.add_argument("--gold", default=DRIFT_GOLD)
    parser.add_argument("--max-tokens", type=int, default=400)
    parser.add_argument("--mid-paragraphs", type=int, default=4,
                        help="thinking paragraphs on the page at the mid-stream shot")
    parser.add_argument("--delay", type=float, default=0.05, help="replay: seconds before each chunk")
    parser.add_argument("--tiny", action="store_true", help="the tiny embedded model instead of the replay")
    parser.add_argument("--model", default=None)
    parser.add_argument("--adapter", default=None)
    parser.add_argument("--api-base", default=None)
    parser.add_argument("--api-model", default="default")
    parser.add_argument("--compare", default=None, metavar="ADAPTER",
                        help="compare mode: the adapter's cold-start base (left) and the adapter (right) on a "
                             "held-out question of the quickstart, greedy; one shot, docs/app_compare.png")
    parser.add_argument("--mid", default=str(REPO / "docs" / "app_screenshot.png"))
    parser.add_argument("--final", default=str(REPO / "docs" / "app_final.png"))
    args = parser.parse_args()
    if args.compare:
        compare_shot(args.compare, REPO / "docs" / "app_compare.png")
        return

    from kit.app.launch import AppConfig, launch_demo
    from tests.support.chromium import Chromium
    from tests.support.replay import ReplayServer

    with contextlib.ExitStack() as stack:
        api_base, api_model = args.api_base, args.api_model
        if not (args.tiny or args.model or args.api_base):
            replay = stack.enter_context(ReplayServer(delay_s=args.delay, reasoning_chars=5, answer_chars=5))
            api_base, api_model = replay.url, "replay: a hand-written drift story, not a model"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cfg = AppConfig(preset="tiny", model=args.model, adapter=args.adapter, api_base=api_base,
                        api_model=api_model, port=port)
        demo, url = launch_demo(cfg, block=False)
        stack.callback(demo.close)
        page = stack.enter_context(Chromium(width=1280, height=1500, timeout_s=120))
        page.open(url, ready="document.querySelector('#question textarea') !== null")
        page.fill("#question textarea", args.question)
        page.fill("#gold input, #gold textarea", args.gold)
        page.fill("#max-tokens input[type=number]", str(args.max_tokens))
        page.wait_for("document.querySelector('#input-lang [data-lang]') !== null")
        page.click("#submit")
        page.wait_for(
            f"(({PENDING}) && document.querySelectorAll('#thinking-chips .chip-line').length"
            f" >= {args.mid_paragraphs}) || {FINAL}"
        )
        page.evaluate("document.querySelector('#indicators').scrollIntoView({block: 'start'})")
        print("mid-stream:", page.screenshot(args.mid))
        page.wait_for(FINAL, timeout_s=600)
        page.evaluate("document.querySelector('#indicators').scrollIntoView({block: 'start'})")
        print("final:", page.screenshot(args.final))


def compare_shot(adapter: str, path: Path, question: dict | None = None) -> dict:
    """Compare mode on a held-out question of the tiny preset (greedy); returns both verdict texts."""
    from kit.app.launch import AppConfig, launch_demo
    from kit.train.config import load_config
    from kit.train.heldout import held_out
    from tests.support.chromium import Chromium

    row = question or held_out(load_config("examples/configs/tiny.yaml"))[0]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo, url = launch_demo(AppConfig(model=adapter, port=port), block=False)
    try:
        with Chromium(width=1280, height=1100, timeout_s=300) as page:
            page.open(url, ready="document.querySelector('#question textarea') !== null")
            page.click("#compare input[type=checkbox]")
            page.wait_for("document.querySelector('#verdict-base')?.offsetParent != null")
            page.fill("#question textarea", row["question"])
            page.fill("#gold input, #gold textarea", row["answer"])
            page.fill("#temperature input[type=number]", "0")
            page.fill("#max-tokens input[type=number]", "64")  # = the preset's completion length
            page.click("#submit")
            verdicts = {side: page.wait_for(f"document.querySelector('#{side} [data-state=final]')?.textContent",
                                            timeout_s=300) for side in ("verdict", "verdict-base")}
            print("compare:", page.screenshot(path))
            return {"trained": verdicts["verdict"], "cold start": verdicts["verdict-base"], "id": row["id"]}
    finally:
        demo.close()


if __name__ == "__main__":
    main()
