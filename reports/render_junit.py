"""JUnit XML from report data: one test case per formula, a failure when the verdict differs from
the expectation (a formula expected to hold that does not, or an erratum that holds after all).

Each case carries its verdict and diagnosis as properties and in system-out, so a CI test view shows
them next to the pass/fail mark. ElementTree does the XML escaping.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from . import format as fmt

# Characters XML 1.0 cannot hold at all (ElementTree would write them and make the file unreadable).
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _safe(value) -> str:
    return _NOT_XML.sub("\ufffd", str(value))


def _case(f: dict) -> ET.Element:
    case = ET.Element("testcase", classname=_safe(f"backprop_audit.{f['source']['document']}"),
                      name=_safe(f["id"]), time=f"{f['seconds']:.3f}")
    properties = ET.SubElement(case, "properties")
    for name, value in (("verdict", f["verdict"]), ("expected", f["expected"]), ("examples", f["examples"]),
                        ("worst_error_ratio", fmt.worst_text(f)), ("diagnosis", f.get("diagnosis") or "")):
        ET.SubElement(properties, "property", name=name, value=_safe(value))
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
    suite.extend(_case(f) for f in formulas)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
