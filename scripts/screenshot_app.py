"""Screenshots of the demo for the docs: one mid-stream (live indicators, switch alert) and one final
(verdict badge). Rerun after UI changes:

    .venv/bin/python scripts/screenshot_app.py                      # tiny model, CPU, offline
    .venv/bin/python scripts/screenshot_app.py --api-base http://127.0.0.1:8000/v1 --api-model m-thinker

Needs Chromium (`make chromium`); CJK/Thai glyphs need fonts (Debian: fonts-noto-cjk fonts-noto-core).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

DEFAULT_QUESTION = (
    "ジャネットのアヒルは1日に16個の卵を生みます。ジャネットは毎朝朝食の一環で3個を消費し、毎日4個使って"
    "友達向けにマフィンを焼きます。残りを市場で1個あたり2ドルの価格で売ります。彼女は毎日市場でいくら手に入れていますか？"
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--question", default=DEFAULT_QUESTION)
    parser.add_argument("--gold", default="18")
    parser.add_argument("--max-tokens", type=int, default=400)
    parser.add_argument("--mid-chars", type=int, default=300, help="thinking length at the mid-stream shot")
    parser.add_argument("--model", default=None)
    parser.add_argument("--adapter", default=None)
    parser.add_argument("--api-base", default=None)
    parser.add_argument("--api-model", default="default")
    parser.add_argument("--mid", default=str(REPO / "docs" / "app_screenshot.png"))
    parser.add_argument("--final", default=str(REPO / "docs" / "app_final.png"))
    args = parser.parse_args()

    from kit.app.chromium import Chromium
    from kit.app.launch import AppConfig, launch_demo

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = AppConfig(
        preset="tiny",
        model=args.model,
        adapter=args.adapter,
        api_base=args.api_base,
        api_model=args.api_model,
        port=port,
    )
    demo, url = launch_demo(cfg, block=False)
    try:
        with Chromium(width=1280, height=1500, timeout_s=120) as page:
            page.open(url, ready="document.querySelector('#question textarea') !== null")
            page.fill("#question textarea", args.question)
            page.fill("#gold input, #gold textarea", args.gold)
            page.fill("#max-tokens input[type=number]", str(args.max_tokens))
            page.wait_for("document.querySelector('#input-lang [data-lang]') !== null")
            page.click("#submit")
            page.wait_for(
                f"document.querySelector('#main-thinking textarea')?.value.length >= {args.mid_chars}"
                " || document.querySelector('#verdict [data-state=final]') !== null"
            )
            page.evaluate("document.querySelector('#indicators').scrollIntoView({block: 'start'})")
            print("mid-stream:", page.screenshot(args.mid))
            page.wait_for("document.querySelector('#verdict [data-state=final]') !== null", timeout_s=600)
            page.evaluate("document.querySelector('#indicators').scrollIntoView({block: 'start'})")
            print("final:", page.screenshot(args.final))
    finally:
        demo.close()


if __name__ == "__main__":
    main()
