"""Speech providers behind one small interface each (`base`): ASR, TTS, VAD, swapped by settings.

`registry` builds the configured ones (offline engines by default; OpenAI and
ElevenLabs when their keys are set); `retry` is the shared retry and circuit
breaker for cloud vendors; `asyncio_net` is the OpenAI SDK's network backend.

May import only the leaf modules (`calls.audio`, `calls.metrics`); every layer
of `calls` above may import it.
"""
