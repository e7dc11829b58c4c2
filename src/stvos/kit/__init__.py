"""Domain-free building blocks: database, tenancy, envelopes, errors, security, limits, clock."""
