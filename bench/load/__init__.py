"""Load bench: N simulated callers at once against the production setup, on loopback.

    .venv/bin/python -m bench.load --calls 300 --mode push_to_talk --workers 2
        (DATABASE_URL=... REDIS_URL=... in the environment)

It starts everything itself and stops it at the end (or after --max-seconds):
- the cloud stand-in (devtools/fakecloud.py: OpenAI transcription and ElevenLabs
  streaming speech over real HTTP) with settable latency, in its own process;
  every transcription answers --transcript, which qualifies on both shipped bots;
- the server: `scripts/serve.sh` (what `make serve` runs) with WORKERS, on a free
  127.0.0.1 port, using DATABASE_URL / REDIS_URL from this environment
  (--local: no cloud keys, the local engines do the speech work);
- N callers (--procs processes of asyncio clients), started over --ramp seconds.

Each caller starts a call over HTTP, then for every question listens to the bot
line for as long as it plays (audio arrives paced; the caller waits until its
last sample would have played) and answers:
- push_to_talk: a real espeak-ng clip streamed in 20 ms frames in real time,
  then `end_of_speech` after --release-ms; timed from `end_of_speech` sent;
- vad (hands-free): the clip, then the microphone keeps streaming silence in real
  time; timed from the frame holding the last spoken sample;
- text: a typed answer; timed from sending it;
to the first bot audio frame that follows (client side).

It prints completed and failed calls (by reason), client response p50/p95/p99,
the server's own `response_ms` from the `latency` events, server CPU (cores busy)
and peak RSS of the whole server process tree, the machine load, and records
lost: for every call that ended on the socket, the stored call is read back
through `GET /api/calls/<id>/` and compared with what the socket said (status,
outcome, answers, turns, latency rows).

--restart-after S runs a rolling restart (`scripts/restart.sh`, what `make restart`
runs) S seconds after the first caller starts, while the calls go on (the drain
then gets DRAIN_S=120 unless --server-env sets it), and reports how long it took,
how many calls were in progress when it began and how many started during it.
--json PATH also writes the figures as JSON.
Loopback only; exits 1 if any call failed (a dropped call) or any record was lost,
or the rolling restart failed.

The parts: `caller` (one simulated caller, on devtools.callclient), `stack` (the
server, the cloud stand-in and the rolling restart), `procstats` (CPU, memory and
scheduling from /proc), `report` (the figures), `cli` (the run).
"""
