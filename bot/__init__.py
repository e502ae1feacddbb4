"""Puente's Rasa assistant. Only the custom NLU components here are Python."""
