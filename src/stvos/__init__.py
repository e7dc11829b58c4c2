"""stvos: a multi-tenant fitness operating system."""

__version__ = "0.1.0"
