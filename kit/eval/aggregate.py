"""The paper's aggregation of scored predictions into ``metrics.json`` (percentages 0-100).

MMATH, per language: for each sample index, each data source's percentage (AIME2024, AIME2025, CNMO,
MATH500), averaged over the sources; then the mean over sample indices.

PolyMath, per language: for each sample index, each level's percentage rounded to 2 decimals (as the
authors' ``run_eval``); then DW-Acc = (1·low + 2·medium + 4·high + 8·top) / 15 for ``acc`` and ``lc_acc``
and the plain mean of the levels for ``lc``, ``think_lc`` and ``answer_lc``, each rounded to 2 decimals;
then the mean over sample indices, rounded to 2 decimals. With only some levels present (``--levels``) the
weights of the present levels are renormalized (``/ sum of their weights``), which the paper never does.

Averages: ``id_avg`` over the in-domain languages present (ja ko fr pt th), ``ood_avg`` over the
out-of-domain ones present (en es ar vi zh), ``all_avg`` over every language present; ``null`` when none
is present.
"""

from __future__ import annotations

from collections import defaultdict
from statistics import mean

from kit.data.benchmarks import MMATH_SOURCES, POLYMATH_LEVELS, Bench
from kit.enums import coerce
from kit.eval.score import ScoredPrediction
from kit.languages import IN_DOMAIN, OUT_OF_DOMAIN

METRICS: tuple[str, ...] = ("acc", "lc", "lc_acc", "think_lc", "answer_lc")
# Difficulty weights of PolyMath's DW-Acc: 2^k for low, medium, high, top.
LEVEL_WEIGHTS = {level: 2 ** k for k, level in enumerate(POLYMATH_LEVELS)}
WEIGHTED_METRICS = ("acc", "lc_acc")


def _percent(records: list[ScoredPrediction], metric: str) -> float:
    return 100.0 * sum(bool(getattr(r, metric)) for r in records) / len(records)


def _by(records, key) -> dict:
    groups: dict = defaultdict(list)
    for r in records:
        groups[key(r)].append(r)
    return groups


def _mmath_sample(records: list[ScoredPrediction]) -> dict[str, float]:
    sources = _by(records, lambda r: r.group)
    order = [s for s in MMATH_SOURCES if s in sources] + sorted(set(sources) - set(MMATH_SOURCES))
    return {m: mean(_percent(sources[s], m) for s in order) for m in METRICS}


def _polymath_sample(records: list[ScoredPrediction]) -> dict[str, float]:
    levels = _by(records, lambda r: r.group)
    present = [lv for lv in POLYMATH_LEVELS if lv in levels]
    per_level = {lv: {m: round(_percent(levels[lv], m), 2) for m in METRICS} for lv in present}
    total_weight = sum(LEVEL_WEIGHTS[lv] for lv in present)
    out = {}
    for m in METRICS:
        if m in WEIGHTED_METRICS:
            out[m] = round(sum(LEVEL_WEIGHTS[lv] * per_level[lv][m] for lv in present) / total_weight, 2)
        else:
            out[m] = round(sum(per_level[lv][m] for lv in present) / len(present), 2)
    return out


def language_metrics(records: list[ScoredPrediction], bench: str) -> dict:
    """One language's metrics: the per-sample aggregation, then the mean over sample indices."""
    per_sample = _by(records, lambda r: r.sample)
    sample_fn = _mmath_sample if bench == Bench.mmath.value else _polymath_sample
    samples = [sample_fn(per_sample[s]) for s in sorted(per_sample)]
    digits = 4 if bench == Bench.mmath.value else 2  # the precision the authors' scripts print
    out = {m: round(mean(s[m] for s in samples), digits) for m in METRICS}
    out["n"] = len(records)
    out["samples"] = len(samples)
    # what the run covered, so a comparison with the paper can say where it covers less
    out["problems"] = len({r.id for r in records})
    out["groups"] = {group: len({r.id for r in rs}) for group, rs in _by(records, lambda r: r.group).items()}
    return out


def average(languages: dict[str, dict], codes) -> dict | None:
    """The plain mean over the languages of ``codes`` present (the paper's ID/OOD/ALL averages), of each
    metric they all have (a paper row has no think_lc/answer_lc); ``None`` when none is present."""
    present = [c for c in codes if c in languages]
    if not present:
        return None
    keys = [m for m in METRICS if all(m in languages[c] for c in present)]
    return {**{m: round(mean(languages[c][m] for c in present), 4) for m in keys}, "languages": present}


def aggregate(scored: list[ScoredPrediction], bench: str, lid: str, id_langs=None) -> dict:
    """The ``metrics.json`` object for ``scored`` (all of one benchmark).

    ``id_langs``: the in-domain set (default the paper's ja ko fr pt th, with OOD en es ar vi zh); when
    given, every other language present counts as out-of-domain.
    """
    bench = coerce(Bench, bench, "--bench").value
    other = {s.bench for s in scored} - {bench}
    if other:
        raise ValueError(f"cannot aggregate {', '.join(sorted(other))} predictions as {bench}")
    by_lang = _by(scored, lambda r: r.lang)
    in_domain = tuple(id_langs) if id_langs else IN_DOMAIN
    out_of_domain = tuple(c for c in (*OUT_OF_DOMAIN, *sorted(by_lang)) if c not in in_domain) if id_langs \
        else OUT_OF_DOMAIN
    out_of_domain = tuple(dict.fromkeys(out_of_domain))
    order = [c for c in (*in_domain, *out_of_domain) if c in by_lang] + sorted(
        set(by_lang) - set(in_domain) - set(out_of_domain))
    languages = {lang: language_metrics(by_lang[lang], bench) for lang in order}
    return {
        "bench": bench,
        "lid": str(getattr(lid, "value", lid)),
        "n_predictions": len(scored),
        "languages": languages,
        "id_avg": average(languages, in_domain),
        "ood_avg": average(languages, out_of_domain),
        "all_avg": average(languages, order),
    }
