"""Alerts: who gets which alerts, for which place, with the consent they gave.

Subscriptions are made by the person's own "YES" to a text that states exactly what
they will get (or imported with the consent provenance a coalition already holds).
STOP pauses them, START resumes them, DELETE erases them and leaves only a
suppression entry, so that no import or broadcast can bring the person back.
"""
