"""Real speech for tests and benches, made when needed with espeak-ng (no audio files in the repo).

espeak-ng is a different synthesizer from the bot's Piper voice and has several
accents and pitches, so ASR and VAD tests hear voices they were not tuned on.
Clips are cached on disk per argument set for the test session, because the
same answers are spoken in many tests.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from calls.audio import read_wav, resample

_CACHE_DIR = Path(tempfile.gettempdir()) / "voicebot-test-speech"
ESPEAK = shutil.which("espeak-ng") or "espeak-ng"
SOX = shutil.which("sox") or "sox"

# Voices that make clearly different speakers (accent, sex, pitch).
VOICES = ("en-us", "en", "en-gb-x-rp", "en+m3", "en+f3", "en-us+f2")


def say(text: str, *, voice: str = "en-us", rate: int = 16000, speed: int = 160, pitch: int | None = None) -> bytes:
    """`text` spoken by espeak-ng as s16le mono PCM at `rate` Hz."""
    args = [ESPEAK, "--stdout", "-v", voice, "-s", str(speed)]
    if pitch is not None:
        args += ["-p", str(pitch)]
    key = hashlib.sha256(repr((args, text, rate)).encode()).hexdigest()
    path = _CACHE_DIR / f"{key}.pcm"
    if path.exists():
        return path.read_bytes()
    wav = subprocess.run([*args, text], check=True, capture_output=True, timeout=30).stdout
    pcm, native = read_wav(wav)
    pcm = resample(pcm, native, rate)
    _CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pcm)
    tmp.replace(path)
    return pcm


def silence(ms: int, rate: int = 16000) -> bytes:
    """Digital silence."""
    return bytes(2 * (rate * ms // 1000))


def noise(ms: int, rate: int = 16000, level: float = 0.05) -> bytes:
    """Pink noise from sox at `level` amplitude (0-1 of full scale); repeatable across runs (-R)."""
    args = [SOX, "-R", "-n", "-r", str(rate), "-b", "16", "-c", "1", "-e", "signed-integer", "-t", "raw", "-"]
    args += ["synth", f"{ms / 1000:.3f}", "pinknoise", "vol", str(level)]
    return subprocess.run(args, check=True, capture_output=True, timeout=30).stdout


def trim_quiet(pcm: bytes, level: int = 300, *, head: bool = True) -> bytes:
    """The clip without espeak-ng's quiet tail (about 350 ms) and, unless `head=False`,
    its quiet head: so "the end of the caller's speech" is the end of the words."""
    samples = np.frombuffer(pcm, dtype="<i2")
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > level)
    if not loud.size:
        return pcm
    return pcm[(loud[0] if head else 0) * 2 : (loud[-1] + 1) * 2]
