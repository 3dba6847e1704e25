"""Lead delivery: signed webhooks (protocol §5) telling a customer's CRM about ended calls.

A self-contained integration (healthchecks' `hc/integrations/<name>/` shape):
`models` (Destination, Event = the frozen payload, Delivery = one event to one
destination, an outbox row), `events` (the rows written in the transaction that ends a
call, and the body of §5), `signing` (Standard Webhooks secrets and signatures through
the `standardwebhooks` package), `transport` (one HTTP POST: resolved-address check, no
redirects, bounded body, timeout), `queue` (the outbox queue: attempt, retry, 410,
destination health, metrics), `resend` and `health` (what staff do and see), `admin`,
`views`, `urls`, `templatetags`. docs/lead-delivery.md is the user's guide.

May import: `calls.outbox` (the durable task runner it runs on), `calls.models`,
`calls.metrics`, `bots` and Django. Never `calls.persistence` or anything above:
`calls.persistence.lifecycle` calls `events.record_call_end` inside the transaction
that stores a call's outcome. Imported by `calls.persistence`, `config` and `dashboard`
(its call page lists a call's deliveries).
"""
