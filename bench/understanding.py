"""Measure answer understanding against the labelled corpus.

Run from the repo root: `.venv/bin/python bench/understanding.py [corpus.jsonl]`.
Prints accuracy, every miss (so a regression is visible, not just a number)
and the per-utterance time, which must stay far below the latency budget of
a voice turn. The scoring rule is shared with the test suite so the number
printed here is the number the test asserts on.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bots.seed import BOTS  # noqa: E402
from bots.understanding import Reading, place_names, split_phrases, split_places, understand  # noqa: E402
from calls.percentile import percentile  # noqa: E402

DEFAULT_CORPUS = ROOT / "tests" / "data" / "understanding_corpus.jsonl"


def load(path: Path) -> list[dict]:
    """Corpus items, one JSON object per non-blank line."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


# "<bot slug>/<question key>" -> the shipped question's answer phrases.
_SHIPPED = {f"{b['slug']}/{q['key']}": q for b in BOTS for q in b["questions"]}


def read(item: dict) -> Reading:
    """Understand one corpus item; items naming a shipped question ("question":
    "quickrupee-loan/salaried") use that question's answer phrases and places too."""
    q = _SHIPPED[item["question"]] if "question" in item else {}
    return understand(item["text"], kind=item.get("kind", "yes_no"), period=item.get("period", ""),
                      unit=item.get("unit", ""), language=item.get("language", "en"),
                      yes_phrases=split_phrases(q.get("yes_phrases", "")),
                      no_phrases=split_phrases(q.get("no_phrases", "")),
                      accepted_places=place_names(split_places(q.get("accepted_places", ""))),
                      other_places=place_names(split_places(q.get("other_places", ""))))


def matches(reading: Reading, expect: dict) -> bool:
    """Every expected field matches; amounts within 0.5 % (or 0.01 near zero).

    Expecting a yes/no, an amount or a relation implies intent "answer".
    """
    got = asdict(reading)
    if "intent" not in expect and reading.intent != "answer":
        return False
    for key, want in expect.items():
        have = got[key]
        if key == "amount":
            if have is None or want is None:
                if have is not want:
                    return False
            elif abs(have - want) > max(0.005 * abs(want), 0.01):
                return False
        elif have != want:
            return False
    return True


def evaluate(items: list[dict]) -> tuple[float, list[tuple[dict, Reading]]]:
    """Accuracy in [0, 1] and the misses."""
    misses = [(item, r) for item in items if not matches(r := read(item), item["expect"])]
    return (1 - len(misses) / len(items)) if items else 0.0, misses


def timing(items: list[dict], rounds: int = 20) -> tuple[float, float]:
    """Mean and p99 microseconds per utterance."""
    samples = []
    for _ in range(rounds):
        for item in items:
            t0 = time.perf_counter()
            read(item)
            samples.append((time.perf_counter() - t0) * 1e6)
    return sum(samples) / len(samples), percentile(samples, 99)


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else DEFAULT_CORPUS
    items = load(path)
    accuracy, misses = evaluate(items)
    for item, reading in misses:
        print(f"MISS [{item['kind']}/{item.get('period', '')}/{item.get('unit', '')}] "
              f"{item['text']!r}: expected {item['expect']}, got {asdict(reading)}")
    mean, p99 = timing(items)
    print(f"corpus: {path.name}, {len(items)} utterances")
    print(f"accuracy: {accuracy:.1%} ({len(items) - len(misses)}/{len(items)})")
    print(f"time per utterance: mean {mean:.0f} us, p99 {p99:.0f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
