"""Which recognition hint lets short yes/no answers survive recognition?

Run from the repo root: `.venv/bin/python bench/short_answers.py [--voices kal16,awb,rms,slt]`.
Every yes/no answer of the held-out set (one-word answers, places, occupations, home
ownership) is spoken by flite and recognised whole (push-to-talk-like) with each candidate
hint for its question, then read by the shipped dialogue (bench/heldout.py's scoring).
Prints answers right per hint and voice, one-word answers separately: the hint the
product uses (`asr_hint`) was chosen with this.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from heldout import VOICES, Ear, at_question, handle, load_items, load_scripts, verdict  # noqa: E402


# Candidate short-answer parts of a yes/no question's hint (after any place names);
# "product" is what the live call does (asr_hint with the utterance's length).
HINTS = {
    "product": None,
    "prompt": "",
    "words": " Yes. No. Yep. Nope. Haan. Nahi.",
    "sentences": " Yes, I am. No, I'm not. Yep. Nope. Haan ji. Nahi.",
}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--voices", default=",".join(VOICES))
    ap.add_argument("--hints", default="product,prompt,sentences")
    args = ap.parse_args(argv[1:])
    scripts = load_scripts()
    items = [i for i in load_items() if i["cls"] in ("oneword", "place", "occupation", "ownership")]
    ear = Ear()
    for name in args.hints.split(","):
        for voice in args.voices.split(","):
            score: Counter = Counter()
            for item in items:
                slug, key = item["q"].split("/")
                d = at_question(scripts[slug], key)
                heard = ear.hear(item["text"], voice, "ptt", d.question, HINTS[name])
                ok = verdict(item, d, handle(d, heard, use_confidence=False)) == "right"  # recognition alone
                score["all"] += ok
                score["n"] += 1
                if item["cls"] == "oneword":
                    score["one"] += ok
                    score["one_n"] += 1
            print(f"hint {name:9s} {voice:5s}: yes/no answers right {score['all']}/{score['n']}, "
                  f"one-word {score['one']}/{score['one_n']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
