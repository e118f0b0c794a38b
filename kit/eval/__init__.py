"""Evaluation on MMATH and PolyMath with the paper's metrics (the benchmarks' problems: kit.data.benchmarks).

    engines     transformers (kit.models + kit.generation), vLLM, OpenAI-compatible server
    baselines   the paper's prompt baselines: prompt-control, dit, qrt
    generate    resumable preds.jsonl
    score       per-prediction LC / accuracy with the kit's parser, LID and verify (the authors' rules)
    aggregate   the paper's per-source / DW-Acc aggregation into metrics.json
    report      Markdown + rich tables, PNG chart;  compare: runs and the paper's rows
    synthetic   predictions built from the benchmark text (scorer check, speed measurement)
"""
