"""Where staff write bot scripts: a bot with its ordered questions on one page.

Bot.clean() can only see questions already saved, so the rule "an active bot
needs at least one question" is enforced by the question formset here, where
the unsaved rows of the add/change page are visible. The read-only script
flow shows the whole conversation as the caller will hear it.
"""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Count, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from bots.dialogue import consent_text
from bots.models import Bot, Question
from bots.understanding import split_phrases, split_places

NEEDS_QUESTION = "An active bot needs at least one question."
SLUG_MAX = Bot._meta.get_field("slug").max_length


class QuestionFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        if any(self.errors) or not self.instance.active:
            return
        kept = [
            form for form in self.forms
            if (form.instance.pk or form.has_changed()) and not self._should_delete_form(form)
        ]
        if not kept:
            raise ValidationError(NEEDS_QUESTION)


class QuestionInline(admin.TabularInline):
    model = Question
    formset = QuestionFormSet
    extra = 1
    ordering = ["order", "id"]
    fields = ["order", "key", "prompt", "kind", "expected", "threshold", "comparison", "unit", "period",
              "reask_prompt", "confirm_margin", "plausible_min", "plausible_max", "yes_phrases", "no_phrases",
              "accepted_places", "other_places"]
    formfield_overrides = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 36})}}


class BotAdminForm(forms.ModelForm):
    class Meta:
        model = Bot
        fields = "__all__"

    def _post_clean(self) -> None:
        super()._post_clean()
        # Bot.clean() checks questions in the database, which is wrong while the
        # page is adding or deleting them; QuestionFormSet checks the submitted rows.
        errors = self._errors.get("active") if self._errors else None
        if errors and NEEDS_QUESTION in errors:
            remaining = [e for e in errors if e != NEEDS_QUESTION]
            if remaining:
                self._errors["active"] = self.error_class(remaining)
            else:
                del self._errors["active"]
                if "active" in self.fields:
                    self.cleaned_data["active"] = self.instance.active


def describe_condition(question: Question) -> str:
    """When an answer qualifies, in words: 'yes', 'more than 25,000 rupees per month'."""
    if question.kind == Question.Kind.YES_NO:
        return "yes" if question.expected else "no"
    if question.threshold is None:
        return "(no threshold set)"
    amount = _number(question.threshold)
    words = [question.get_comparison_display(), amount, question.unit]
    if question.period:
        words.append(question.get_period_display())
    condition = " ".join(w for w in words if w)
    notes = []
    if question.confirm_margin:
        notes.append(f"confirmed when within {question.confirm_margin:.0%}")
    low, high = question.plausible_min, question.plausible_max
    if low is not None or high is not None:
        bounds = [f"below {_number(low)}" if low is not None else "", f"above {_number(high)}" if high is not None else ""]
        notes.append(f"answers {' or '.join(b for b in bounds if b)} are asked again")
    return condition + (f" ({'; '.join(notes)})" if notes else "")


def _number(value) -> str:
    return f"{value:,.2f}".removesuffix(".00")


def describe_phrases(question: Question) -> str:
    """The question's own answer phrases, shortened for the flow view."""
    parts = []
    for label, text in (("yes", question.yes_phrases), ("no", question.no_phrases)):
        phrases = split_phrases(text)
        if phrases:
            shown = ", ".join(phrases[:6]) + (f" +{len(phrases) - 6} more" if len(phrases) > 6 else "")
            parts.append(f"{label}: {shown}")
    places = []
    for label, text in (("yes for", question.accepted_places), ("no for", question.other_places)):
        names = [p[0] for p in split_places(text)]
        if names:
            places.append(f"{label} {', '.join(names[:6])}" + (f" +{len(names) - 6} more" if len(names) > 6 else ""))
    out = "; also understood as " + " · ".join(parts) if parts else ""
    if places:
        out += "; “I live in …” is " + " · ".join(places) + ", other places asked again"
    return out


def script_flow(bot: Bot) -> SafeString:
    questions = list(bot.questions.all())
    steps = format_html_join(
        "",
        '<li><strong>Q{} · {}</strong> “{}”<br><span class="help">qualifies if: {}{}; unclear → re-ask up to {}×'
        "{}</span></li>",
        (
            (
                i,
                q.key,
                q.prompt,
                describe_condition(q),
                describe_phrases(q),
                bot.max_reasks,
                format_html(": “{}”", q.reask_prompt) if q.reask_prompt else "",
            )
            for i, q in enumerate(questions, start=1)
        ),
    )
    consent = format_html(
        "<li><strong>Recording consent</strong> “{}”<br><span class=\"help\">no (or keypad 2) → not recorded "
        "from there on; the call goes on</span></li>", consent_text(bot.consent_line),
    ) if bot.records else ""
    return format_html(
        '<ol class="script-flow" style="margin:0;padding-left:1.2em;line-height:1.6">'
        "<li><strong>Greeting</strong> “{}”</li>{}{}"
        "<li><strong>All qualify → {}</strong> “{}”{}</li>"
        "<li><strong>An answer does not qualify → rejected</strong> “{}”</li>"
        "<li><strong>Still unclear → incomplete</strong> “{}”</li>"
        "<li><strong>Caller silent → “{} …” once, then incomplete</strong> “{}”</li></ol>",
        bot.greeting,
        consent,
        steps if questions else format_html("<li><em>{}</em></li>", "No questions yet."),
        bot.qualified_label,
        bot.qualified_message,
        " (transferred to a specialist)" if bot.transfer_on_qualified else
        (f" (callback within {bot.callback_minutes} min)" if bot.callback_minutes else ""),
        bot.rejected_message,
        bot.incomplete_message,
        bot.still_there_prompt,
        bot.silence_message or bot.incomplete_message,
    )


def unique_copy_slug(slug: str, taken: set[str]) -> str:
    """`<slug>-copy`, then `-copy-2`, `-copy-3`…, trimmed to fit the slug column."""
    n = 1
    while True:
        suffix = "-copy" if n == 1 else f"-copy-{n}"
        candidate = slug[: SLUG_MAX - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        n += 1


@admin.register(Bot)
class BotAdmin(admin.ModelAdmin):
    form = BotAdminForm
    inlines = [QuestionInline]
    list_display = ["name", "slug", "active", "question_count", "call_count", "stats_link"]
    list_filter = ["active", "language", "transfer_on_qualified"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["flow", "created_at", "updated_at"]
    actions = ["duplicate"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "description", "active"]}),
        ("Conversation", {"fields": ["greeting", "qualified_message", "rejected_message", "incomplete_message",
                                     "max_reasks", "still_there_prompt", "silence_message", "language", "voice"]}),
        ("Lead handling", {"fields": ["qualified_label", "transfer_on_qualified", "callback_minutes"]}),
        ("Recording", {"fields": ["record_calls", "consent_line"]}),
        ("Script flow (as saved)", {"fields": ["flow"]}),
        ("History", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Bot]:
        return (
            super()
            .get_queryset(request)
            .annotate(n_questions=Count("questions", distinct=True), n_calls=Count("calls", distinct=True))
        )

    @admin.display(description="Questions", ordering="n_questions")
    def question_count(self, bot: Bot) -> int:
        return bot.n_questions

    @admin.display(description="Calls", ordering="n_calls")
    def call_count(self, bot: Bot) -> int:
        return bot.n_calls

    @admin.display(description="Stats")
    def stats_link(self, bot: Bot) -> str:
        return format_html('<a href="{}">funnel &amp; latency</a>', reverse("dashboard:bot", args=[bot.slug]))

    @admin.display(description="Flow")
    def flow(self, bot: Bot) -> SafeString | str:
        if not bot.pk:
            return "Save the bot to see its script flow."
        return script_flow(bot)

    @admin.action(description="Duplicate selected bots (as inactive copies)")
    def duplicate(self, request: HttpRequest, queryset: QuerySet[Bot]) -> None:
        taken = set(Bot.objects.values_list("slug", flat=True))
        copies = []
        with transaction.atomic():
            for bot in queryset.prefetch_related("questions"):
                questions = list(bot.questions.all())
                bot.pk = bot.id = None
                bot._state.adding = True
                bot.slug = unique_copy_slug(bot.slug, taken)
                bot.name = f"{bot.name} (copy)"[: Bot._meta.get_field("name").max_length]
                bot.active = False
                bot.save()
                taken.add(bot.slug)
                for question in questions:
                    question.pk = question.id = None
                    question._state.adding = True
                    question.bot = bot
                Question.objects.bulk_create(questions)
                copies.append(bot.slug)
        self.message_user(request, f"Created {len(copies)} inactive cop{'y' if len(copies) == 1 else 'ies'}: "
                          f"{', '.join(copies)}.", messages.SUCCESS)
