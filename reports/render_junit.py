"""JUnit XML from report data: one test case per formula, a failure when the verdict differs from
the expectation (a formula expected to hold that does not, or an erratum that holds after all).

Each case carries its verdict and diagnosis in system-out, so a CI test view shows them next to the
pass/fail mark; the suite carries the run's environment as properties. The file follows the JUnit
schema pytest checks its own output against (junit-10.xsd: no properties inside a test case);
tests/test_junit_schema.py validates it. ElementTree does the XML escaping.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from . import format as fmt

# Characters XML 1.0 cannot hold at all (ElementTree would write them and make the file unreadable).
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _safe(value) -> str:
    return _NOT_XML.sub("\ufffd", str(value))


def _classname(document: str) -> str:
    """backprop_audit.<document without its extension>: a CI view splits class names at dots."""
    stem = document.rsplit("/", 1)[-1]
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    return "backprop_audit." + re.sub(r"[^A-Za-z0-9_-]", "_", stem)


def _case(f: dict) -> ET.Element:
    case = ET.Element("testcase", classname=_safe(_classname(f["source"]["document"])),
                      name=_safe(f["id"]), time=f"{f['seconds']:.3f}")
    details = [f"{f['title']}", f"verdict: {f['verdict']} (expected {f['expected']})",
               f"examples: {f['examples']}; worst error / tolerance: {fmt.worst_text(f)}"]
    if f.get("diagnosis"):
        details.append(f"diagnosis: {f['diagnosis']}")
    if f.get("counterexample"):
        details.append(f"counterexample: {f['counterexample']['description']}")
        details.append(f["counterexample"]["message"])
    if not f["matches_expectation"]:
        expectation = "hold" if f["expected"] == "holds" else "fail (a known erratum)"
        failure = ET.SubElement(case, "failure", type="VerdictChanged",
                                message=_safe(f"verdict {f['verdict']}, expected the formula to {expectation}"))
        failure.text = _safe("\n".join(details))
    ET.SubElement(case, "system-out").text = _safe("\n".join(details))
    return case


def render_junit(report: dict) -> str:
    formulas = report["formulas"]
    suite = ET.Element("testsuite", name="backprop-audit", tests=str(len(formulas)),
                       failures=str(sum(not f["matches_expectation"] for f in formulas)), errors="0",
                       skipped="0", time=f"{sum(f['seconds'] for f in formulas):.3f}",
                       timestamp=str(report.get("generated", "")))
    properties = ET.SubElement(suite, "properties")
    for name, value in sorted((report.get("environment") or {}).items()):
        if isinstance(value, (str, int, float)) or value is None:
            ET.SubElement(properties, "property", name=_safe(name), value=_safe("" if value is None else value))
    suite.extend(_case(f) for f in formulas)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
