"""The shipped home-ownership question: a home that "belongs to my <someone>" is not the
caller's (issue 27: "It belongs to my in-laws." was heard "... my own laws." and taken
for a yes); the salaried question knows a few more occupations (government offices,
painters, farms). Unless staff changed the phrases."""
from django.db import migrations

from bots.seed import upgrade_shipped_questions

# What 0005 shipped for the questions this release extends.
PREVIOUS = {
    ("quickrupee-loan", "salaried", "yes_phrases"): 'salaried\nsalary\nsalaried employee\nemployee\ni am employed\nam employed\ncurrently employed\nemployed at\nemployed with\nemployed by\nemployed in\nemployed as\nemployed full time\njob\nnaukri\nfull time\npermanent\npayroll\ni work for\ni work at\ni work in\nworking for\nworking at\nworking in\ni am working\nwork in a company\ngovernment job\nprivate job\nservice\ncorporate job\nsoftware engineer\ni am a * at\ni am an * at\ni am a * in\ni am an * in\ni am a * for\ni am an * for\nwork as a * at\nwork as an * at\nwork as a * in\nwork as an * in\nworking as\nemployee of\non the payroll\nmonthly salary\nfixed salary\nsalary slip\npay slip\ngovernment employee\ngovernment servant\ngovernment school\ngovernment teacher\nteacher\nprofessor\nlecturer\nnurse\nclerk\nconstable\npolice\nsoldier\narmy\nnavy\nair force\nbank employee\nofficer\nexecutive\nmanager\nteam lead\nsupervisor\nengineer\ndeveloper\nprogrammer\nanalyst\naccountant\nreceptionist\noffice job\ndesk job\nnine to five\n9 to 5\nmnc\nit company\nsoftware company\nprivate company\nprivate firm\npsu\nfactory worker\nstaff nurse\nstaff member',
    ("quickrupee-loan", "salaried", "no_phrases"): 'self employed\nself employment\nown business\nbusiness\nbusinessman\nbusinesswoman\nbusiness owner\nmy own company\nmy own firm\nfreelancer\nfreelance\nfreelancing\nconsultant\ncontractor\ncontract basis\ndaily wages\nunemployed\njobless\nbetween jobs\nlooking for a job\nlooking for work\nlost my job\nstudent\nstudying\nretired\npensioner\nhousewife\nhomemaker\nfarmer\nfarming\nshopkeeper\ni run a shop\nmy own shop\nwork for myself\nmy own boss\ngig work\nmy own *\ni run a *\ni run an *\ni run my *\ni run the *\ni own a *\ni own an *\ni own the *\ni have a shop\ni have a * shop\ni have my own *\ni have a business\nshop owner\nstore owner\nowner\nproprietor\npartner in\nentrepreneur\nfounder\nco founder\nstartup\nfamily business\ni do business\ntrader\ni trade\ntrading\nstock market\nbroker\ncommission\ndealer\ndistributor\nwholesaler\nretailer\nvendor\nhawker\ni sell\nauto driver\nauto rickshaw\nrickshaw\ntaxi\ncab driver\nuber\nola\nrapido\ntruck driver\ndelivery boy\ndelivery partner\ndelivery agent\nswiggy\nzomato\ngig\ngig worker\ndaily wage\nlabourer\nlaborer\nlabour\nmazdoor\nagriculture\nkisan\nconsulting\nindependent\ncontracts\ni take contracts\ntuition\ntuitions\nprivate tutor\ncoaching classes\nyoutuber\ninfluencer\nblogger\ncontent creator\nartist\nphotographer\ntailor\nelectrician\nplumber\ncarpenter\nmechanic\nbeautician\nsalon\nparlour\nprivate practice\nclinic\npractising\nadvocate\nchartered accountant\nstay at home\nretired *\nformer *\nex *\npension\nnot working\nno job\nlooking for *\nown account',
    ("home-renovation", "owns_home", "no_phrases"): "\n".join((
        "rent, renting, rented, renter, tenant, lease, leasing, leased, landlord, landlady, landlord owns, "
        "landlord owns it, parents own, my parents own, parents own it, my parents, live with my parents, "
        "sublet, subletting, housing association, council house"
    ).split(", ")),
}


def upgrade(apps, schema_editor):
    upgrade_shipped_questions(apps.get_model("bots", "Bot"), apps.get_model("bots", "Question"), PREVIOUS)


class Migration(migrations.Migration):

    dependencies = [
        ("bots", "0006_recording_consent"),
    ]

    operations = [
        migrations.RunPython(upgrade, migrations.RunPython.noop),
    ]
