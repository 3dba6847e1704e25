"""Phone lines (protocol.md §4): Twilio Media Streams and Exotel's Voicebot applet.

A phone call is a Call like any other (channel `phone`) driven by the same
`CallPipeline`; only the transport differs. This package holds what is
specific to carriers: the G.711 codec (`g711`), framing of bot audio into the
sizes carriers require (`media`), Twilio's webhooks, signatures, TwiML and REST
API (`twilio_api`, `views`) and the two thin stream consumers (`consumers`).
"""
