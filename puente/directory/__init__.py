"""The directory: places, their policies, the coalitions and legal clinics that serve them, hearings.

Coordinators keep it as one file (CONTRACTS.md, "Directory file, version 1"):
`schema` validates it, `store` imports and exports it, `places` finds the places a
message names, `answers` looks up what to tell a person about a place.
"""
