"""The web pages behind reveal links (Starlette), served next to the bot."""

from bot.web.app import build_web, listen_web, serve_web

__all__ = ["build_web", "listen_web", "serve_web"]
