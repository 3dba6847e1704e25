"""Outbound campaigns (issue 30): call every new lead within a minute, at lawful hours,
with retries and answering-machine detection.

A self-contained Django app on top of `calls` and `bots`:
- `models`: Campaign, Lead, Attempt (one dial and its carrier result), DoNotCall, and the
  dialer's rows (Dial, an outbox row; Pacer, the account's calls-per-second slot);
- `calling_hours`: pure functions on a lead's calling window (time zones, midnight, DST);
- `phones`, `leads_in`: E.164 normalisation, CSV and API lead import, the do-not-call list;
- `dialer`: the planner (which leads to dial now, within every limit) and the outbox queue
  that places each call through Twilio's REST API with asynchronous AMD;
- `outcomes`: what a carrier callback or a call's end makes of an attempt and its lead
  (retry at the configured delay, or a final state);
- `callbacks`, `api`, `urls`: Twilio's status and AMD callbacks, `POST /api/campaigns/<id>/leads/`;
- `body`: the campaign part of lead delivery's `call.ended` / `lead.qualified` body;
- `admin`, `management/commands/campaign.py`: what staff and operators use (the live
  campaign page is the dashboard's: dashboard.campaign_views).
docs/campaigns.md is the user's guide.

May import: `calls` (models, outbox, delivery, persistence, worker, http, transport.phone's
Twilio client), `bots` and Django. Imported by nothing in `calls` or `bots` (lead delivery
and the call's end reach it through hooks it registers in `CampaignsConfig.ready`), only by
`config` (settings, URLs) and `dashboard` (a campaign page may read its models).
"""
