"""Gunicorn settings for webhooks: the one file `make run`, the Dockerfile and compose use.

The address comes from Puente's own settings (HOST, PORT, and `.env`), so every way
of starting webhooks listens where the README says.
"""

from puente.config import load_settings

_settings = load_settings()

wsgi_app = "webhooks:create_app()"
bind = f"{_settings.host}:{_settings.port}"
# Threads, not processes, carry the wait on Rasa: a reply spends most of its time there.
worker_class = "gthread"
workers = 2
threads = 8
# Twilio gives up after 15 s; a request still running at 30 s is stuck, not slow.
timeout = 30
# No access log: a request line carries no phone number, but nothing is gained by it.
accesslog = None
