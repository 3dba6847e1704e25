"""What the tests and the benches both need to drive the product from outside.

Lives here:
- `callclient`: the one client of our call protocol (HTTP start + the call's
  WebSocket), over `servers`: the ASGI application in this process (Channels'
  test communicator) or a running server over real sockets;
- `typed_call`: one typed call against a running server (`python -m devtools.typed_call URL`,
  the container image's smoke test);
- `liveserver`: a production worker (`python -m config.server`) in a subprocess;
- `fakecloud`, `faketwilio`: local servers speaking the cloud vendors' and
  Twilio's exact wire formats (the fakes sit at the network edge only);
- `phoneline`: the carrier's side of Twilio Media Streams and Exotel's stream;
- `speech`: real caller speech (espeak-ng clips, noise, silence).
The pytest fixtures over these live in tests/conftest.py; percentiles are the
product's own (`calls.percentile`), so a bench and the dashboard agree.

May import: the product (`calls`, `bots`, `config`) and test-only libraries.
Imported by: `tests/` and `bench/` only. Product code never imports devtools
(`.importlinter` forbids it), and the container image leaves it out (.dockerignore).
"""
