"""One call's runtime: plain asyncio code, with no socket and no ORM, testable without either.

Lives here: `pipeline` (the coordinator: utterances in, dialogue, lines out),
`listener` and `endpointing` (caller audio to utterances), `speaker` and
`prompt_cache` (bot lines to paced audio), `limits` (per-call abuse limits),
`failures` (what a caller is told when the server fails), and `ports` (the
small interfaces the runtime is driven through: `Output`, `Clock`,
`CallRecords`, `CallRegistry`, `ListenerEvents`, `CallContext`).

May import: `calls.providers`, the leaf modules (`calls.audio`, `calls.metrics`),
`bots.dialogue` and `bots.understanding`, `config.logs`, and Django's settings.
Never `django.db`, `calls.models` or any layer above it (`calls.persistence`,
`calls.worker`, `calls.http`, `calls.transport`): those reach it through its ports.
"""
