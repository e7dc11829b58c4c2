from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from stvos.kit.errors import NotFound
from stvos.kit.policy import Auth, allow
from stvos.kit.routing import API_PREFIX, api_router

router = api_router(tags=["docs"], include_in_schema=False)

# Swagger UI's assets ship inside the fastapi-offline wheel; served from here, not a CDN.
_ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon.png": "image/png",
}


@router.get("/openapi.json", dependencies=[allow(Auth.PUBLIC)])
async def openapi_document(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs", dependencies=[allow(Auth.PUBLIC)])
async def docs_page(request: Request) -> HTMLResponse:
    base = request.scope.get("root_path", "") + API_PREFIX
    return get_swagger_ui_html(
        openapi_url=f"{base}/openapi.json",
        title="stvos API",
        swagger_js_url=f"{base}/docs/assets/swagger-ui-bundle.js",
        swagger_css_url=f"{base}/docs/assets/swagger-ui.css",
        swagger_favicon_url=f"{base}/docs/assets/favicon.png",
    )


@router.get("/docs/assets/{name}", dependencies=[allow(Auth.PUBLIC)])
async def docs_asset(name: str) -> FileResponse:
    media_type = _ASSETS.get(name)
    if media_type is None:
        raise NotFound("No such asset")
    return FileResponse(
        _ASSETS_DIR / name,
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=86400"},
    )
