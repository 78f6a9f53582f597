"""The portal's addresses, all under /portal (engine.portal.screens)."""
from __future__ import annotations

from starlette.routing import Route

from engine.app.runtime import Runtime
from engine.portal.screens import PortalScreens


def make_routes(rt: Runtime) -> list:
    s = PortalScreens(rt)
    return [
        Route("/portal", s.home, methods=["GET"]),
        Route("/portal/account", s.account, methods=["GET"]),
        Route("/portal/account", s.account_save, methods=["POST"]),
        Route("/portal/{entity}/new", s.new_form, methods=["GET"]),
        Route("/portal/{entity}/new", s.new_save, methods=["POST"]),
        Route("/portal/{entity}/{id}", s.record, methods=["GET"]),
        Route("/portal/{entity}/{id}/transitions/{name}", s.fire, methods=["POST"]),
        Route("/portal/{entity}/{id}/comments", s.write, methods=["POST"]),
        Route("/portal/{entity}/{id}/files/{file}", s.file, methods=["GET"]),
        Route("/portal/{entity}/{id}/document/{name}.pdf", s.document, methods=["GET"]),
    ]
