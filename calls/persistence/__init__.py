"""Everything a call writes to the database, and how it gets there without blocking a call.

Lives here: `lifecycle` (a call's writes as small sync functions: create, claim,
resume, turns, answers, latency, end, carrier status, the stale-call sweep),
`write_queue` (a call's writes in order on writer threads, batched, retried and
held through an outage), `records` (the runtime's `CallRecords` port over the
write queue), `broadcast` (dashboard updates after commit), `latency_stats`
(latency percentiles computed in the database), `recordings` (call recordings
from this host's spool into the recordings store, retried; their deletion).

May import: `calls.models`, `calls.delivery` (`lifecycle` writes a call's lead
webhook events in the transaction that ends it), `calls.runtime.ports` (the
`CallContext` it builds), the leaf modules and `bots`. Imported by the layers above: `calls.worker`,
`calls.http`, `calls.transport`, and by `dashboard`.
"""
