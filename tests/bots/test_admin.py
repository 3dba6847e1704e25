"""The bot admin: inline questions, validation shown as form errors, duplication, script flow."""
from __future__ import annotations

import pytest

from bots.admin import describe_condition, unique_copy_slug
from bots.models import Bot

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/bots/bot/add/"

BOT_FIELDS = {
    "name": "Solar panels",
    "slug": "solar",
    "description": "",
    "active": "on",
    "greeting": "Hi, about solar panels.",
    "qualified_message": "Great, a specialist will call.",
    "rejected_message": "Thanks, goodbye.",
    "incomplete_message": "Sorry, goodbye.",
    "max_reasks": "2",
    "language": "en",
    "voice": "",
    "callback_minutes": "15",
    "qualified_label": "solar lead",
}


def question(i: int, **fields) -> dict[str, str]:
    base = {"order": str(i + 1), "key": f"q{i}", "prompt": f"Question {i}?", "kind": "yes_no", "expected": "on",
            "threshold": "", "comparison": "gt", "unit": "", "period": "", "reask_prompt": "",
            "confirm_margin": "0.2"}
    base.update(fields)
    return {f"questions-{i}-{name}": value for name, value in base.items()}


def formset(*questions: dict[str, str], initial: int = 0) -> dict[str, str]:
    data = {"questions-TOTAL_FORMS": str(len(questions)), "questions-INITIAL_FORMS": str(initial),
            "questions-MIN_NUM_FORMS": "0", "questions-MAX_NUM_FORMS": "1000"}
    for q in questions:
        data.update(q)
    return data


@pytest.fixture
def admin_client(client, staff_user):
    client.force_login(staff_user)
    return client


def test_add_bot_with_inline_questions(admin_client):
    data = {**BOT_FIELDS, **formset(
        question(0, key="owns_roof", prompt="Do you own the roof?"),
        question(1, key="bill", prompt="Is your power bill over 100 dollars?", kind="amount", threshold="100",
                 comparison="gt", unit="dollars", period="month"),
    )}
    response = admin_client.post(ADD_URL, data)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    bot = Bot.objects.get(slug="solar")
    assert [(q.order, q.key, q.kind) for q in bot.questions.all()] == [(1, "owns_roof", "yes_no"), (2, "bill", "amount")]
    assert bot.questions.get(key="bill").threshold == 100


def test_amount_question_without_threshold_is_a_form_error(admin_client):
    data = {**BOT_FIELDS, **formset(question(0, kind="amount", threshold=""))}
    response = admin_client.post(ADD_URL, data)
    assert response.status_code == 200
    assert "An amount question needs a threshold." in response.content.decode()
    assert not Bot.objects.filter(slug="solar").exists()


def test_active_bot_without_questions_is_refused_on_add(admin_client):
    response = admin_client.post(ADD_URL, {**BOT_FIELDS, **formset()})
    assert response.status_code == 200
    assert "An active bot needs at least one question." in response.content.decode()
    assert not Bot.objects.filter(slug="solar").exists()


def test_inactive_bot_may_be_saved_without_questions(admin_client):
    data = {**BOT_FIELDS, **formset()}
    del data["active"]
    assert admin_client.post(ADD_URL, data).status_code == 302
    assert Bot.objects.get(slug="solar").questions.count() == 0


def test_deleting_every_question_of_an_active_bot_is_refused(admin_client, loan_bot):
    questions = list(loan_bot.questions.all())
    rows = [
        question(i, id=str(q.pk), bot=str(loan_bot.pk), key=q.key, prompt=q.prompt, kind=q.kind,
                 threshold=str(q.threshold or ""), DELETE="on")
        for i, q in enumerate(questions)
    ]
    data = {**BOT_FIELDS, "slug": loan_bot.slug, **formset(*rows, initial=len(questions))}
    response = admin_client.post(f"/admin/bots/bot/{loan_bot.pk}/change/", data)
    assert response.status_code == 200
    assert "An active bot needs at least one question." in response.content.decode()
    assert loan_bot.questions.count() == 3


def test_questionless_active_bot_can_be_fixed_by_adding_questions_inline(admin_client):
    bot = Bot.objects.create(slug="solar", name="Solar", active=False, greeting="Hi", qualified_message="Y",
                             rejected_message="N", incomplete_message="?")
    Bot.objects.filter(pk=bot.pk).update(active=True)  # e.g. activated by a script
    data = {**BOT_FIELDS, **formset(question(0))}
    response = admin_client.post(f"/admin/bots/bot/{bot.pk}/change/", data)
    assert response.status_code == 302
    assert bot.questions.count() == 1


def test_changelist_shows_question_and_call_counts(admin_client, loan_bot, call, django_assert_max_num_queries):
    with django_assert_max_num_queries(10):
        response = admin_client.get("/admin/bots/bot/")
    assert response.status_code == 200
    rows = {b.slug: (b.n_questions, b.n_calls) for b in response.context["cl"].result_list}
    assert rows == {"quickrupee-loan": (3, 1), "home-renovation": (3, 0)}


def test_duplicate_action_copies_bot_and_questions(admin_client, loan_bot):
    action = {"action": "duplicate", "_selected_action": [str(loan_bot.pk)]}
    assert admin_client.post("/admin/bots/bot/", action).status_code == 302
    assert admin_client.post("/admin/bots/bot/", action).status_code == 302
    first = Bot.objects.get(slug="quickrupee-loan-copy")
    second = Bot.objects.get(slug="quickrupee-loan-copy-2")
    for copy in (first, second):
        assert not copy.active and copy.greeting == loan_bot.greeting and copy.callback_minutes == 10
        assert list(copy.questions.values_list("order", "key", "threshold")) == list(
            loan_bot.questions.values_list("order", "key", "threshold")
        )
    assert loan_bot.questions.count() == 3  # the original keeps its own rows


def test_unique_copy_slug_fits_the_column():
    long = "x" * 50
    assert unique_copy_slug(long, set()) == "x" * 45 + "-copy"
    assert unique_copy_slug("a", {"a-copy", "a-copy-2"}) == "a-copy-3"


def test_change_page_shows_the_script_flow(admin_client, loan_bot):
    html = admin_client.get(f"/admin/bots/bot/{loan_bot.pk}/change/").content.decode()
    flow = html[html.index('class="script-flow"'):]
    flow = flow[: flow.index("</ol>")]
    order = [flow.index(part) for part in [
        "Greeting", "Q1 · salaried", "Q2 · monthly_salary", "Q3 · metro_city", "All qualify → eligible",
        "rejected", "incomplete",
    ]]
    assert order == sorted(order)
    assert "more than 25,000 rupees per month" in flow and "callback within 10 min" in flow
    assert "Caller silent → “Are you still there? …” once, then incomplete" in flow
    assert "I have not heard from you" in flow
    assert 'name="still_there_prompt"' in html and 'name="silence_message"' in html  # staff edit both


def test_condition_wording(renovation_bot):
    owns, budget, start = renovation_bot.questions.all()
    assert describe_condition(owns) == "yes"
    assert describe_condition(budget) == (
        "more than 10,000 dollars (confirmed when within 20%; answers below 100 or above 10,000,000 are asked again)"
    )
    assert describe_condition(start) == "at most 3 months"
    owns.expected = False
    assert describe_condition(owns) == "no"


def test_add_page_explains_flow_appears_after_saving(admin_client):
    assert "Save the bot to see its script flow." in admin_client.get(ADD_URL).content.decode()


def test_answer_phrases_are_edited_inline_and_shown_in_the_flow(admin_client):
    data = {**BOT_FIELDS, **formset(
        question(0, key="owns_roof", prompt="Do you own the roof?", yes_phrases="own the roof\nit is ours",
                 no_phrases="shared roof, the building owns"),
    )}
    assert admin_client.post(ADD_URL, data).status_code == 302
    bot = Bot.objects.get(slug="solar")
    spec = bot.questions.get().to_spec()
    assert spec.no_phrases == ("shared roof", "the building owns")
    html = admin_client.get(f"/admin/bots/bot/{bot.pk}/change/").content.decode()
    assert "also understood as yes: own the roof, it is ours · no: shared roof, the building owns" in html


def test_places_and_plausible_range_are_edited_inline_and_drive_the_dialogue(admin_client):
    data = {**BOT_FIELDS, **formset(
        question(0, key="city", prompt="Do you live in a big city?",
                 accepted_places="Springfield, Springfeld\nShelbyville", other_places="Ogdenville\nNorth Haverbrook"),
        question(1, key="bill", prompt="Is your power bill over 100 dollars?", kind="amount", threshold="100",
                 comparison="gt", unit="dollars", period="month", plausible_min="20", plausible_max="2000"),
    )}
    response = admin_client.post(ADD_URL, data)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    bot = Bot.objects.get(slug="solar")
    city, bill = (q.to_spec() for q in bot.questions.all())
    assert city.accepted_places == (("Springfield", "Springfeld"), ("Shelbyville",))
    assert (bill.plausible_min, bill.plausible_max) == (20.0, 2000.0)

    from bots.dialogue import Dialogue

    def first(text: str):
        d = Dialogue(bot.to_script())
        d.start()
        return d.handle(text)

    assert first("I live in Springfeld.").act == "question"  # an alias of an accepted place
    assert first("I live in Ogdenville.").outcome == "rejected"  # a known other place
    assert first("Yes, I live in Capital City.").act == "reask"  # a place neither list knows
    d = Dialogue(bot.to_script())
    d.start()
    d.handle("Yes, Shelbyville.")
    assert d.handle("about five thousand dollars a month").act == "reask"  # above the range
    html = admin_client.get(f"/admin/bots/bot/{bot.pk}/change/").content.decode()
    assert "“I live in …” is yes for Springfield, Shelbyville · no for Ogdenville, North Haverbrook" in html
    assert "answers below 20 or above 2,000 are asked again" in html


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"kind": "amount", "threshold": "100", "plausible_min": "500", "plausible_max": "100"},
         "The largest plausible amount must be above the smallest."),
        ({"kind": "amount", "threshold": "100", "plausible_min": "200"}, "The threshold must lie within the plausible range."),
        ({"plausible_min": "1"}, "A plausible range is for amount questions."),
        ({"kind": "amount", "threshold": "100", "accepted_places": "Pune"}, "Places are for yes/no questions"),
    ],
)
def test_places_and_ranges_are_validated_as_form_errors(admin_client, fields, error):
    response = admin_client.post(ADD_URL, {**BOT_FIELDS, **formset(question(0, **fields))})
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Bot.objects.filter(slug="solar").exists()
