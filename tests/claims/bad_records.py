"""Fixture for tests/test_check_command.py: records that are not well formed, one per problem, around
one valid claim that must still be checked. Each bad record is lost alone, with its line."""
from backprop_audit import Formula, Setting, Source

SOURCE = Source("fixture", "bad_records.py", "records with mistakes")
IDENTITY_HALF_SQ = Setting(hidden=("tanh",), output=("identity",), loss=("half_sum_sq",), depth=(1, 2))


def output_error(v):
    return v.a[v.L] - v.y


def claim(id, **changes):
    fields = dict(id=id, title=id, source=SOURCE, written="-", convention="column", quantity="dC/dz[L]",
                  setting=IDENTITY_HALF_SQ, compute=output_error)
    return Formula(**{**fields, **changes})


CLAIMS = [
    claim("bad-records-valid"),
    claim("bad-records-unknown-quantity", quantity="dC/dw[L]"),  # lower-case w
    claim("bad-records-unknown-activation", setting=Setting(output=("softplus",), loss=("half_sum_sq",))),
    claim("bad-records-unknown-loss", setting=Setting(output=("identity",), loss=("cross_entropy",))),
    "bad-records-not-a-formula",
    claim("bad-records-valid"),  # the same id again in this file
    claim("nielsen-BP1"),  # an id nielsen_book.py already has
]
