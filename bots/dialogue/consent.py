"""Recording consent: the line said before the first question, and the words of a reply.

Where the bot records, its consent line is said first and the caller's reply decides
whether the rest of the call is recorded (docs/recordings.md).
"""
from __future__ import annotations

DEFAULT_CONSENT_LINE = "This call is recorded so we can check your answers."
CONSENT_QUESTION = "Is that all right with you?"  # added to a consent line that asks nothing
CONSENT_REASK = "Sorry, may we record this call? Please say yes or no."
CONSENT_THANKS = "Thank you."
CONSENT_REFUSED = "Understood, this call is not being recorded."
# Replies in the consent's own terms ("I don't mind" is yes; a negation flips them).
CONSENT_YES = ("agree", "go ahead", "fine", "okay", "ok", "sure", "no problem", "i don't mind", "alright", "all right")
CONSENT_NO = ("do not record", "dont record", "don't record", "no recording", "stop recording", "not recorded",
              "rather not", "disagree")
CONSENT_REASKS = 1  # unclear replies asked again; after that the call goes on unrecorded



def consent_text(line: str) -> str:
    """A consent line as said: the bot's own (or the default), asking for a reply."""
    line = (line or DEFAULT_CONSENT_LINE).strip()
    return line if line.endswith("?") else f"{line} {CONSENT_QUESTION}"
