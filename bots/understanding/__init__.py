"""Answer understanding: what did the caller mean?

The dialogue engine asks scripted questions of two kinds: yes/no ("Are you a
salaried employee?") and threshold questions about a quantity ("Is your
monthly salary more than twenty-five thousand rupees?", "Are you planning to
start within the next three months?"). Callers answer in free speech, and the
text we get is an ASR transcript (Whisper punctuates, capitalises, writes
"$40,000." or "Rs. 30,000/-") or a typed line. This package turns one such
utterance into a `Reading`: yes/no polarity, a quantity normalised to the
question's period and unit, a relative answer ("more than that"), or the
caller asking to hear the question again.

Why a small grammar and not keyword lookup: answers are open-ended ("I don't
think so", "absolutely not", "of course I'm not", "one lakh twenty-five
thousand", "six lakh a year" to a monthly question, "a month or two"), and a
word list gets negation scope, hedges and number composition wrong.

What lives where, from the bottom up (a module imports only modules above it here):

- `tokens`: spoken forms. Lower case, currency symbols to words, digit grouping
  commas removed, contractions expanded ("don't" -> "do not"), digits split from
  suffixes ("40k" -> "40 k"), a few Devanagari words transliterated; clause boundaries;
  the shared phrase-index and skip helpers.
- `units`: currency and time-span words, `unit_kind()` of a question's unit.
- `numbers`: the number grammar (digits, English number words, Hindi numbers
  before a scale, hundred/thousand/lakh/crore/million, "a", "half a", "and a
  half", "point five", ranges at their midpoint); `parse_number()`.
- `comparisons`: "more than that", "not even 20", "at least a lakh".
- `polarity`: what counts as a yes, a no, a hedge ("maybe", "I'm not sure") or a
  request to repeat, negation scoped to its clause, and the resolution of all of
  them into one yes/no.
- `evidence`: what is no evidence of an answer (a recogniser's garbles: a "not"
  before a phrase that means no, "not 30,000", "six like a year").
- `phrases`: the question's own answer phrases ("self employed", "my own *"),
  negation applied; `split_phrases()`.
- `places`: place lists (`split_places()`, `place_names()`) and "I live in X"
  naming no known place.
- `money`: which quantity is the amount (see `money._pick_money` for the rule)
  and its period converted to the question's.
- `durations`: "next month", "in six weeks", "a month or two" in the question's
  time unit.
- `spoken_amounts`: the other direction, an amount as words for the bot to say.
- `opt_out`: `opts_out()`, a caller asking never to be called again (any question).
- `reading`: `Reading` and `understand()`, the only module that combines the
  readers above (and the only one that knows their order).

Who may import it: the package is pure Python with no Django and no `calls` import
(the `pure-dialogue` contract in `.importlinter`, checked by tests/test_layers.py).
Anything may import it, through the names below: `bots.dialogue`, the admin and
models (to split staff-written lists), tests and benches.

Everything is pure Python over short token lists, so one utterance takes a few tens
of microseconds (see bench/understanding.py).
"""
from __future__ import annotations

from bots.understanding.numbers import parse_number
from bots.understanding.opt_out import opts_out
from bots.understanding.phrases import split_phrases
from bots.understanding.places import place_names, split_places
from bots.understanding.reading import Reading, understand
from bots.understanding.spoken_amounts import spoken_amount
from bots.understanding.units import unit_kind

__all__ = ["Reading", "understand", "opts_out", "parse_number", "spoken_amount", "split_phrases", "split_places", "place_names",
           "unit_kind"]
