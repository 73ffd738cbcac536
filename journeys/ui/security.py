"""Nothing leaves the machine: a Content-Security-Policy naming only 'self', and no caching of responses.

The exceptions Dash and plotly need, each deliberate (DESIGN 7):
- script-src: the hashes of Dash's own inline scripts (`app.csp_hashes()`) and 'unsafe-eval',
  which plotly.js needs to compile some trace types;
- style-src 'unsafe-inline': React and plotly set inline styles on elements;
- img-src data: and blob:: plotly's picture export (PNG/SVG) draws to a data URL in the browser.
"""

from __future__ import annotations

from dash import Dash
from flask import Response, request


def content_security_policy(app: Dash) -> str:
    """The CSP header value for this app (computed after all callbacks are registered)."""
    hashes = " ".join(app.csp_hashes())  # already quoted: 'sha256-...'
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'unsafe-eval' {hashes}".strip(),
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


def secure_headers(app: Dash) -> None:
    """Add the CSP and related headers to every response, and refuse requests addressed to another host name.

    The Host check stops a web page elsewhere from reaching the app through DNS rebinding.
    """

    def check_host() -> Response | None:
        name = request.host.rsplit(":", 1)[0] if not request.host.startswith("[") else request.host.split("]")[0] + "]"
        if name not in LOCAL_HOSTS:
            return Response("Care Journeys answers only requests addressed to this computer (127.0.0.1 or localhost).",
                            status=403, mimetype="text/plain")
        return None

    app.server.before_request(check_host)
    policy: list[str] = []  # computed at the first response: Dash adds its inline scripts while setting up

    def add_headers(response: Response) -> Response:
        if not policy:
            policy.append(content_security_policy(app))
        response.headers["Content-Security-Policy"] = policy[0]
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        if not request.path.startswith(("/_dash-component-suites/", "/assets/")):  # code may be cached, data not
            response.headers["Cache-Control"] = "no-store"
        return response

    app.server.after_request(add_headers)
