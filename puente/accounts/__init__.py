"""Dashboard accounts: users and their roles, argon2 password hashes, login throttling, the audit log.

A core capability, like the directory or broadcasts: the dashboard (an entry point) and the
`puente users` commands call it; neither decides who may do what on its own.
"""
