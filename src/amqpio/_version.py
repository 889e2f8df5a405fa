"""The amqpio version (one place, importable without the package facade)."""

__version__ = "0.1.0.dev0"
