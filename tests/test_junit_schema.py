"""The JUnit file validates against the schema pytest checks its own junitxml output with (junit-10.xsd)."""
import functools
import json
from pathlib import Path

import pytest

from backprop_audit.reports.render_junit import render_junit

HERE = Path(__file__).parent


@functools.cache
def schema():
    """The schema, read on first use: importing xmlschema and parsing the schema is ~0.5 s, which every pytest-xdist
    worker paid at collection when it was read at import."""
    import xmlschema

    return xmlschema.XMLSchema(HERE / "junit-10.xsd")


@pytest.fixture
def report():
    return json.loads((HERE / "test_report_fixture.json").read_text())


def test_junit_validates_against_junit_10_xsd(report):
    schema().validate(render_junit(report))


def test_the_schema_check_can_fail(report):
    broken = render_junit(report).replace("<system-out>", "<properties /><system-out>", 1)
    import xmlschema

    with pytest.raises(xmlschema.XMLSchemaValidationError):
        schema().validate(broken)


def test_classnames_name_the_document_without_its_extension(report):
    import xml.etree.ElementTree as ET

    names = {case.get("classname") for case in ET.fromstring(render_junit(report)).iter("testcase")}
    assert names and not any(name.endswith((".txt", "_txt")) for name in names)
    assert all(name.startswith("backprop_audit.") for name in names)
