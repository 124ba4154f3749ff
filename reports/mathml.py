"""A formula's LaTeX as MathML, made when the report is written (latex2mathml), checked before it is used.

Browsers render MathML themselves, so report.html shows the formulas as mathematics with no script, no
font and no fetch. latex2mathml's output is not trusted as HTML: it copies `\\text{...}` verbatim
(`\\text{<b>}` comes out as a <b> element) and turns `\\href` into an attribute. So the output is parsed,
every element must be a MathML presentation element and every attribute a presentational one with a
plain value, and the page gets a fresh serialization of that tree, every text escaped. Whatever fails
any of this (latex2mathml raising on a command it does not know included) gives None, and the report
shows the LaTeX source instead.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html import escape

from latex2mathml.converter import convert

NAMESPACE = "{http://www.w3.org/1998/Math/MathML}"
ELEMENTS = frozenset("""math mi mn mo ms mtext mspace mrow mfrac msqrt mroot mstyle merror mpadded mphantom
    menclose msub msup msubsup munder mover munderover mmultiscripts mprescripts none mtable mtr mtd""".split())
ATTRIBUTES = frozenset("""display displaystyle scriptlevel mathvariant mathsize stretchy fence separator form
    lspace rspace width height depth accent accentunder movablelimits symmetric minsize maxsize largeop
    linethickness columnalign rowalign columnlines rowlines columnspacing rowspacing frame notation""".split())
PLAIN_VALUE = re.compile(r"[A-Za-z0-9.%# -]{0,40}")


class _Refused(ValueError):
    """The converter's output holds something that is not plain presentation MathML."""


def _serialize(element: ET.Element) -> str:
    tag = element.tag.removeprefix(NAMESPACE)
    if tag not in ELEMENTS:
        raise _Refused(tag)
    attributes = []
    for name, value in element.attrib.items():
        if name not in ATTRIBUTES or not PLAIN_VALUE.fullmatch(value):
            raise _Refused(name)
        attributes.append(f' {name}="{escape(value)}"')
    inner = escape(element.text or "", quote=False) + "".join(
        _serialize(child) + escape(child.tail or "", quote=False) for child in element)
    return f"<{tag}{''.join(attributes)}>{inner}</{tag}>"


def mathml(latex: str) -> str | None:
    """The formula as a block <math> element, or None when it cannot be converted safely."""
    try:
        tree = ET.fromstring(convert(latex, display="block"))
        return _serialize(tree)
    except Exception:  # latex2mathml raises many kinds on LaTeX it does not know; each means "show the source"
        return None
