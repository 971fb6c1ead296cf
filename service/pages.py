"""How the reviewer page is rendered: its Jinja2 templates, its security headers, its problem page.

Kept apart from the handlers so the page's sign-in check (`service.auth`) can answer with a
page too, without importing the handlers.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from service.charts import fmt_value
from service.text import page_text
from service.vocabulary import DECISION_LABELS, STATUS_OF_DECISION

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.filters |= {"value": fmt_value, "user_text": page_text}  # user_text: names and comments
templates.env.globals |= {"decision_labels": DECISION_LABELS, "status_of_decision": STATUS_OF_DECISION}

# No scripts at all, nothing from elsewhere, and no framing (a framed review form could be clickjacked).
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'none'; style-src 'self' 'unsafe-inline'; "
                               "frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}


def page(request: Request, name: str, context: dict, status: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status, headers=PAGE_HEADERS)


def problem_page(request: Request, who, status: int, message: str, **extra) -> HTMLResponse:
    """A 4xx or 503 as a page, naming what went wrong (`who`: the signed-in TokenInfo, or None).

    `extra` goes to the template: `suggestions`, the nearest country names for a 404.
    """
    context = {"who": who, "status": status, "message": message, "suggestions": []} | extra
    return page(request, "problem.html", context, status)
