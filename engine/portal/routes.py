"""The portal's addresses, under /portal (engine.portal.screens), and the public forms at /forms (engine.portal.public)."""
from __future__ import annotations

from starlette.routing import Route

from engine.app.runtime import Runtime
from engine.portal.public import PublicScreens


def make_routes(rt: Runtime) -> list:
    s = PublicScreens(rt)  # the portal's screens, and the public forms beside them
    return [
        Route("/forms/{name}", s.public_page, methods=["GET"]),
        Route("/forms/{name}", s.public_submit, methods=["POST"]),
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
