"""The playground: the built `web/dist` served at `/`, after every API route.

Build it with `npm ci && npm run build` in `web/`. Without a build, `/` says how to make one and
the API works as before. Hashed bundles under `/assets/` are cached for good; the page itself is
revalidated on every load, so a new build is picked up at once.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

WEB_DIST = Path(__file__).resolve().parents[2] / "web" / "dist"

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>jaula</title></head><body>
<h1>jaula</h1>
<p>The API is up (<a href="/docs">/docs</a>), but the playground is not built.
Build it with <code>npm ci &amp;&amp; npm run build</code> in <code>web/</code>, then reload.</p>
</body></html>
"""


# The playground loads nothing but its own bundles and talks to nothing but this API; what it
# shows of programs (output, names, messages) is set as text. The policy is the second line of
# defence should that ever slip: no inline or foreign script, no framing, no plugin. (CodeMirror
# injects its styles at run time, hence 'unsafe-inline' for styles only.)
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class WebFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code < 400:
            immutable = path.startswith("assets/")
            response.headers["Cache-Control"] = (
                "public, max-age=31536000, immutable" if immutable else "no-cache"
            )
            response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
            response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def api_reference(app: FastAPI, directory: Path = WEB_DIST) -> None:
    """The interactive API reference at /docs, from Swagger UI's files in the playground's build
    (FastAPI's default page fetches them from a CDN, which an offline service cannot reach)."""
    swagger = directory / "swagger"

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        openapi_url = app.openapi_url or "/openapi.json"
        title = f"{app.title}: API reference"
        if not (swagger / "swagger-ui-bundle.js").is_file():  # not built: the CDN's copy
            return get_swagger_ui_html(openapi_url=openapi_url, title=title)
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url="/swagger/swagger-ui-bundle.js",
            swagger_css_url="/swagger/swagger-ui.css",
            swagger_favicon_url="/swagger/favicon-32x32.png",
        )


def mount(app: FastAPI, directory: Path = WEB_DIST) -> None:
    """Serve the playground at `/`; call after including every API router."""
    if (directory / "index.html").is_file():
        app.mount("/", WebFiles(directory=directory, html=True), name="web")
        return

    @app.get("/", include_in_schema=False)
    async def not_built() -> HTMLResponse:
        return HTMLResponse(NOT_BUILT, status_code=503)
