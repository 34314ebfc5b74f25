"""The HTTP API (Litestar). The only package that imports Litestar."""

from coop.api.app import API_BASE, create_app

__all__ = ["API_BASE", "create_app"]
