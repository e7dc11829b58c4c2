"""Partners of a client (gyms, corporates, resellers) and their staff logins; the partner
portal (vouchers, members, billing) grows here."""
