"""What staff and operators do to a campaign: start, pause, resume, finish. One place for
the rules, so the admin, the dashboard's buttons and `manage.py campaign` behave alike.

- start: a draft, paused or finished campaign with leads still to call runs; the dialer is
  woken when the change commits, so due leads are dialled within seconds (a finished
  campaign also runs again by itself when a new lead arrives: a web form's campaign);
- pause: no new dial starts; calls in progress finish (their outcomes still count);
- resume: the same as start for a paused campaign;
- finish: nobody more is called; waiting leads stay as they are (start again to go on).
Each returns the campaign as stored, or raises CampaignActionError saying why not.
"""
from __future__ import annotations

from django.db import transaction

from calls.outbox.runner import wake_on_commit
from campaigns import clock
from campaigns.models import FINAL_STATES, Campaign


class CampaignActionError(Exception):
    """The action does not apply to the campaign as it is (the message says why)."""


def _locked(campaign_id: int) -> Campaign:
    campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
    if campaign is None:
        raise CampaignActionError(f"no campaign {campaign_id}")
    return campaign


def start(campaign_id: int) -> Campaign:
    with transaction.atomic():
        campaign = _locked(campaign_id)
        if campaign.state == Campaign.State.RUNNING:
            return campaign
        if not campaign.leads.exclude(state__in=FINAL_STATES).exists():
            raise CampaignActionError(f"campaign {campaign_id} has no lead left to call: add leads first")
        if not campaign.bot.active:
            raise CampaignActionError(f"the bot {campaign.bot.slug!r} is not active")
        campaign.state, campaign.finished_at = Campaign.State.RUNNING, None
        campaign.started_at = campaign.started_at or clock.now()
        campaign.save(update_fields=["state", "finished_at", "started_at"])
        wake_on_commit()
        return campaign


def pause(campaign_id: int) -> Campaign:
    with transaction.atomic():
        campaign = _locked(campaign_id)
        if campaign.state not in (Campaign.State.RUNNING, Campaign.State.PAUSED):
            raise CampaignActionError(f"campaign {campaign_id} is {campaign.state}: only a running campaign pauses")
        campaign.state = Campaign.State.PAUSED
        campaign.save(update_fields=["state"])
        return campaign


def resume(campaign_id: int) -> Campaign:
    with transaction.atomic():
        if _locked(campaign_id).state != Campaign.State.PAUSED:
            raise CampaignActionError(f"campaign {campaign_id} is not paused")
    return start(campaign_id)


def finish(campaign_id: int) -> Campaign:
    with transaction.atomic():
        campaign = _locked(campaign_id)
        campaign.state, campaign.finished_at = Campaign.State.FINISHED, campaign.finished_at or clock.now()
        campaign.save(update_fields=["state", "finished_at"])
        return campaign
