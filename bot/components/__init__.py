"""Custom Rasa graph components, imported by Rasa from `bot/config.yml` (Rasa venv only)."""
