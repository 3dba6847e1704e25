"""Phone lines (protocol §4): Twilio Media Streams and Exotel's Voicebot applet.

A phone call is a Call like any other (channel `phone`) driven by the same
`CallPipeline`; only the transport differs. This package holds what is
specific to carriers: the G.711 codec (`g711`), framing of bot audio into the
sizes carriers require (`media`), Twilio's webhooks, signatures and TwiML
(`webhooks`), its REST API (`twilio_rest`), outbound dialling (`outbound`) and
the two thin stream consumers (`streams`).

May import what `calls.transport` may.
"""
