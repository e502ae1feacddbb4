"""Puente's rasa-sdk action server: one module per capability, thin, calling the core.

Run with `python -m rasa_sdk --actions actions`.
"""
