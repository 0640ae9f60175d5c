"""Precision and recall of the recurring-stream detector on the labelled synthetic corpus.

Usage: ``.venv/bin/python bench/recurring_eval.py [PROFILES] [SEED]`` (defaults: 300 profiles
and the corpus's fixed seed). Prints one row per frequency (true positives, false positives,
false negatives, precision, recall) and the overall numbers, and writes them to
``bench/recurring_results.json``. The same arguments always give the same file.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from operators.recurring_corpus import (
    DEFAULT_PROFILES,
    DEFAULT_SEED,
    MATCH_JACCARD,
    evaluate,
    generate_corpus,
)

RESULTS = Path(__file__).with_name("recurring_results.json")


def table(report: dict[str, Any]) -> str:
    header = f"{'frequency':<14}{'TP':>7}{'FP':>6}{'FN':>6}{'precision':>11}{'recall':>8}"
    rows = [header, "-" * len(header)]
    scored = [*report["frequencies"].items(), ("overall", report["overall"])]
    for name, s in scored:
        rows.append(
            f"{name:<14}{s['true_positives']:>7}{s['false_positives']:>6}"
            f"{s['false_negatives']:>6}{s['precision']:>11.3f}{s['recall']:>8.3f}"
        )
    return "\n".join(rows)


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PROFILES
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else DEFAULT_SEED
    started = time.perf_counter()
    profiles = generate_corpus(count, seed)
    report = evaluate(profiles)
    elapsed = time.perf_counter() - started
    transactions = sum(len(p.points) for p in profiles)
    streams = sum(len(p.truth) for p in profiles)
    print(
        f"{count} profiles (seed {seed}), {transactions} transactions, {streams} true streams; "
        f"a match needs the same frequency and a Jaccard index >= {MATCH_JACCARD}"
    )
    print(table(report))
    print(f"generated and evaluated in {elapsed:.1f}s")
    document = {"seed": seed, "match_jaccard": MATCH_JACCARD, **report}
    RESULTS.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
