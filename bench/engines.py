"""Measure the offline speech engines on this machine: ASR speed/accuracy, TTS first audio, VAD cost.

Run from the repo root: `.venv/bin/python bench/engines.py [--beams 1,5] [--rounds 5]`.

ASR: ~20 short answers to the seeded bots' questions, spoken by espeak-ng in
several voices, transcribed with the question as the prompt (as the pipeline
does), then read by the real answer reader (bots.understanding). "Right
answers" is the share whose value (yes/no, amount) comes out right; "word
accuracy" is 1 - WER against the reference written the way Whisper spells
numbers. Times are per utterance, model warm, one at a time.
TTS: time to the first chunk and to the end, for a short reply and a
12-word question, Piper and espeak-ng. VAD: microseconds per 32 ms window.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
warnings.filterwarnings("ignore", message="SECRET_KEY is not set")

import django  # noqa: E402

django.setup()
logging.getLogger("faster_whisper").setLevel(logging.WARNING)

from bots.dialogue import QuestionSpec, asr_hint  # noqa: E402
from bots.seed import BOTS  # noqa: E402
from bots.understanding import place_names, split_phrases, understand  # noqa: E402
from calls.percentile import percentile  # noqa: E402
from calls.providers.espeak_tts import EspeakTTS  # noqa: E402
from calls.providers.local_whisper import LocalWhisperASR  # noqa: E402
from calls.providers.piper_tts import PiperTTS, load_voice  # noqa: E402
from calls.providers.silero_vad import SileroVAD  # noqa: E402
from devtools.speech import say, silence  # noqa: E402

SALARIED = ("Are you a salaried employee?", "yes_no", "", "")
SALARY = ("Is your monthly salary more than twenty-five thousand rupees?", "amount", "month", "rupees")
METRO = ("Do you live in a metro city, such as Delhi, Mumbai, Bengaluru, Chennai, Kolkata or Hyderabad?", "yes_no", "", "")
OWNS = ("Do you own your home?", "yes_no", "", "")
BUDGET = ("Is your renovation budget more than ten thousand dollars?", "amount", "", "dollars")
START = ("Are you planning to start within the next three months?", "amount", "", "months")

# (spoken, reference as Whisper writes it, question, expected reading)
ANSWERS: list[tuple[str, str, tuple[str, str, str, str], dict]] = [
    ("yes I am", "yes i am", SALARIED, {"yes_no": True}),
    ("no", "no", SALARIED, {"yes_no": False}),
    ("yes", "yes", OWNS, {"yes_no": True}),
    ("no I am not", "no i am not", SALARIED, {"yes_no": False}),
    ("yeah I do", "yeah i do", METRO, {"yes_no": True}),
    ("no we rent", "no we rent", OWNS, {"yes_no": False}),
    ("yes I live in Mumbai", "yes i live in mumbai", METRO, {"yes_no": True}),
    ("I am self employed", "i am self employed", SALARIED, {"yes_no": False}),
    ("about forty thousand a month", "about 40000 a month", SALARY, {"amount": 40000}),
    ("fifteen thousand dollars", "15000 dollars", BUDGET, {"amount": 15000}),
    ("thirty thousand rupees", "30000 rupees", SALARY, {"amount": 30000}),
    ("twenty thousand", "20000", SALARY, {"amount": 20000}),
    ("around fifty thousand", "around 50000", SALARY, {"amount": 50000}),
    ("eight thousand dollars", "8000 dollars", BUDGET, {"amount": 8000}),
    ("twenty five thousand dollars", "25000 dollars", BUDGET, {"amount": 25000}),
    ("in two months", "in 2 months", START, {"amount": 2}),
    ("six months", "6 months", START, {"amount": 6}),
    ("next month", "next month", START, {"amount": 1}),
    ("sure", "sure", OWNS, {"yes_no": True}),
    ("not really", "not really", METRO, {"yes_no": False}),
]
VOICES = ("en-us", "en-gb-x-rp", "en+m3", "en+f3", "en")

SHORT_LINE = "Great, thanks."
TWELVE_WORDS = "Is your monthly salary more than twenty-five thousand rupees, before tax and deductions?"


_SMALL = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
_SMALL.update({w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)})
_SCALES = {"thousand": 1000, "lakh": 100_000, "million": 1_000_000}
_CONTRACTIONS = {"i'm": "i am", "we're": "we are", "don't": "do not", "it's": "it is"}


def normalize(text: str) -> list[str]:
    """Words for WER: lower case, no punctuation, contractions expanded, numbers as digits
    ("Twenty-five thousand" and "25,000" both -> "25000", "$8,000" -> "8000 dollars"),
    so only real mistakes count."""
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text.lower()).replace("-", " ")
    text = re.sub(r"\$(\d+)", r"\1 dollars", text)  # "$15,000" is "15000 dollars"
    words = " ".join(_CONTRACTIONS.get(w, w) for w in re.sub(r"[^a-z0-9' ]", " ", text).split()).split()
    out: list[str] = []
    total = current = 0
    in_number = False
    for word in [*words, ""]:
        if word.isdigit() or word in _SMALL:
            current += int(word) if word.isdigit() else _SMALL[word]
        elif in_number and word == "hundred":
            current = (current or 1) * 100
        elif in_number and word in _SCALES:
            total, current = total + (current or 1) * _SCALES[word], 0
        else:
            if in_number:
                out.append(str(total + current))
                total = current = 0
            in_number = False
            if word:
                out.append(word)
            continue
        in_number = True
    return out


def word_errors(ref: list[str], hyp: list[str]) -> int:
    """Levenshtein distance over words."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i]
        for j, h in enumerate(hyp, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h)))
        prev = cur
    return prev[-1]


def _shipped_questions() -> dict[str, QuestionSpec]:
    """Each shipped question by prompt, with its phrases and places, as the live dialogue reads it."""
    from bots.understanding import split_places

    fields = set(QuestionSpec.__dataclass_fields__)
    out = {}
    for bot in BOTS:
        for q in bot["questions"]:
            spec = {k: v for k, v in q.items() if k in fields}
            for k in ("yes_phrases", "no_phrases"):
                spec[k] = split_phrases(q.get(k, ""))
            for k in ("accepted_places", "other_places"):
                spec[k] = split_places(q.get(k, ""))
            for k in ("threshold", "plausible_min", "plausible_max"):
                if spec.get(k) is not None:
                    spec[k] = float(spec[k])
            out[q["prompt"]] = QuestionSpec(**spec)
    return out


SHIPPED = _shipped_questions()


def right(text: str, question: tuple[str, str, str, str], expect: dict) -> bool:
    prompt, kind, period, unit = question
    q = SHIPPED.get(prompt, QuestionSpec(key="q", prompt=prompt))
    reading = understand(text, kind=kind, period=period, unit=unit, yes_phrases=q.yes_phrases,
                         no_phrases=q.no_phrases, accepted_places=place_names(q.accepted_places),
                         other_places=place_names(q.other_places))
    return all(getattr(reading, k) == v for k, v in expect.items())


def hint_for(question: tuple[str, str, str, str], pcm: bytes | None = None) -> str:
    """The recogniser's prompt for this question and utterance (16 kHz PCM: its length
    decides the short-answer part), as the live pipeline builds it."""
    prompt, kind, period, unit = question
    spec = SHIPPED.get(prompt) or QuestionSpec(key="q", prompt=prompt, kind=kind, period=period, unit=unit)
    return asr_hint(spec, None if pcm is None else len(pcm) / 32000)


def bench_asr(beams: list[int], clips: list[tuple[bytes, tuple, str]], *, hint: bool = True) -> None:
    """Each clip goes through every beam size in turn, so load from other processes hits all alike."""
    engines = {beam: LocalWhisperASR(beam_size=beam) for beam in beams}
    results: dict[int, list[tuple[float, bool, int, int, str]]] = {beam: [] for beam in beams}
    for asr in engines.values():
        asr.transcribe_sync(silence(500))
    for pcm, (spoken, ref, question, expect), voice in clips:
        for beam, asr in engines.items():
            t0 = time.perf_counter()
            text = asr.transcribe_sync(pcm, hint=hint_for(question, pcm) if hint else "").text
            ms = (time.perf_counter() - t0) * 1000
            ok = right(text, question, expect)
            ref_words = normalize(ref)
            miss = ""
            if not ok:
                blame = "ASR" if right(spoken, question, expect) else "reader (misreads the spoken words too)"
                miss = f"    miss [{voice}] {spoken!r} -> {text!r}: {blame}"
            results[beam].append((ms, ok, word_errors(ref_words, normalize(text)), len(ref_words), miss))
    audio_s = sum(len(c[0]) for c in clips) / 32000 / len(clips)
    for beam, rows in results.items():
        times = [r[0] for r in rows]
        correct = sum(r[1] for r in rows)
        word_acc = 1 - sum(r[2] for r in rows) / sum(r[3] for r in rows)
        print(
            f"ASR beam={beam}{'' if hint else ' (no hint)'}: p50 {statistics.median(times):.0f} ms, "
            f"p95 {percentile(times, 95):.0f} ms (mean clip {audio_s:.1f} s), right answers {correct}/{len(rows)} "
            f"= {correct / len(rows):.1%} (misses caused by ASR: {sum(': ASR' in r[4] for r in rows)}), "
            f"word accuracy {word_acc:.1%}"
        )
        print("\n".join(r[4] for r in rows if r[4]) or "    no misses")


async def first_and_total(tts, text: str) -> tuple[float, float]:
    start = time.perf_counter()
    first = None
    async for _ in tts.synthesize(text):
        if first is None:
            first = time.perf_counter()
    end = time.perf_counter()
    return (first - start) * 1000, (end - start) * 1000


async def bench_tts(rounds: int) -> None:
    piper = PiperTTS()
    load_voice(piper.voice_path)
    for tts in (piper, EspeakTTS(sample_rate=piper.sample_rate)):
        await tts.warmup()
        for label, line in (("short", SHORT_LINE), ("12-word", TWELVE_WORDS)):
            runs = [await first_and_total(tts, line) for _ in range(rounds)]
            first = statistics.median(r[0] for r in runs)
            total = statistics.median(r[1] for r in runs)
            print(f"TTS {tts.name:6s} {label:7s}: first chunk {first:.0f} ms, total {total:.0f} ms")


def bench_vad(windows: int = 3000) -> None:
    vad = SileroVAD()
    stream = vad.new_stream()
    pcm = say("about forty thousand a month") + silence(500)
    wins = [pcm[i : i + 1024] for i in range(0, len(pcm) - 1023, 1024)]
    for w in wins[:10]:
        stream.probability(w)
    t0 = time.perf_counter()
    for i in range(windows):
        stream.probability(wins[i % len(wins)])
    per = (time.perf_counter() - t0) / windows * 1e6
    print(f"VAD silero: {per:.0f} us per 512-sample window ({per / 32000:.2%} of real time)")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beams", default="1,5", help="comma-separated beam sizes to compare")
    parser.add_argument("--rounds", type=int, default=5, help="TTS repetitions per line")
    parser.add_argument("--all-voices", action="store_true", help="every answer in every voice (100 clips)")
    parser.add_argument("--no-hint", action="store_true", help="transcribe without the question as prompt")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: asr,tts,vad")
    args = parser.parse_args(argv[1:])
    skip = set(filter(None, args.skip.split(",")))
    if "asr" not in skip:
        pairs = (
            [(a, v) for a in ANSWERS for v in VOICES]
            if args.all_voices
            else [(a, VOICES[i % len(VOICES)]) for i, a in enumerate(ANSWERS)]
        )
        clips = [(say(a[0], voice=v), a, v) for a, v in pairs]
        bench_asr([int(b) for b in args.beams.split(",")], clips, hint=not args.no_hint)
    if "tts" not in skip:
        asyncio.run(bench_tts(args.rounds))
    if "vad" not in skip:
        bench_vad()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
