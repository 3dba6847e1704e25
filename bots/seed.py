"""The two bots of the product brief, as data.

Seeded by migration 0002 (so a fresh install has them) and re-seeded by tests
after a flushing transactional test. Staff edit them freely in the admin;
seeding never overwrites an existing bot.
"""
from decimal import Decimal


def _lines(phrases: str) -> str:
    """A comma-separated phrase list as the admin shows it: one phrase per line."""
    return "\n".join(p.strip() for p in phrases.split(",") if p.strip())


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
                "yes_phrases": _lines(
                    "salaried, salary, salaried employee, employee, i am employed, am employed, "
                    "currently employed, employed at, employed with, employed by, employed in, "
                    "employed as, employed full time, job, naukri, "
                    "full time, permanent, payroll, i work for, i work at, i work in, "
                    "working for, working at, working in, i am working, work in a company, "
                    "government job, private job, service, corporate job, software engineer"
                ),
                "no_phrases": _lines(
                    "self employed, self employment, own business, business, businessman, "
                    "businesswoman, business owner, my own company, my own firm, freelancer, "
                    "freelance, freelancing, consultant, contractor, contract basis, daily wages, "
                    "unemployed, jobless, between jobs, looking for a job, looking for work, "
                    "lost my job, student, studying, retired, pensioner, housewife, homemaker, "
                    "farmer, farming, shopkeeper, i run a shop, my own shop, work for myself, "
                    "my own boss, gig work"
                ),
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
                "yes_phrases": _lines(
                    "metro, metro city, metropolitan, delhi, new delhi, ncr, gurgaon, gurugram, "
                    "noida, mumbai, bombay, navi mumbai, thane, bengaluru, bangalore, chennai, "
                    "madras, kolkata, calcutta, hyderabad, secunderabad, pune, ahmedabad"
                ),
                "no_phrases": _lines(
                    "village, small town, town, tier two, tier 2, tier three, tier 3, rural, "
                    "countryside, outside the city, non metro, jaipur, lucknow, kanpur, nagpur, "
                    "indore, bhopal, patna, surat, vadodara, ludhiana, agra, nashik, ranchi, "
                    "coimbatore, madurai, kochi, cochin, mysore, mysuru, chandigarh, guwahati, "
                    "bhubaneswar, visakhapatnam, vizag, vijayawada, dehradun, varanasi, goa"
                ),
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
                "yes_phrases": _lines(
                    "i own, we own, own it, owner, homeowner, home owner, my own, our own, "
                    "it is mine, it is ours, bought, we bought, mortgage, paid off, in my name, "
                    "in our name"
                ),
                "no_phrases": _lines(
                    "rent, renting, rented, renter, tenant, lease, leasing, leased, landlord, "
                    "landlady, landlord owns, landlord owns it, parents own, my parents own, parents own it, "
                    "my parents, live with my parents, "
                    "sublet, subletting, housing association, council house"
                ),
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
                "yes_phrases": _lines(
                    "soon, very soon, asap, right now, straight away, ready to go, "
                    "ready to start, this month, next month, this week, next week"
                ),
                "no_phrases": _lines(
                    "not for a while, for a while, be a while, someday, some day, eventually, "
                    "no hurry, no rush, just looking, just browsing, just exploring, just getting ideas, "
                    "down the road, down the line, in the future, no plans, not planning, not this year"
                ),
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
            known = {f.name for f in Question._meta.get_fields()}  # a migration's older model
            for order, q in enumerate(questions, start=1):
                Question.objects.create(bot=bot, order=order, **{k: v for k, v in q.items() if k in known})


def fill_answer_phrases(Bot, Question) -> None:
    """Give the brief's questions their answer phrases where staff left them blank."""
    for spec in BOTS:
        for q in spec["questions"]:
            row = Question.objects.filter(bot__slug=spec["slug"], key=q["key"]).first()
            if row is None:
                continue
            changed = [f for f in ("yes_phrases", "no_phrases") if q.get(f) and not getattr(row, f)]
            for f in changed:
                setattr(row, f, q[f])
            if changed:
                row.save(update_fields=changed)
