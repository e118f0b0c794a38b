"""verl, for real: the kit's reward inside verl's own reward manager, and examples/verl/ composed against
verl's trainer config.

verl brings its own stack (verl 0.9.1 requires transformers<5.11; the kit pins 5.17), so these tests drive
.venv-verl, which `make verl-env` builds (``make test`` depends on it), through the scripts in tests/support.
They never skip unless MTHINKER_ALLOW_NO_VERL_ENV=1 says so; CI sets nothing, so a missing verl env fails.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.judge_server import JudgeServer

REPO = Path(__file__).resolve().parents[1]
VERL_PY = REPO / ".venv-verl" / "bin" / "python"
REQUIREMENTS = REPO / "examples" / "verl" / "requirements.txt"
SUPPORT = REPO / "tests" / "support"
ALLOW_NO_VERL_ENV = "MTHINKER_ALLOW_NO_VERL_ENV"
TRAINING_STACK = {"torch", "transformers", "trl", "peft", "bitsandbytes", "accelerate", "datasets", "unsloth", "vllm"}


@pytest.fixture(scope="module")
def verl_python() -> Path:
    if VERL_PY.is_file():
        return VERL_PY
    if os.environ.get(ALLOW_NO_VERL_ENV) == "1":
        pytest.skip(f"{VERL_PY} missing and {ALLOW_NO_VERL_ENV}=1")
    pytest.fail(f"{VERL_PY} is missing: run `make verl-env` (make test builds it), or set {ALLOW_NO_VERL_ENV}=1")


def run_in_verl_env(python: Path, args: list, env: dict | None = None, timeout: int = 300):
    environment = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}  # this checkout's kit, always
    return subprocess.run([str(python), *map(str, args)], check=False, capture_output=True, text=True, env=environment,
                          timeout=timeout, cwd=REPO)


# ------------------------------------------------------------------------------------ the reward side


def test_reward_side_imports_no_training_stack():
    """What verl's environment installs of the kit (kit.rewards, kit.lid, kit.languages, kit.judges) imports
    neither torch nor transformers nor the rest of the training stack, even while scoring with a judge."""
    code = (
        "import json, sys\n"
        "import kit.rewards, kit.rewards.verl, kit.lid, kit.languages, kit.judges\n"
        "import kit.judges.symbolic, kit.judges.api, kit.judges.local, kit.judges.cache\n"
        "from kit.rewards.verl import compute_score\n"
        "text = 'Il reste 16 - 3 - 4 = 9 œufs, donc 9 fois 2 font 18.</think>La réponse est \\\\boxed{18}.'\n"
        "extra = {'en_question': 'q', 'en_answer': '<think>\\n16 - 3 - 4 = 9, 9 * 2 = 18</think>'}\n"
        "score = compute_score('fr', text, '18', extra, reward={'min_response_chars': 0},"
        " judge={'kind': 'symbolic'})\n"
        "print(json.dumps({'score': score, 'modules': sorted({m.split('.')[0] for m in sys.modules})}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=REPO, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert 1.0 < result["score"] <= 2.0  # correct, consistent, CTA from the symbolic judge
    assert not TRAINING_STACK & set(result["modules"]), sorted(TRAINING_STACK & set(result["modules"]))


def _requirements(lines) -> dict:
    from packaging.requirements import Requirement

    reqs = [Requirement(line.split("#")[0].strip()) for line in lines if line.split("#")[0].strip()]
    return {r.name.lower(): r for r in reqs}


def test_verl_env_pins_verl_once_and_mirrors_the_kit_reward_side():
    import tomllib

    pinned = _requirements(REQUIREMENTS.read_text(encoding="utf-8").splitlines())
    verl = pinned.pop("verl")
    assert str(verl.specifier).startswith("==")  # one exact release, pinned here only
    release = str(verl.specifier)[2:]
    for doc in (REQUIREMENTS, REPO / "docs" / "scale.md"):  # the install lines quote the same release
        quoted = set(re.findall(r"verl\[vllm\]==([\w.]+)", doc.read_text(encoding="utf-8")))
        assert quoted == {release}, f"{doc.name} quotes verl {quoted}, the pin is {release}"
    kit = _requirements(tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"])
    for name, requirement in pinned.items():
        assert name in kit, f"{REQUIREMENTS.name}: {name} is not a dependency of the kit"
        assert requirement.specifier == kit[name].specifier, f"{name}: {requirement} vs pyproject's {kit[name]}"


def test_latex_answers_verify_on_the_verl_env_antlr_runtime(verl_python):
    """verl's hydra-core pins antlr4 4.9.3; math-verify's LaTeX parsing must work on it there too."""
    code = ("from kit.rewards.accuracy import verify; "
            "print([verify('\\\\frac{1}{2}', '0.5'), verify('(x+1)^2', 'x^2+2x+1'), verify('\\\\sqrt{2}', '2')])")
    out = run_in_verl_env(verl_python, ["-c", code], timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[True, True, False]"


# --------------------------------------------------------------------- verl's reward manager, for real


FR_THINKING = ("Janet a seize œufs par jour. Elle en mange trois au petit déjeuner et en utilise quatre pour "
               "les muffins de ses amis. Il lui reste donc 16 - 3 - 4 = 9 œufs à vendre. Chaque œuf se vend "
               "deux dollars au marché, donc elle gagne 9 × 2 = 18 dollars par jour.")
EN_THINKING = ("Janet's ducks lay sixteen eggs a day. She eats three for breakfast and bakes muffins with four, "
               "so 16 - 3 - 4 = 9 eggs are left. She sells each egg for two dollars at the market, so she "
               "makes 9 × 2 = 18 dollars every day.")
FR_ANSWER = "Elle gagne donc dix-huit dollars chaque jour au marché fermier : la réponse est \\boxed{%s}."
EN_REFERENCE = "Janet's ducks lay 16 eggs. 16 - 3 - 4 = 9 eggs are left. 9 * 2 = 18 dollars a day."
RESPONSES = {  # name: (response text, the reward the kit's M-Thinker reward gives it with a 0.75 judge)
    "consistent_correct": (f"{FR_THINKING}</think>{FR_ANSWER % 18}", 1.75),  # accuracy 1 + CTA 0.75
    "english_thinking": (f"{EN_THINKING}</think>{FR_ANSWER % 18}", -1.0),  # LC gate
    "malformed": (f"{FR_THINKING} {FR_ANSWER % 18}", -1.0),  # no </think>: format gate
    "consistent_wrong": (f"{FR_THINKING}</think>{FR_ANSWER % 17}", 0.0),  # ground truth reached the reward
}
JUDGE_MODEL = "judge-from-reward-kwargs"
KEY_ENV = "MTHINKER_TEST_VERL_JUDGE_KEY"


THINK_TAGS = ("<think>", "</think>")


def reasoning_tokenizer(path: Path) -> Path:
    """The tiny tokenizer with the think tags as plain added tokens ("special": false), as Qwen3's tokenizer
    ships them. verl's reward managers decode with skip_special_tokens=True: a tokenizer that marks
    ``</think>`` special (the tiny one does) hands the reward text without it, and every response fails the
    format rule."""
    from kit.tiny import build_tokenizer

    build_tokenizer().save_pretrained(str(path))
    tokens = json.loads((path / "tokenizer.json").read_text(encoding="utf-8"))
    for token in tokens["added_tokens"]:
        token["special"] = token["special"] and token["content"] not in THINK_TAGS
    (path / "tokenizer.json").write_text(json.dumps(tokens, ensure_ascii=False), encoding="utf-8")
    config = json.loads((path / "tokenizer_config.json").read_text(encoding="utf-8"))
    config["extra_special_tokens"] = [t for t in config.get("extra_special_tokens", []) if t not in THINK_TAGS]
    (path / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def exported_parquet(tmp_path_factory) -> Path:
    """`mthinker export-verl` on a French row of the bundled slice with an English reference thinking."""
    from typer.testing import CliRunner

    from kit.cli.main import app
    from kit.data.loaders import load_rows, write_rows
    from kit.paths import EXAMPLES_DIR

    folder = tmp_path_factory.mktemp("verl-data")
    rows = load_rows(EXAMPLES_DIR / "data" / "polymath_low_slice.jsonl", langs=["fr"], limit_per_lang=2)
    rows[0]["en_reference"] = EN_REFERENCE
    write_rows(rows, folder / "rl.jsonl")
    result = CliRunner().invoke(app, ["export-verl", str(folder / "rl.jsonl"), "--output", str(folder / "verl")])
    assert result.exit_code == 0, result.output
    return folder / "verl" / "train.parquet"


@pytest.mark.slow
def test_verl_reward_manager_puts_the_kit_scores_on_the_last_response_token(verl_python, exported_parquet,
                                                                              tmp_path):
    tokenizer_dir = reasoning_tokenizer(tmp_path / "tokenizer")
    server = JudgeServer()
    reward_kwargs = {"reward": {"min_response_chars": 100},
                     "judge": {"kind": "api", "base_url": server.url, "model": JUDGE_MODEL,
                               "api_key_env": KEY_ENV, "retries": 0, "timeout_s": 30}}
    flat = [f"+reward.custom_reward_function.reward_kwargs.{section}.{key}={value}"
            for section, values in reward_kwargs.items() for key, value in values.items()]
    spec = {"parquet": str(exported_parquet),
            "responses": [{"row": 0, "text": text} for text, _ in RESPONSES.values()],
            "overrides": [f"actor_rollout_ref.model.path={tokenizer_dir}",
                          f"data.train_files={exported_parquet}", "data.max_prompt_length=1024",
                          f"reward.custom_reward_function.path={REPO / 'kit' / 'rewards' / 'verl.py'}",
                          "reward.custom_reward_function.name=compute_score", *flat]}
    (tmp_path / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    try:
        out = run_in_verl_env(verl_python, [SUPPORT / "verl_reward_manager.py", tmp_path / "spec.json",
                                            tmp_path / "out.json"], env={KEY_ENV: "sk-test"})
        assert out.returncode == 0, out.stderr[-3000:]
        result = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    finally:
        server.close()

    assert result["manager"] == "NaiveRewardManager"  # verl's default, built from reward.reward_manager
    assert result["decoded"] == [text for text, _ in RESPONSES.values()]  # the reward saw the exact text
    assert result["extra_info"][0]["en_answer"] == f"<think>\n{EN_REFERENCE}\n</think>"
    for (name, (text, expected)), row, length in zip(RESPONSES.items(), result["rm_scores"],
                                                      result["valid_lengths"], strict=True):
        assert row[length - 1] == pytest.approx(expected), name  # the score sits on the last response token
        assert [v for i, v in enumerate(row) if i != length - 1] == [0.0] * (len(row) - 1), name
    # judge settings reached the entry point the way verl passes them (reward_kwargs), key by its variable's name
    assert len(server.bodies) == 1  # CTA only for the consistent, correct response
    assert server.bodies[0]["model"] == JUDGE_MODEL and server.auth_headers == ["Bearer sk-test"]
    assert EN_REFERENCE in json.dumps(server.bodies[0], ensure_ascii=False)  # en_answer's thinking, via extra_info


def test_the_expected_scores_are_the_kit_reward(exported_parquet):
    """The values the verl test expects are what the kit's entry point gives in this process (0.75 judge)."""
    import pandas as pd

    from kit.rewards import verl as kit_verl

    row = pd.read_parquet(exported_parquet).iloc[0]
    server = JudgeServer()
    try:
        judge = {"kind": "api", "base_url": server.url, "model": JUDGE_MODEL, "retries": 0}
        for name, (text, expected) in RESPONSES.items():
            score = kit_verl.compute_score(row["data_source"], text, row["reward_model"]["ground_truth"],
                                           dict(row["extra_info"]), reward={"min_response_chars": 100}, judge=judge)
            assert score == pytest.approx(expected), name
    finally:
        server.close()
        kit_verl.reset()


# -------------------------------------------------------------------- launch scripts vs verl's config


def compose_script(verl_python: Path, script: str, tmp_path: Path, *extra: str, env: dict | None = None):
    """Run examples/verl/<script> with verl's python replaced by tests/support/verl_compose.py."""
    wrapper = tmp_path / "python"
    wrapper.write_text(f'#!/bin/sh\nexec "{verl_python}" "{SUPPORT / "verl_compose.py"}" "$@"\n')
    wrapper.chmod(0o755)
    environment = {**os.environ, "PYTHONPATH": str(REPO), "VERL_PYTHON": str(wrapper), **(env or {})}
    return subprocess.run(["bash", str(REPO / "examples" / "verl" / script), *extra], check=False,
                          capture_output=True, text=True, env=environment, timeout=300, cwd=tmp_path)


PAPER = {"adv_estimator": "grpo", "group_size": 8, "temperature": 0.9, "use_kl_loss": False, "kl_loss_coef": 0.0,
         "use_kl_in_reward": False, "entropy_coeff": 0, "clip_ratio": 0.2, "loss_agg_mode": "token-mean",
         "max_prompt_length": 2048, "max_response_length": 14336, "rollout_prompt_length": 2048,
         "rollout_response_length": 14336, "lr_scheduler_type": "constant", "train_batch_size": 512,
         "ppo_mini_batch_size": 512, "total_epochs": 15, "save_freq": 5, "nnodes": 8, "n_gpus_per_node": 8,
         "reward_name": "compute_score", "malformed_score": -1.0}


@pytest.mark.slow
@pytest.mark.parametrize(("script", "lr", "lora_rank"), [("grpo_1.5b.sh", 5e-6, 0), ("grpo_7b.sh", 3e-6, 0),
                                                         ("grpo_7b.sh", 3e-6, 64)])
def test_launch_script_composes_against_the_pinned_verl_config(verl_python, tmp_path, script, lr, lora_rank):
    out = compose_script(verl_python, script, tmp_path, env={"LORA_RANK": str(lora_rank)})
    assert out.returncode == 0, out.stderr[-3000:]
    settings = json.loads(out.stdout.strip().splitlines()[-1])
    assert {k: settings[k] for k in PAPER} == PAPER
    assert settings["lr"] == lr and settings["lora_rank"] == lora_rank
    assert settings["reward_path"] == str(REPO / "kit" / "rewards" / "verl.py")
    assert settings["reward_kwargs"]["reward"]["variant"] == "mthinker"


@pytest.mark.slow
def test_an_unknown_key_fails_the_composition(verl_python, tmp_path):
    out = compose_script(verl_python, "grpo_1.5b.sh", tmp_path, "actor_rollout_ref.actor.no_such_key=1")
    assert out.returncode == 1 and "actor_rollout_ref.actor.no_such_key" in out.stderr
    out = compose_script(verl_python, "grpo_1.5b.sh", tmp_path,
                         "+reward.custom_reward_function.reward_kwargs.reward.min_chars=3")
    assert out.returncode == 1 and "unknown key(s) min_chars" in out.stderr  # the kit's keys are checked too
