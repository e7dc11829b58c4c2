"""Trainers: profiles, the invites that give trainers their own login, and (later) the trainer
portal, availability and bookings."""
