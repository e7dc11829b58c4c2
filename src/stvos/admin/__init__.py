"""Platform administration: admin sign-in, clients, their API keys and staff, the universal key."""
