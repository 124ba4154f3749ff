"""Nothing is configured by importing: backprop_audit and its oracles import neither torch nor jax until
an oracle is loaded, and leave torch's threads, NumPy's BLAS threads, jax's float64 switch and XLA_FLAGS
as they found them; references.start() sets them, once.

Each check runs in a fresh interpreter: this test session has started the frameworks already."""
import json
import os
import subprocess
import sys

IMPORT_ONLY = """
import json, os, sys
from threadpoolctl import threadpool_info
before = os.environ.get("XLA_FLAGS")
import backprop_audit, backprop_audit.references, backprop_audit.manual
from backprop_audit.verdicts import audit, run
from backprop_audit.commands import cli
seen = {"torch": "torch" in sys.modules, "jax": "jax" in sys.modules}
blas_threads = lambda: sorted({pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"})
from backprop_audit.references import jax_grad, torch_autograd  # the oracles themselves: torch and jax now
import jax, torch
seen.update(xla_flags_kept=os.environ.get("XLA_FLAGS") == before, x64=bool(jax.config.jax_enable_x64),
            torch_threads=torch.get_num_threads(), cache=jax.config.jax_compilation_cache_dir, blas=blas_threads())
backprop_audit.references.start()
backprop_audit.references.start()
seen.update(started_x64=bool(jax.config.jax_enable_x64), started_threads=torch.get_num_threads(), started_blas=blas_threads(),
            started_flags=os.environ.get("XLA_FLAGS"), started_cache=jax.config.jax_compilation_cache_dir)
print(json.dumps(seen))
"""


def run_fresh(code: str, tmp_path) -> dict:
    env = {key: value for key, value in os.environ.items() if key != "XLA_FLAGS"}
    env.update(BACKPROP_AUDIT_JAX_CACHE=str(tmp_path / "jax-cache"), OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2",
               PYTHONWARNINGS="ignore")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_configures_nothing_and_start_configures_once(tmp_path):
    seen = run_fresh(IMPORT_ONLY, tmp_path)
    assert not seen["torch"] and not seen["jax"], "importing backprop_audit imported an oracle's framework"
    assert seen["xla_flags_kept"] and not seen["x64"] and seen["torch_threads"] == 2 and not seen["cache"], seen
    assert seen["blas"] == [2], seen  # the machine's default, as set for this interpreter
    assert seen["started_x64"] and seen["started_threads"] == 1 and seen["started_blas"] == [1], seen
    assert seen["started_flags"] == "--xla_backend_optimization_level=1", seen
    assert seen["started_cache"] == str(tmp_path / "jax-cache"), seen


def test_the_cache_folder_is_pruned_to_its_most_recently_used_files(tmp_path):
    from backprop_audit.references import frameworks

    folder = tmp_path / "jax-cache"
    folder.mkdir()
    for age, name in enumerate(["newest-cache", "newer.jaxexport", "older-cache", "oldest.jaxexport"]):
        path = folder / name
        path.write_bytes(b"x" * 1000)
        os.utime(path, (1_700_000_000 - 100 * age, 1_700_000_000 - 100 * age))
    (folder / "warm-single-float64.lock").write_bytes(b"")
    os.utime(folder / "warm-single-float64.lock", (0, 0))  # the oldest of all, and held by a warm-up: kept

    assert frameworks._prune(str(folder), bound=4000, kept=2000) == 0, "pruned a folder within its bound"
    assert frameworks._prune(str(folder), bound=3999, kept=2000) == 2
    assert sorted(path.name for path in folder.iterdir()) == ["newer.jaxexport", "newest-cache", "warm-single-float64.lock"]
    assert frameworks._prune(str(tmp_path / "no-such-folder")) == 0
