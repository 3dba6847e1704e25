"""The HTTP edge of calls: the JSON API of the call protocol (§1), its auth and error bodies.

Lives here: `api` (list bots, start a call, read a call), `auth` (bearer
credentials), `errors` (JSON error bodies, the /api/ exception middleware),
`tokens` (signed call tokens), `clientip` (the real client behind trusted proxies),
`recordings` (signed, expiring links to a call's recording, served with ranges).

May import: `calls.worker`, `calls.persistence`, `calls.runtime`, `calls.providers`,
the leaf modules (`calls.models`, `calls.metrics`, `calls.audio`) and `bots`.
Imported by: `calls.transport`, `calls.urls`, `config`, `dashboard`.
"""
