"""One call's runtime: plain asyncio code, with no socket and no ORM, testable without either.

Lives here: `pipeline` (the coordinator, `CallPipeline`: it only wires the parts
below), `call_lifecycle` (running → leaving → finishing → closed, the one
`finish()` whose teardown always runs), `tasks` (the one owner of every task and
timer a call starts), `protocol` (client frames → typed commands; the input guard
over `limits`, the per-call abuse limits), `listener` and `endpointing` (caller
audio → utterances), `second_listen` (an answer heard again before a re-ask or a
check, the rest of a paused answer waited for), `turns` (the bounded queue of caller
turns, held words),
`silence` (the silence watch), `replies` (the bot's side of a turn), `speaker`,
`pacing`, `voices` and `prompt_cache` (bot lines → paced audio through the TTS
stack and the cache), `latency` (per-turn stage timings), `engines` (the
providers a call uses), `failures` (what a caller is told when the server
fails), `recorder` and `ogg_writer` (the call's recording: both sides on its
clock, stereo Ogg Opus written page by page by one encoder thread), and `ports`
(the small interfaces the runtime is driven through: `Output`, `Clock`,
`CallRecords`, `CallRegistry`, `ListenerEvents`, `CallContext`, `CallAudio`).

May import: `calls.providers`, the leaf modules (`calls.audio`, `calls.metrics`),
`bots.dialogue` and `bots.understanding`, `config.logs`, and Django's settings.
Never `django.db`, `calls.models` or any layer above it (`calls.persistence`,
`calls.worker`, `calls.http`, `calls.transport`): those reach it through its ports.
"""
