"""User-supplied text (token names, review comments) made safe to show, without changing what is stored.

Control characters can drive a terminal (ANSI escapes) and bidi embeddings, overrides and
isolates can make a comment read backwards; both are shown as visible escapes instead
(U+202E → `\\u202e`). On a page the text is also put in `<bdi>`, so right-to-left words stay
in their own box and cannot reorder the page's text around them.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

# C0 and C1 controls, DEL, bidi embeddings/overrides (U+202A–U+202E) and isolates (U+2066–U+2069),
# and the line/paragraph separators a terminal would break a row on.
_HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, keep: str = "") -> str:
    """`text` with each control or bidi-formatting character written as an escape (except those in `keep`)."""
    return _HIDDEN.sub(lambda m: m.group() if m.group() in keep else _escape(m), text)


def page_text(text: str | None) -> Markup:
    """User text for a page: HTML-escaped, controls and bidi formatting made visible, inside `<bdi>`.

    Line breaks and tabs are kept (a comment may have paragraphs).
    """
    return Markup("<bdi>{}</bdi>").format(escape(visible(text or "", keep="\n\r\t")))
