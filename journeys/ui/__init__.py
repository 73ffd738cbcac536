"""The Dash app (the only part of Care Journeys that imports dash): pages call the core, nothing else.

    create_app(state) -> Dash      build the app over an AppState
    serve(app, host, port)         serve it with waitress (127.0.0.1 by default)
"""

from __future__ import annotations

from pathlib import Path

from dash import Dash

from journeys.ui import shell
from journeys.ui.pages import data, flows, journeys_page, overview
from journeys.ui.security import secure_headers
from journeys.ui.state import AppState

ASSETS = Path(__file__).resolve().parents[2] / "assets"
#: Dash's page with the language declared (WCAG 3.1.1) and its scripts outside a second <footer> landmark.
INDEX_STRING = """<!DOCTYPE html>
<html lang="en-GB">
    <head>
        {%metas%}
        <title>{%title%}</title>
        {%favicon%}
        {%css%}
    </head>
    <body>
        {%app_entry%}
        {%config%}
        {%scripts%}
        {%renderer%}
    </body>
</html>"""
__all__ = ["AppState", "create_app", "serve"]


def create_app(state: AppState) -> Dash:
    """A multi-page Dash app over `state`; every script, style and font is served by the app itself."""
    app = Dash(
        "journeys.ui", use_pages=True, pages_folder="", assets_folder=str(ASSETS), serve_locally=True,
        suppress_callback_exceptions=True, title="Care Journeys", update_title="",  # no 'Updating...' flicker in the tab title
        include_assets_files=True, compress=False, index_string=INDEX_STRING,
    )
    for page in (overview, journeys_page, flows, data):
        page.register(app, state)
    shell.register(app, state)
    app.layout = lambda: shell.shell(state)
    secure_headers(app)
    app.server.config["MAX_CONTENT_LENGTH"] = data.MAX_UPLOAD_BYTES
    return app


def serve(app: Dash, host: str = "127.0.0.1", port: int = 8050, threads: int = 4) -> None:
    """Serve with waitress, a production WSGI server that also runs on the Windows machines councils use."""
    import signal
    import sys

    from waitress import serve as waitress_serve

    # a service manager (or a test) stops the app with SIGTERM: exit normally, so temporary uploads are removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    print(f"Care Journeys is running at http://{host}:{port}/ (press Ctrl+C to stop)", flush=True)
    waitress_serve(app.server, host=host, port=port, threads=threads, ident="care-journeys")
