"""The worker process's own bookkeeping: which calls it runs and whether it takes more.

Lives here: `registry` (the one registry of live calls, `live_calls`),
`admission` (a full worker says "busy", protocol §3, shared across workers
through Redis), `drain` (stop without cutting calls), `heartbeat` (stamps live
calls in the database and closes the calls a dead worker left).

May import: `calls.persistence`, `calls.runtime` (its ports), `calls.providers`
and the leaf modules. Imported by `calls.http`, `calls.transport` and `config`.
"""
