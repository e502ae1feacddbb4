"""Puente core: shared by the webhooks, the action server and the worker."""
