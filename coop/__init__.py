"""coop: the books of a member-owned savings and credit co-operative."""

__version__ = "0.1.0"
