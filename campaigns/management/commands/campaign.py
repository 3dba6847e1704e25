"""`manage.py campaign create|add-leads|start|pause|resume|finish|status|do-not-call`: campaigns from a
shell or cron, the same operations staff have in the admin.

    manage.py campaign create --bot quickrupee-loan --name "Diwali loans" --time-zone Asia/Kolkata \\
        --hours 09:00-20:00 --days mon-sat --max-lines 10 --max-attempts 3
    manage.py campaign add-leads 3 leads.csv [--region IN]
    manage.py campaign start 3
    manage.py campaign pause 3        (then resume 3; finish 3 stops it for good)
    manage.py campaign status 3 --json
    manage.py campaign do-not-call numbers.csv [--region IN]

Bad input is an error naming what is wrong (exit status 1); a CSV's bad rows are listed by
line and its good rows kept.
"""
from __future__ import annotations

import json
from datetime import time
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count

from bots.models import Bot
from campaigns import actions
from campaigns.leads_in import BadLead, import_csv, import_do_not_call
from campaigns.models import WEEKDAYS, Attempt, Campaign, Lead

DAY_NAMES = {name.lower(): number for number, name in enumerate(WEEKDAYS)}


def parse_hours(text: str) -> tuple[time, time]:
    try:
        start, end = text.split("-")
        return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
    except ValueError as exc:
        raise CommandError(f"--hours {text!r}: write it as HH:MM-HH:MM, like 09:00-20:00 (or 18:00-02:00)") from exc


def parse_days(text: str) -> list[int]:
    """"mon-fri", "mon,wed,sat", "all" -> weekday numbers."""
    if text.strip().lower() in ("all", "every", "mon-sun"):
        return list(range(7))
    days: set[int] = set()
    for part in text.lower().split(","):
        first, _, last = part.strip().partition("-")
        if first[:3] not in DAY_NAMES or (last and last[:3] not in DAY_NAMES):
            raise CommandError(f"--days {text!r}: use day names like mon-fri or mon,wed,sat")
        a, b = DAY_NAMES[first[:3]], DAY_NAMES[(last or first)[:3]]
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return sorted(days)


def status_of(campaign: Campaign) -> dict[str, Any]:
    counts = dict(campaign.leads.values_list("state").annotate(n=Count("pk")).values_list("state", "n"))
    results = dict(
        Attempt.objects.filter(lead__campaign=campaign).exclude(result="").values_list("result")
        .annotate(n=Count("pk")).values_list("result", "n")
    )
    return {
        "id": campaign.pk, "name": campaign.name, "bot": campaign.bot.slug, "state": campaign.state,
        "leads": sum(counts.values()), "by_state": {state: counts.get(state, 0) for state in Lead.State.values},
        "attempts": sum(results.values()) + Attempt.objects.filter(lead__campaign=campaign, result="").count(),
        "attempt_results": results,
        "started_at": campaign.started_at.isoformat() if campaign.started_at else None,
        "finished_at": campaign.finished_at.isoformat() if campaign.finished_at else None,
    }


class Command(BaseCommand):
    help = "Create and run outbound campaigns (docs/campaigns.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="a new campaign (draft until started)")
        create.add_argument("--bot", required=True, help="the bot's slug")
        create.add_argument("--name", required=True)
        create.add_argument("--caller-id", default="", help="E.164 caller id; default TWILIO_FROM_NUMBER")
        create.add_argument("--time-zone", default="UTC", help="for leads without their own")
        create.add_argument("--hours", default="09:00-20:00", help="local calling hours, HH:MM-HH:MM")
        create.add_argument("--days", default="mon-fri", help="mon-fri, mon,wed,sat or all")
        create.add_argument("--max-lines", type=int, default=5)
        create.add_argument("--max-attempts", type=int, default=3)
        for result, default in (("no-answer", 60), ("busy", 10), ("failed", 30), ("voicemail", 240)):
            create.add_argument(f"--retry-{result}", type=int, default=default, help="minutes")
        create.add_argument("--voicemail-message", default="", help="say this on voicemail (default: hang up)")
        create.add_argument("--json", action="store_true")
        add = sub.add_parser("add-leads", help="import a CSV of leads (phone, name, time_zone, other columns)")
        add.add_argument("campaign", type=int)
        add.add_argument("csv", type=Path)
        add.add_argument("--region", default=None, help="country (e.g. IN) of numbers written without +")
        add.add_argument("--json", action="store_true")
        for name in ("start", "pause", "resume", "finish"):
            one = sub.add_parser(name)
            one.add_argument("campaign", type=int)
        status = sub.add_parser("status")
        status.add_argument("campaign", type=int, nargs="?")
        status.add_argument("--json", action="store_true")
        dnc = sub.add_parser("do-not-call", help="import numbers for the do-not-call list (one per line)")
        dnc.add_argument("csv", type=Path)
        dnc.add_argument("--region", default=None)
        dnc.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, "do_" + options["action"].replace("-", "_"))(options)

    def _campaign(self, pk: int) -> Campaign:
        campaign = Campaign.objects.select_related("bot").filter(pk=pk).first()
        if campaign is None:
            raise CommandError(f"no campaign {pk}")
        return campaign

    def _read(self, path: Path) -> str:
        try:
            return path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc

    def _say(self, options: dict[str, Any], data: dict[str, Any], text: str) -> None:
        self.stdout.write(json.dumps(data, indent=2) if options.get("json") else text)

    def do_create(self, options: dict[str, Any]) -> None:
        bot = Bot.objects.filter(slug=options["bot"]).first()
        if bot is None:
            raise CommandError(f"no bot {options['bot']!r}")
        start, end = parse_hours(options["hours"])
        message = options["voicemail_message"].strip()
        campaign = Campaign(
            name=options["name"], bot=bot, caller_id=options["caller_id"], time_zone=options["time_zone"],
            hours_start=start, hours_end=end, days=parse_days(options["days"]), max_lines=options["max_lines"],
            max_attempts=options["max_attempts"], retry_no_answer_min=options["retry_no_answer"],
            retry_busy_min=options["retry_busy"], retry_failed_min=options["retry_failed"],
            retry_voicemail_min=options["retry_voicemail"], voicemail_message=message,
            voicemail_action=Campaign.VoicemailAction.LEAVE_MESSAGE if message else Campaign.VoicemailAction.HANG_UP,
        )
        try:
            campaign.full_clean()
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        campaign.save()
        self._say(options, status_of(campaign), f"created campaign {campaign.pk} ({campaign.name}, draft)")

    def do_add_leads(self, options: dict[str, Any]) -> None:
        campaign = self._campaign(options["campaign"])
        try:
            report = import_csv(campaign, self._read(options["csv"]), region=options["region"])
        except BadLead as exc:
            raise CommandError(str(exc)) from exc
        lines = [f"{report.created} lead(s) added, {report.merged} merged into leads already there"
                 + (f", {report.do_not_call} on the do-not-call list" if report.do_not_call else "")]
        lines += [f"line {line}: {reason}" for line, reason in report.errors]
        self._say(options, report.as_dict(), "\n".join(lines))

    def do_start(self, options: dict[str, Any]) -> None:
        self._act(actions.start, options["campaign"], "running")

    def do_pause(self, options: dict[str, Any]) -> None:
        self._act(actions.pause, options["campaign"], "paused (calls in progress finish; no new dial starts)")

    def do_resume(self, options: dict[str, Any]) -> None:
        self._act(actions.resume, options["campaign"], "running again")

    def do_finish(self, options: dict[str, Any]) -> None:
        self._act(actions.finish, options["campaign"], "finished (nobody more is called)")

    def _act(self, action: Any, campaign_id: int, done: str) -> None:
        try:
            action(campaign_id)
        except actions.CampaignActionError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"campaign {campaign_id} {done}")

    def do_status(self, options: dict[str, Any]) -> None:
        campaigns = [self._campaign(options["campaign"])] if options["campaign"] else list(Campaign.objects.select_related("bot"))
        data = [status_of(c) for c in campaigns]
        if options["json"]:
            self.stdout.write(json.dumps(data[0] if options["campaign"] else data, indent=2))
            return
        for item in data:
            states = ", ".join(f"{state} {n}" for state, n in item["by_state"].items() if n)
            self.stdout.write(f"{item['id']} {item['name']} [{item['state']}] {item['leads']} lead(s): {states or 'none'}")

    def do_do_not_call(self, options: dict[str, Any]) -> None:
        report = import_do_not_call(self._read(options["csv"]), region=options["region"])
        lines = [f"{report.created} number(s) added to the do-not-call list, {report.merged} already on it"]
        lines += [f"line {line}: {reason}" for line, reason in report.errors]
        self._say(options, report.as_dict(), "\n".join(lines))

