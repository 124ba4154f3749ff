"""Fixture for tests/test_check_claims.py: claims with an unknown or a wrong-typed field, built by a
helper, around one valid claim. Each is lost alone, named with its field and its own line in CLAIMS
(not the helper's line)."""
from backprop_audit import Formula, Setting, Source

SOURCE = Source("fixture", "bad_fields.py", "records with unknown or wrong-typed fields")


def output_error(v):
    return v.a[v.L] - v.y


def claim(id, setting=None, **changes):
    fields = dict(id=id, title=id, source=SOURCE, written="-", convention="column", quantity="dC/dz[L]",
                  setting=setting or Setting(output=("identity",), loss=("half_sum_sq",)), compute=output_error)
    return Formula(**{**fields, **changes})


CLAIMS = [
    claim("bad-fields-unknown-formula-field", qantity="dC/dz[L]"),  # misspelt quantity
    claim("bad-fields-unknown-setting-field", Setting(output=("identity",), loss=("half_sum_sq",), dept=(1, 2))),
    claim("bad-fields-depth-not-a-pair", Setting(output=("identity",), loss=("half_sum_sq",), depth=3)),
    claim("bad-fields-fractional-width", Setting(output=("identity",), loss=("half_sum_sq",), width=(1.5, 3.0))),
    claim("bad-fields-hidden-not-a-tuple", Setting(hidden=3, output=("identity",), loss=("half_sum_sq",))),
    claim("bad-fields-valid"),
]
