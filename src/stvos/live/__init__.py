"""Live and group classes on LiveKit: the schedule and its state machine, seats with a FIFO
waitlist, LiveKit rooms and participants, and attendance from LiveKit's webhooks."""
