"""The studio back office (``/manage/*``): what a client's own staff run for their app."""
