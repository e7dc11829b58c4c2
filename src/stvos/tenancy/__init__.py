"""Clients (tenants), their API keys, the universal key and the default client."""
