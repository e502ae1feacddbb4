"""Messaging: compliance keywords, TwiML rendering, and (later) the one outbound sender."""
