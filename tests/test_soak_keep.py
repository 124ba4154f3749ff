"""`soak --checks 0 --keep-soak`: the soak part of an earlier trust.json is kept, with the commit it ran at."""
import json

from backprop_audit.commands.soak import _kept_soak


def test_the_soak_part_and_its_commit_are_kept(tmp_path):
    earlier = {"soak_checks": 500_040, "soak_false_alarms": 0, "soak_seeds": [1, 2, 3, 4, 5], "commit": "abc",
               "generated": "then", "settings": {"checks": 100_000}, "mutants": 50, "worst_correct_ratio": 0.25,
               "worst_correct": "f on n", "margin": 1000.0}
    (tmp_path / "trust.json").write_text(json.dumps(earlier))
    kept = _kept_soak(tmp_path / "trust.json")
    assert kept == {"soak_checks": 500_040, "soak_false_alarms": 0, "soak_seeds": [1, 2, 3, 4, 5],
                    "worst_correct_ratio": 0.25, "worst_correct": "f on n",
                    "soak_commit": "abc", "soak_generated": "then", "soak_settings": {"checks": 100_000}}


def test_nothing_is_kept_from_a_file_without_a_soak(tmp_path):
    (tmp_path / "trust.json").write_text(json.dumps({"soak_checks": 0, "mutants": 50}))
    assert _kept_soak(tmp_path / "trust.json") is None
    assert _kept_soak(tmp_path / "missing.json") is None
