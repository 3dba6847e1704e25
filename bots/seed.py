"""The two bots of the product brief, as data.

Seeded by migration 0002 (so a fresh install has them) and re-seeded by tests
after a flushing transactional test. Staff edit them freely in the admin;
seeding never overwrites an existing bot.
"""
from decimal import Decimal

BOTS = [
    {
        "slug": "quickrupee-loan",
        "name": "QuickRupee personal loan",
        "description": "Checks eligibility for a QuickRupee personal loan in three questions.",
        "greeting": "Hello, this is QuickRupee. I will ask you three quick questions to check "
        "if you are eligible for a personal loan.",
        "qualified_message": "Great news, you are eligible! An agent will call you within 10 minutes. "
        "Thank you for calling QuickRupee.",
        "rejected_message": "Thank you for your time. Unfortunately you do not meet our eligibility "
        "criteria right now. We wish you all the best. Goodbye.",
        "incomplete_message": "Sorry, I could not understand your answers. Please call us again "
        "whenever it suits you. Goodbye.",
        "language": "en-IN",
        "callback_minutes": 10,
        "qualified_label": "eligible",
        "transfer_on_qualified": False,
        "questions": [
            {
                "key": "salaried",
                "prompt": "Are you a salaried employee?",
                "reask_prompt": "Sorry, I did not catch that. Do you receive a monthly salary from "
                "an employer? Please say yes or no.",
            },
            {
                "key": "monthly_salary",
                "prompt": "Is your monthly salary more than twenty-five thousand rupees?",
                "kind": "amount",
                "threshold": Decimal("25000"),
                "comparison": "gt",
                "unit": "rupees",
                "period": "month",
                "reask_prompt": "Sorry, I did not catch that. Roughly how much is your monthly "
                "salary, in rupees?",
            },
            {
                "key": "metro_city",
                "prompt": "Do you live in a metro city, such as Delhi, Mumbai, Bengaluru, Chennai, "
                "Kolkata or Hyderabad?",
                "reask_prompt": "Sorry, I did not catch that. Do you live in one of the metro "
                "cities? Please say yes or no.",
            },
        ],
    },
    {
        "slug": "home-renovation",
        "name": "Home renovation",
        "description": "Qualifies home renovation enquiries and transfers hot leads to a specialist.",
        "greeting": "Hi, thanks for calling about your home renovation. I have three quick "
        "questions to see how we can help.",
        "qualified_message": "Excellent, you are a great fit for us. I am transferring you to a "
        "renovation specialist now. Please stay on the line.",
        "rejected_message": "Thank you so much for your time. It sounds like we are not the right "
        "fit just now, but please call us again whenever your plans change. Goodbye.",
        "incomplete_message": "Sorry, I could not understand your answers. Please call us again "
        "whenever it suits you. Goodbye.",
        "language": "en",
        "callback_minutes": None,
        "qualified_label": "hot lead",
        "transfer_on_qualified": True,
        "questions": [
            {
                "key": "owns_home",
                "prompt": "Do you own your home?",
                "reask_prompt": "Sorry, I did not catch that. Are you the owner of the home you "
                "want to renovate? Please say yes or no.",
            },
            {
                "key": "budget",
                "prompt": "Is your renovation budget more than ten thousand dollars?",
                "kind": "amount",
                "threshold": Decimal("10000"),
                "comparison": "gt",
                "unit": "dollars",
                "period": "",
                "reask_prompt": "Sorry, I did not catch that. Roughly what budget do you have in "
                "mind for the renovation, in dollars?",
            },
            {
                "key": "start_soon",
                "prompt": "Are you planning to start within the next three months?",
                "kind": "amount",
                "threshold": Decimal("3"),
                "comparison": "lte",
                "unit": "months",
                "period": "",
                "confirm_margin": 0.0,
                "reask_prompt": "Sorry, I did not catch that. Would the work start within the "
                "next three months? Please say yes or no.",
            },
        ],
    },
]


def seed_brief_bots(Bot, Question) -> None:
    """Create the brief's bots that are missing (model classes passed in, so the
    migration can use its historical models)."""
    for spec in BOTS:
        spec = dict(spec)
        questions = spec.pop("questions")
        bot, created = Bot.objects.get_or_create(slug=spec["slug"], defaults=spec)
        if created:
            for order, q in enumerate(questions, start=1):
                Question.objects.create(bot=bot, order=order, **q)
