"""The OpenAPI viewer, served whole from the package under a strict CSP.

Litestar's Swagger and ReDoc pages load their scripts from public CDNs (one of them an
unpinned `latest`) with no integrity check, and start them with an inline script. Here the
page at /schema/swagger loads Swagger UI from the `swagger-ui-bundle` package and a small
start-up script of ours, all from this server (`script-src 'self'`, nothing inline, nothing
from elsewhere). The document itself stays at /schema/openapi.json.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import swagger_ui_bundle
from litestar import Request, get
from litestar.exceptions import NotFoundException
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.params import FromPath
from litestar.response import Response

from coop.api.security import PUBLIC

ASSETS_PATH = "/schema/assets"
_BUNDLE = Path(swagger_ui_bundle.swagger_ui_path)
_ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
}
# the document beside the page, wherever the app is mounted (a society's /s/<name> too)
_START = rb"""window.addEventListener("load", function () {
  var root = window.location.pathname.replace(/\/schema(\/[^\/]*)?\/?$/, "");
  window.ui = SwaggerUIBundle({url: root + "/schema/openapi.json", dom_id: "#swagger-ui",
                               deepLinking: true});
});
"""


class PackagedSwagger(OpenAPIRenderPlugin):
    """Swagger UI from the package: no CDN, no inline script."""

    def __init__(self) -> None:
        super().__init__(path="/swagger", favicon="", style="")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return (
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<title>coop API</title>"
            f"<link rel='stylesheet' href='{ASSETS_PATH}/swagger-ui.css'></head>"
            "<body><div id='swagger-ui'></div>"
            f"<script src='{ASSETS_PATH}/swagger-ui-bundle.js'></script>"
            f"<script src='{ASSETS_PATH}/start.js'></script></body></html>"
        ).encode()


@get(f"{ASSETS_PATH}/{{name:str}}", opt=PUBLIC, sync_to_thread=False, include_in_schema=False)
def docs_asset(name: FromPath[str]) -> Response[bytes]:
    if name == "start.js":
        body, media_type = _START, "text/javascript; charset=utf-8"
    elif name in _ASSETS:
        body, media_type = (_BUNDLE / name).read_bytes(), _ASSETS[name]
    else:
        raise NotFoundException()
    return Response(body, media_type=media_type,
                    headers={"Cache-Control": "public, max-age=86400"})
