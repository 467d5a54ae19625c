"""Security headers on every response: a strict Content-Security-Policy and its companions.

Why: pages show patient data, so no script may run unless it is our own file (no inline scripts, no CDN),
no other site may frame a page (clickjacking on the sign-off button), and a shared ward computer must not
serve a signed-in page from its cache after sign-out. Registered as a blueprint with no routes.
"""
from __future__ import annotations

from flask import Blueprint, current_app, request

bp = Blueprint("security", __name__)

# Scripts: only our own files under /static ('self'); no 'unsafe-inline', no 'unsafe-eval'.
# Styles: 'unsafe-inline' is kept for style attributes and the <style> element matplotlib writes into inline
# SVG charts; CSS cannot run code, and Jinja's autoescaping keeps user text out of attributes.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # for browsers without frame-ancestors
    "Referrer-Policy": "same-origin",  # subject ids in our URLs never leave in a Referer header
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


@bp.after_app_request
def add_security_headers(response):
    """Set the headers above (without overriding a view's own choice) and forbid caching of dynamic pages."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint != "static":
        # Signed-in pages and API answers carry patient data: never stored by the browser or a proxy.
        response.headers["Cache-Control"] = "no-store"
        response.headers.setdefault("Pragma", "no-cache")
    if str(current_app.config.get("BASE_URL", "")).startswith("https://"):
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response
