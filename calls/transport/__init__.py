"""The socket edges of a call: each a thin adapter between a wire format and the runtime.

Lives here: `sockets` (what every call socket shares: frames first, claiming,
teardown), `browser` (the call socket of protocol §2), `phone/` (Twilio Media
Streams and Exotel's Voicebot stream, G.711, carrier framing, Twilio's webhooks
and REST API: protocol §4), `routing` (the socket URLs).

A transport decodes what the client sends into calls on `CallPipeline`
(`calls.runtime`) and implements its `Output`; it holds no dialogue or ORM code:
database work goes through `calls.persistence`, capacity through `calls.worker`.

May import every layer below it: `calls.http` (tokens, error bodies),
`calls.worker`, `calls.persistence`, `calls.runtime`, `calls.providers`, and the
leaf modules. Nothing in `calls` imports it but `calls.urls`; `config.asgi` routes to it.
"""
