"""The dialogue engine: pure Python, no I/O, no Django (an import-linter contract holds it).

From a bot's script, the answers so far and a new caller utterance it decides what to
record and what the bot says next. The voice pipeline (calls.runtime), the typed-answer
path and bots.models (which builds a Script from the admin's rows) import it; it imports
only bots.understanding.

- `script`: QuestionSpec and Script, what the engine runs on;
- `engine`: Dialogue, the rules of a call (re-asks, checks, repeats, silence, consent);
- `decisions`: what it returns (Decision, AnswerRecord) and why a call ended (REASON_*);
- `thresholds`: does an amount qualify; `hints`: what the recogniser is primed with;
- `consent`: the recording consent line and the words of a reply.
"""
from bots.dialogue.consent import CONSENT_REASK, DEFAULT_CONSENT_LINE, consent_text
from bots.dialogue.decisions import (REASON_DISCONNECTED, REASON_DO_NOT_CALL, REASON_HANGUP, REASON_QUALIFIED,
                                     REASON_SHUTDOWN, REASON_SILENT, REASON_TIMEOUT, REASON_TOO_MANY_TURNS,
                                     AnswerRecord, Decision, StoredAnswer)
from bots.dialogue.engine import FREE_REPEATS, KEYPAD_ANSWERS, MAX_TURNS, OPT_OUT_KEY, SILENCE_REMINDERS, Dialogue
from bots.dialogue.hints import SHORT_ANSWER_S, YES_NO_HINT, asr_hint, example_answer
from bots.dialogue.script import QuestionSpec, Script

__all__ = [
    "CONSENT_REASK", "DEFAULT_CONSENT_LINE", "FREE_REPEATS", "KEYPAD_ANSWERS", "MAX_TURNS", "OPT_OUT_KEY",
    "REASON_DISCONNECTED", "REASON_DO_NOT_CALL", "REASON_HANGUP", "REASON_QUALIFIED", "REASON_SHUTDOWN",
    "REASON_SILENT", "REASON_TIMEOUT", "REASON_TOO_MANY_TURNS",
    "SHORT_ANSWER_S", "SILENCE_REMINDERS", "YES_NO_HINT", "AnswerRecord", "Decision", "Dialogue", "QuestionSpec",
    "Script", "StoredAnswer", "asr_hint", "consent_text", "example_answer",
]
