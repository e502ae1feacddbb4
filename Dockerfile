# The app images: `webhooks` (gunicorn), `worker` (the job queue's consumer) and `actions`
# (the rasa-sdk action server), from one base. Rasa itself runs from rasa/rasa:3.6.21. Build one with
#   docker build --target webhooks .   (compose names the target for each service)
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_PYTHON_DOWNLOADS=never \
    # The package is installed into site-packages; its data (catalogs, migrations,
    # NLU examples for the language detector, gunicorn.conf.py) stays here.
    PUENTE_ROOT=/app
WORKDIR /app
RUN pip install --no-cache-dir uv==0.13.9

COPY pyproject.toml requirements.lock README.md gunicorn.conf.py alembic.ini babel.cfg babel-dashboard.cfg ./
COPY puente ./puente
COPY webhooks ./webhooks
COPY dashboard ./dashboard
COPY actions ./actions
COPY migrations ./migrations
COPY locales ./locales
COPY nlu_data ./nlu_data

RUN useradd --system --uid 10001 puente && mkdir -p /app/var && chown puente /app/var

FROM base AS actions
# rasa-sdk and its Sanic server come with the `actions` extra, pinned by the lock file.
RUN uv pip install --system --no-cache -c requirements.lock '.[actions]' \
    && pybabel compile -d locales -D messages
USER puente
EXPOSE 5055
CMD ["python", "-m", "puente.action_server", "--host", "0.0.0.0", "--port", "5055"]

FROM base AS webhooks
RUN uv pip install --system --no-cache -c requirements.lock . \
    && pybabel compile -d locales -D messages && pybabel compile -d locales -D dashboard
USER puente
EXPOSE 5000
# Migrations first: idempotent, so every start is safe.
CMD ["sh", "-c", "puente db upgrade && exec gunicorn --config /app/gunicorn.conf.py"]

FROM base AS worker
# The same install as webhooks (one layer: Docker builds it once), no rasa-sdk.
RUN uv pip install --system --no-cache -c requirements.lock . \
    && pybabel compile -d locales -D messages && pybabel compile -d locales -D dashboard
USER puente
# SIGTERM (docker stop) lets the tasks running finish, for up to 8 s.
CMD ["puente", "worker"]
