# The app image: webhooks (gunicorn) and the action server. Rasa runs from rasa/rasa:3.6.21.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

COPY pyproject.toml requirements.lock README.md ./
COPY puente ./puente
COPY webhooks ./webhooks
COPY actions ./actions
RUN pip install --no-cache-dir -c requirements.lock .

# The catalogs, the migrations and the NLU data (the language detector learns from it).
COPY alembic.ini babel.cfg ./
COPY migrations ./migrations
COPY locales ./locales
COPY nlu_data ./nlu_data
RUN pybabel compile -d locales -D messages

RUN useradd --system --uid 10001 puente
USER puente
EXPOSE 5000 5055
CMD ["gunicorn", "--bind", "0.0.0.0:5000", "--worker-class", "gthread", "--workers", "2", "--threads", "8", "webhooks:create_app()"]
