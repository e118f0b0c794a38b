"""Runs inside .venv-verl: verl's own reward path scores responses to rows of the kit's exported parquet.

The config is composed with Hydra from verl's ``ppo_trainer.yaml`` (the overrides name the kit's reward
file, ``compute_score`` and the reward_kwargs); verl's ``RLHFDataset`` reads the parquet; the batch has the
layout verl's agent loop hands to the reward (left-padded ``prompts``, right-padded ``responses`` ending in
EOS, ``attention_mask`` over both); ``RewardLoopWorker`` (what each of the trainer's Ray reward actors runs)
builds the reward manager from the config with ``load_reward_manager`` and scores the batch; the manager
class assembles verl's reward tensor (``rm_scores``: the score at each response's last token).

    python tests/support/verl_reward_manager.py SPEC.json OUT.json
    SPEC: {"overrides": [...], "parquet": PATH, "responses": [{"row": 0, "text": "..."}, ...]}
    OUT:  {"rm_scores": [[...]], "valid_lengths": [...], "decoded": [...], "extra_info": [...]}
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch


def build_batch(config, tokenizer, parquet: str, responses: list[dict]):
    from verl import DataProto
    from verl.utils.dataset.rl_dataset import RLHFDataset, collate_fn

    dataset = RLHFDataset(data_files=[parquet], tokenizer=tokenizer, config=config.data)
    rows = collate_fn([dataset[r["row"]] for r in responses])
    prompts = [tokenizer(tokenizer.apply_chat_template(list(chat), add_generation_prompt=True, tokenize=False),
                         add_special_tokens=False)["input_ids"] for chat in rows["raw_prompt"]]
    answers = [tokenizer(r["text"], add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
               for r in responses]
    p_len, r_len, pad = max(map(len, prompts)), max(map(len, answers)), tokenizer.pad_token_id
    prompt_ids = torch.tensor([[pad] * (p_len - len(p)) + p for p in prompts])
    prompt_mask = torch.tensor([[0] * (p_len - len(p)) + [1] * len(p) for p in prompts])
    response_ids = torch.tensor([a + [pad] * (r_len - len(a)) for a in answers])
    response_mask = torch.tensor([[1] * len(a) + [0] * (r_len - len(a)) for a in answers])
    tensors = {"prompts": prompt_ids, "responses": response_ids, "response_mask": response_mask,
               "input_ids": torch.cat([prompt_ids, response_ids], dim=1),
               "attention_mask": torch.cat([prompt_mask, response_mask], dim=1)}
    non_tensors = {k: v for k, v in rows.items() if not isinstance(v, torch.Tensor)}
    return DataProto.from_dict(tensors=tensors, non_tensors=non_tensors)


def main(spec_path: str, out_path: str) -> None:
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker
    from verl.trainer.ppo.reward import resolve_reward_manager_cls
    from verl.utils import hf_tokenizer

    sys.path.insert(0, str(Path(__file__).parent))
    from verl_compose import compose

    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    config = compose(spec["overrides"])
    tokenizer = hf_tokenizer(config.actor_rollout_ref.model.path)
    data = build_batch(config, tokenizer, spec["parquet"], spec["responses"])

    worker = RewardLoopWorker(config)  # loads the tokenizer and the reward manager from the config
    outputs = worker.loop.run_until_complete(worker.compute_score_batch(data))
    scores = [out["reward_score"] for out in outputs]
    rm_scores = resolve_reward_manager_cls(config).assemble_rm_scores(data, scores)

    valid = data.batch["response_mask"].sum(dim=1)
    decoded = [tokenizer.decode(ids[:n], skip_special_tokens=True) for ids, n in zip(data.batch["responses"], valid)]
    result = {"rm_scores": rm_scores.tolist(), "valid_lengths": valid.tolist(), "decoded": decoded,
              "extra_info": [{k: v for k, v in dict(e).items() if k in ("id", "en_question", "en_answer")}
                             for e in data.non_tensor_batch["extra_info"]],
              "manager": type(worker.reward_manager).__name__}
    Path(out_path).write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:3])
