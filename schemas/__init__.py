"""FintraOS Open Standard models, money, envelopes, events and records."""
