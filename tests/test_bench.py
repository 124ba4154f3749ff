"""`backprop-audit bench` runs end to end on tiny sizes and writes every key of reports/bench.json.
Speed itself is never asserted here (a shared machine makes timed tests flaky): bench prints it."""
import json

from backprop_audit.trust.bench import run_bench
from backprop_audit.commands.cli import main

KEYS = ("examples_per_s_end_to_end", "hypothesis_floor_examples_per_s", "jax_compiles", "sweep_networks_per_s",
        "gradcheck_speedup")


def test_bench_measures_every_number_and_each_check_held():
    lines = []
    report = run_bench(examples=8, sweep_networks=64, gradcheck_widths=(3, 4, 2), scale_widths=(5, 16, 3),
                       scale_batch=16, say=lines.append)
    for key in KEYS:
        assert report[key] is not None and report[key] >= 0, key
    assert report["per_formula"][0]["held"] and report["gradcheck"]["ours_held"] and report["gradcheck"]["gradcheck_passed"]
    assert report["scale"]["float32"]["held"] and report["scale"]["float64"]["held"]
    assert report["sweep"]["confirmed_failures"] == 0
    for headline, runs in ((report["sweep_networks_per_s"], report["sweep"]["networks_per_s_runs"]),
                           (report["examples_per_s_end_to_end"], report["per_formula"][0]["end_to_end"]["runs_wall"])):
        assert len(runs) == 3 and headline == sorted(runs)[1], (headline, runs)  # the median of three runs
    assert any("gradcheck" in line for line in lines) and any("JAX compiles" in line for line in lines)


def test_bench_command_writes_bench_json(tmp_path, capsys):
    code = main(["bench", "--examples", "5", "--sweep", "32", "--no-scale", "--no-gradcheck", "--out", str(tmp_path)])
    assert code == 0
    data = json.loads((tmp_path / "bench.json").read_text())
    assert {"examples_per_s_end_to_end", "hypothesis_floor_examples_per_s", "jax_compiles", "sweep_networks_per_s"} <= set(data)
    assert "wrote" in capsys.readouterr().out


def test_bench_rejects_a_non_positive_count_in_one_line_with_exit_2(tmp_path, capsys):
    assert main(["bench", "--examples", "0", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == "backprop-audit bench: --examples and --sweep must be at least 1\n"
    assert not any(tmp_path.iterdir())
