"""The campaign part of lead delivery's body (protocol §5): every `call.ended` and
`lead.qualified` says which campaign and lead a call came from, with the lead's extra
fields (the CSV columns or the web form's `fields`), so a CRM can match it to its own record.
Calls from no campaign carry `"campaign": null` and empty `lead_fields`."""
from __future__ import annotations

from typing import Any

from calls.models import Call
from campaigns.models import Attempt


def campaign_part(call: Call) -> dict[str, Any]:
    attempt = Attempt.objects.filter(call_id=call.pk).select_related("lead__campaign").first()
    if attempt is None:
        return {"campaign": None, "lead_fields": {}}
    lead = attempt.lead
    return {
        "campaign": {"id": lead.campaign_id, "name": lead.campaign.name, "lead_id": lead.pk, "attempt": attempt.number},
        "lead_fields": dict(lead.fields),
    }
