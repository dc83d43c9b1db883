"""The playground: the built `web/dist` served at `/`, after every API route.

Build it with `npm ci && npm run build` in `web/`. Without a build, `/` says how to make one and
the API works as before. Hashed bundles under `/assets/` are cached for good; the page itself is
revalidated on every load, so a new build is picked up at once.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
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


class WebFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code < 400:
            immutable = path.startswith("assets/")
            response.headers["Cache-Control"] = (
                "public, max-age=31536000, immutable" if immutable else "no-cache"
            )
        return response


def mount(app: FastAPI, directory: Path = WEB_DIST) -> None:
    """Serve the playground at `/`; call after including every API router."""
    if (directory / "index.html").is_file():
        app.mount("/", WebFiles(directory=directory, html=True), name="web")
        return

    @app.get("/", include_in_schema=False)
    async def not_built() -> HTMLResponse:
        return HTMLResponse(NOT_BUILT, status_code=503)
