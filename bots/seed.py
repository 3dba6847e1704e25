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
                # An occupation that is plainly salaried is a yes: a post at an employer
                # ("I'm a * at ..."), or a job that is almost always on a payroll.
                "yes_phrases": _lines(
                    "salaried, salary, salaried employee, employee, i am employed, am employed, "
                    "currently employed, employed at, employed with, employed by, employed in, "
                    "employed as, employed full time, job, naukri, "
                    "full time, permanent, payroll, i work for, i work at, i work in, "
                    "working for, working at, working in, i am working, work in a company, "
                    "government job, private job, service, corporate job, software engineer, "
                    "i am a * at, i am an * at, i am a * in, i am an * in, i am a * for, "
                    "i am an * for, work as a * at, work as an * at, work as a * in, work as an * in, "
                    "working as, employee of, on the payroll, monthly salary, fixed salary, "
                    "salary slip, pay slip, government employee, government servant, "
                    "government school, government teacher, teacher, professor, lecturer, nurse, "
                    "clerk, constable, police, soldier, army, navy, air force, bank employee, "
                    "officer, executive, manager, team lead, supervisor, engineer, developer, "
                    "programmer, analyst, accountant, receptionist, office job, desk job, "
                    "nine to five, 9 to 5, mnc, it company, software company, private company, "
                    "private firm, psu, factory worker, staff nurse, staff member, "
                    "government office, government college, government hospital, government department"
                ),
                # An occupation that is plainly not salaried is a no: owning or running
                # something, trading, gig and daily-wage work, a trade done on one's own.
                "no_phrases": _lines(
                    "self employed, self employment, own business, business, businessman, "
                    "businesswoman, business owner, my own company, my own firm, freelancer, "
                    "freelance, freelancing, consultant, contractor, contract basis, daily wages, "
                    "unemployed, jobless, between jobs, looking for a job, looking for work, "
                    "lost my job, student, studying, retired, pensioner, housewife, homemaker, "
                    "farmer, farming, shopkeeper, i run a shop, my own shop, work for myself, "
                    "my own boss, gig work, "
                    "my own *, i run a *, i run an *, i run my *, i run the *, i own a *, i own an *, "
                    "i own the *, i have a shop, i have a * shop, i have my own *, i have a business, "
                    "shop owner, store owner, owner, proprietor, partner in, entrepreneur, founder, "
                    "co founder, startup, family business, i do business, trader, i trade, trading, "
                    "stock market, broker, commission, dealer, distributor, wholesaler, retailer, "
                    "vendor, hawker, i sell, auto driver, auto rickshaw, rickshaw, taxi, cab driver, "
                    "uber, ola, rapido, truck driver, delivery boy, delivery partner, delivery agent, "
                    "swiggy, zomato, gig, gig worker, daily wage, labourer, laborer, labour, mazdoor, "
                    "agriculture, kisan, consulting, independent, contracts, i take contracts, "
                    "tuition, tuitions, private tutor, coaching classes, youtuber, influencer, "
                    "blogger, content creator, artist, photographer, tailor, electrician, plumber, "
                    "carpenter, mechanic, beautician, salon, parlour, private practice, clinic, "
                    "practising, advocate, chartered accountant, stay at home, retired *, "
                    "former *, ex *, pension, not working, no job, looking for *, own account, "
                    "painter, dairy, farm"
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
                "plausible_min": Decimal("1000"),
                "plausible_max": Decimal("1000000"),
            },
            {
                "key": "metro_city",
                "prompt": "Do you live in a metro city, such as Delhi, Mumbai, Bengaluru, Chennai, "
                "Kolkata or Hyderabad?",
                "reask_prompt": "Sorry, I did not catch that. Do you live in one of the metro "
                "cities? Please say yes or no.",
                "yes_phrases": _lines("metro, metro city, metropolitan"),
                "no_phrases": _lines(
                    "village, small town, town, tier two, tier 2, tier three, tier 3, rural, "
                    "countryside, outside the city, non metro"
                ),
                # One place a line, other names after commas. Delhi's NCR counts as Delhi.
                "accepted_places": "\n".join([
                    "Delhi, New Delhi, Delhi NCR, NCR", "Gurugram, Gurgaon", "Noida, Greater Noida",
                    "Ghaziabad", "Faridabad", "Mumbai, Bombay", "Navi Mumbai, New Bombay", "Thane",
                    "Bengaluru, Bangalore", "Chennai, Madras", "Kolkata, Calcutta", "Howrah",
                    "Hyderabad", "Secunderabad", "Pune, Poona", "Ahmedabad, Amdavad",
                ]),
                "other_places": "\n".join([
                    "Jaipur", "Lucknow", "Kanpur", "Nagpur", "Indore", "Bhopal", "Patna", "Surat",
                    "Vadodara, Baroda", "Ludhiana", "Agra", "Nashik, Nasik", "Ranchi", "Coimbatore",
                    "Madurai", "Kochi, Cochin, Ernakulam", "Mysuru, Mysore", "Chandigarh", "Mohali",
                    "Panchkula", "Guwahati", "Bhubaneswar", "Cuttack", "Visakhapatnam, Vizag",
                    "Vijayawada", "Guntur", "Nellore", "Tirupati", "Warangal", "Dehradun",
                    "Varanasi, Banaras, Benares", "Prayagraj, Allahabad", "Meerut", "Aligarh",
                    "Bareilly", "Moradabad", "Gorakhpur", "Jhansi", "Raipur", "Bhilai", "Jabalpur",
                    "Gwalior", "Ujjain", "Rajkot", "Bhavnagar", "Jamnagar", "Gandhinagar",
                    "Amritsar", "Jalandhar", "Patiala", "Jammu", "Srinagar", "Shimla", "Jodhpur",
                    "Udaipur", "Kota", "Ajmer", "Bikaner", "Aurangabad, Chhatrapati Sambhajinagar",
                    "Solapur", "Kolhapur", "Sangli", "Nanded", "Amravati",
                    "Thiruvananthapuram, Trivandrum", "Kozhikode, Calicut", "Thrissur", "Kollam",
                    "Mangaluru, Mangalore", "Hubli, Hubballi", "Dharwad", "Belagavi, Belgaum",
                    "Kalaburagi, Gulbarga", "Davangere", "Shivamogga, Shimoga",
                    "Tiruchirappalli, Trichy", "Salem", "Tiruppur", "Erode", "Vellore",
                    "Tirunelveli", "Puducherry, Pondicherry", "Goa, Panaji, Panjim", "Margao",
                    "Siliguri", "Durgapur", "Asansol", "Dhanbad", "Jamshedpur", "Bokaro", "Gaya",
                    "Muzaffarpur", "Bhagalpur", "Rourkela", "Imphal", "Shillong", "Agartala",
                    "Aizawl", "Kohima", "Itanagar", "Gangtok", "Haridwar", "Rishikesh", "Nainital",
                    "Mathura", "Sonipat", "Panipat", "Karnal", "Rohtak", "Hisar",
                    "Bathinda", "Anand", "Nadiad", "Bharuch", "Valsad", "Vapi",
                    "Satara", "Jalgaon", "Akola", "Latur", "Bilaspur", "Korba", "Sagar", "Rewa",
                    "Satna", "Alwar", "Bhilwara", "Sikar",
                ]),
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
                    "sublet, subletting, housing association, council house, "
                    # someone else's: "It belongs to my in-laws" (heard "... my own laws", issue 27)
                    "belongs to my *, belongs to our *, belongs to his *, belongs to her *, "
                    "belongs to the *, belongs to a *, in laws"
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
                "plausible_min": Decimal("100"),
                "plausible_max": Decimal("10000000"),
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


UPGRADED_FIELDS = ("yes_phrases", "no_phrases", "accepted_places", "other_places", "plausible_min", "plausible_max")


def upgrade_shipped_questions(Bot, Question, previous: dict[tuple[str, str, str], str]) -> None:
    """Bring the brief's questions up to the current seed where staff have not changed them.

    A field is updated when it is blank or still holds exactly what an earlier release
    shipped (`previous`, keyed by bot slug, question key and field); a staff edit stays.
    """
    for spec in BOTS:
        for q in spec["questions"]:
            row = Question.objects.filter(bot__slug=spec["slug"], key=q["key"]).first()
            if row is None:
                continue
            changed = []
            for f in UPGRADED_FIELDS:
                if f not in q:
                    continue
                have = getattr(row, f)
                old = previous.get((spec["slug"], q["key"], f))
                if have in (None, "") or (old is not None and have == old):
                    setattr(row, f, q[f])
                    changed.append(f)
            if changed:
                row.save(update_fields=changed)
