"""Bot scripts as data: staff write and edit them in the admin, no code change.

A Bot owns ordered Questions. `Bot.to_script()` turns the rows into the
immutable `bots.dialogue.Script` that the pure dialogue engine runs on.
"""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from bots.dialogue import DEFAULT_CONSENT_LINE


class Bot(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    greeting = models.TextField(help_text="Said once when the call starts, before the first question.")
    qualified_message = models.TextField(help_text="Closing line when every answer qualifies.")
    rejected_message = models.TextField(help_text="Closing line after the first answer that does not qualify.")
    incomplete_message = models.TextField(
        help_text="Closing line when answers stay unclear after the re-asks.",
    )
    still_there_prompt = models.CharField(
        max_length=200, blank=True, default="Are you still there?",
        help_text="When the caller says nothing, said before the question is asked again.",
    )
    silence_message = models.TextField(
        blank=True,
        default="I have not heard from you, so I will end the call here. Please call us again "
        "whenever it suits you. Goodbye.",
        help_text="Closing line when the caller stays silent after that reminder; "
        "blank uses the incomplete line.",
    )
    max_reasks = models.PositiveSmallIntegerField(
        default=2, help_text="How many times an unclear answer is asked again before the call ends."
    )
    language = models.CharField(max_length=16, default="en", help_text="e.g. en, en-IN (Hinglish yes/no).")
    voice = models.CharField(
        max_length=200,
        blank=True,
        help_text="TTS voice: an ElevenLabs voice id, or a Piper .onnx path; blank for the default.",
    )
    callback_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Promised callback time for qualified leads (minutes)."
    )
    qualified_label = models.CharField(
        max_length=40, default="qualified", help_text='How a qualified lead is shown to agents, e.g. "hot lead".'
    )
    transfer_on_qualified = models.BooleanField(
        default=False, help_text="Qualified callers are transferred to a specialist."
    )
    record_calls = models.BooleanField(
        null=True, blank=True, default=None, choices=[(None, "As the server's RECORD_CALLS setting"),
                                                      (True, "Record calls"), (False, "Never record")],
        help_text="Record both sides of each call. A recorded call starts with the consent line; a caller "
        "who does not agree (or presses 2) is not recorded for the rest of the call.",
    )
    consent_line = models.TextField(
        blank=True, default=DEFAULT_CONSENT_LINE,
        help_text="Said before the first question when calls are recorded (blank: the default). "
        "Unless it ends with a question, \"Is that all right with you?\" is added.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if self.active and self.pk and not self.questions.exists():
            raise ValidationError({"active": "An active bot needs at least one question."})

    @property
    def records(self) -> bool:
        """Whether this bot's calls are recorded: its own choice, else RECORD_CALLS."""
        return settings.RECORD_CALLS if self.record_calls is None else self.record_calls

    def to_script(self):
        from bots.dialogue import QuestionSpec, Script

        return Script(
            slug=self.slug,
            name=self.name,
            greeting=self.greeting,
            qualified_message=self.qualified_message,
            rejected_message=self.rejected_message,
            incomplete_message=self.incomplete_message,
            still_there_prompt=self.still_there_prompt,
            silence_message=self.silence_message,
            max_reasks=self.max_reasks,
            language=self.language,
            confirm_below=settings.ASR_CONFIRM_BELOW,
            questions=tuple(q.to_spec() for q in self.questions.all()),
            record=self.records,
            consent_line=self.consent_line,
        )


class Question(models.Model):
    class Kind(models.TextChoices):
        YES_NO = "yes_no", "Yes / no"
        AMOUNT = "amount", "Amount"

    class Comparison(models.TextChoices):
        GT = "gt", "more than"
        GTE = "gte", "at least"
        LT = "lt", "less than"
        LTE = "lte", "at most"

    class Period(models.TextChoices):
        NONE = "", "one-off"
        MONTH = "month", "per month"
        YEAR = "year", "per year"

    bot = models.ForeignKey(Bot, related_name="questions", on_delete=models.CASCADE)
    order = models.PositiveIntegerField(default=0)
    key = models.SlugField(max_length=60, help_text="Stable name of the answer, e.g. salaried.")
    prompt = models.TextField()
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.YES_NO)
    expected = models.BooleanField(
        default=True, help_text="For yes/no questions: the answer that qualifies."
    )
    threshold = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    comparison = models.CharField(max_length=3, choices=Comparison.choices, default=Comparison.GT)
    unit = models.CharField(max_length=20, blank=True, help_text="Currency or unit, e.g. rupees, dollars.")
    period = models.CharField(max_length=5, choices=Period.choices, blank=True, default="")
    reask_prompt = models.TextField(
        blank=True, help_text="Said when the answer was unclear; blank repeats the prompt."
    )
    confirm_margin = models.FloatField(
        default=0.2,
        help_text="Amounts within this fraction of the threshold are confirmed before deciding "
        "(speech recognition confuses fifteen and fifty). 0 turns confirmation off.",
    )
    yes_phrases = models.TextField(
        blank=True,
        help_text="Answers in this question's own terms that mean yes, one per line or "
        "comma-separated (e.g. salaried, I work for a company). A negation flips them "
        "(\"I'm not salaried\"); the longest match wins (\"self employed\" over \"employed\").",
    )
    no_phrases = models.TextField(
        blank=True,
        help_text="Answers that mean no, e.g. self employed, business, student, we rent.",
    )
    accepted_places = models.TextField(
        blank=True,
        help_text="For a question about where the caller lives: the places that qualify, one per "
        "line, each with its other names after commas (e.g. Bengaluru, Bangalore). \"I live in X\" "
        "is yes only for these; the names also prime speech recognition.",
    )
    other_places = models.TextField(
        blank=True,
        help_text="Known places that do not qualify, same format (e.g. Jaipur, Pink City). "
        "\"I live in X\" is no for these, and re-asked for a place on neither list.",
    )
    plausible_min = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True,
        help_text="Amount questions: smaller answers are taken as misheard and asked again "
        "(e.g. 1000 for a monthly salary in rupees). Blank: no lower bound.",
    )
    plausible_max = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True,
        help_text="Amount questions: larger answers are asked again. Blank: no upper bound.",
    )

    class Meta:
        ordering = ["bot", "order", "id"]
        constraints = [models.UniqueConstraint(fields=["bot", "key"], name="unique_question_key_per_bot")]

    def __str__(self) -> str:
        return f"{self.bot.slug}:{self.key}"

    def clean(self) -> None:
        super().clean()
        errors: dict[str, str] = {}
        if self.kind == self.Kind.AMOUNT:
            if self.threshold is None:
                errors["threshold"] = "An amount question needs a threshold."
            elif self.threshold <= Decimal(0):
                errors["threshold"] = "The threshold must be above zero."
        low, high = self.plausible_min, self.plausible_max
        if (low is not None or high is not None) and self.kind != self.Kind.AMOUNT:
            errors["plausible_min"] = "A plausible range is for amount questions."
        elif low is not None and low < Decimal(0):
            errors["plausible_min"] = "The smallest plausible amount cannot be negative."
        elif low is not None and high is not None and low >= high:
            errors["plausible_max"] = "The largest plausible amount must be above the smallest."
        elif self.threshold is not None and (
            (low is not None and self.threshold < low) or (high is not None and self.threshold > high)
        ):
            errors["threshold"] = "The threshold must lie within the plausible range."
        if (self.accepted_places.strip() or self.other_places.strip()) and self.kind != self.Kind.YES_NO:
            errors["accepted_places"] = "Places are for yes/no questions (\"Do you live in ...?\")."
        if self.confirm_margin is not None and not 0 <= self.confirm_margin < 1:
            errors["confirm_margin"] = "Use a fraction between 0 and 1, e.g. 0.2 for 20 %."
        if self.bot_id and self.key:
            dupes = Question.objects.filter(bot_id=self.bot_id, key=self.key).exclude(pk=self.pk)
            if dupes.exists():
                errors["key"] = f"This bot already has a question with key {self.key!r}."
        if errors:
            raise ValidationError(errors)

    def to_spec(self):
        from bots.dialogue import QuestionSpec
        from bots.understanding import split_phrases, split_places

        return QuestionSpec(
            key=self.key,
            prompt=self.prompt,
            kind=self.kind,
            expected=self.expected,
            threshold=float(self.threshold) if self.threshold is not None else None,
            comparison=self.comparison,
            unit=self.unit,
            period=self.period,
            reask_prompt=self.reask_prompt,
            confirm_margin=self.confirm_margin,
            yes_phrases=split_phrases(self.yes_phrases),
            no_phrases=split_phrases(self.no_phrases),
            accepted_places=split_places(self.accepted_places),
            other_places=split_places(self.other_places),
            plausible_min=float(self.plausible_min) if self.plausible_min is not None else None,
            plausible_max=float(self.plausible_max) if self.plausible_max is not None else None,
        )
