"""How torch and jax are set up for checking: `start()`, once per process, before the first oracle runs.

Nothing is configured by importing backprop_audit or its oracles (a user's own torch or jax code in the
same process keeps its settings until a check starts). `start()` is called by the command's main, by the
test session (tests/conftest.py), and by each oracle before its first computation (torch_autograd.py,
jax_grad.py), so a check run from a user's own code (audit, search, evaluate) is set up the same way.
It is idempotent: the first call configures, every later one returns at once.
- torch: one thread (two processes with two threads each run 10-20x slower on this machine);
- NumPy's BLAS (OpenBLAS): one thread, for the same reason (threadpoolctl, as the library is loaded
  already; an environment variable would come too late). Measured: two processes each multiplying
  300x300 matrices took 6.4 s each with OpenBLAS's two threads, 0.6 s with one; the formulas, the
  float64 truth and the measured tolerance on wide networks are NumPy matmuls;
- XLA's backend optimization level 1 (in XLA_FLAGS, before jax starts its backend): the oracles compile
  in ~0.9 s instead of ~1.5 s (its default, 3) and run as fast here (the stacked oracle 0.11-0.14 ms a
  network, a 4096-wide check ~1.0 s, both ways); level 0 compiles faster still but runs 2.5x slower.
  A level the user chose in XLA_FLAGS is kept;
- jax: float64 (jax_enable_x64), the default dtype of every check;
- jax: the persistent compilation cache (`_use_persistent_cache`).
A framework that is not installed is skipped here; references/__init__.py reports it missing.
"""
from __future__ import annotations

import os
from pathlib import Path

_started: list = []  # [True] once start() has configured this process


def start() -> None:
    """Configure torch and jax for checking (see the module docstring); only the first call does anything."""
    if _started:
        return
    _started.append(True)
    try:
        import torch
    except ImportError:
        pass
    else:
        torch.set_num_threads(1)
    if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=1").strip()
    try:
        import jax
    except ImportError:
        pass
    else:
        jax.config.update("jax_enable_x64", True)
        _use_persistent_cache(jax)
    _one_blas_thread()  # after the imports: each BLAS library loaded by now (NumPy's, SciPy's for jax)


def _one_blas_thread() -> None:
    """Every BLAS library loaded in this process runs one thread (see the module docstring)."""
    import numpy  # noqa: F401  (its BLAS is the one the checks use; loaded before limiting)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


def _use_persistent_cache(jax) -> None:
    """Keep compiled oracles on disk, so a new process (a pytest-xdist worker, each `backprop-audit`
    command) loads them instead of compiling again: ~1.5 s of CPU per compiled shape here, ~6 s per
    process for the four the checks use. JAX's cache key covers the computation, the compile options and
    the jax/jaxlib versions. BACKPROP_AUDIT_JAX_CACHE names the folder (default: the user's cache folder,
    ~/.cache/backprop-audit/jax); set it to an empty string to compile afresh in every process.

    Every compile is kept, the small ones too (JAX's default keeps only those above 1 s; 0.5 s was kept here
    before): a plain oracle's exact shape or an operation's eager kernel compiles in 0.05-0.4 s, and the test
    session's two workers and every later run need the same ones. Measured 2026-12-07 (warm cache, the test
    command, 4 pairs A B A B): 0.5 s 67.0 s, 0 s 63.8 s median wall, A/B 1.003-1.091. What a run adds that no
    later run reads (random shapes, the exports of an edited package) is pruned: `_prune`."""
    folder = os.environ.get("BACKPROP_AUDIT_JAX_CACHE")
    if folder is None:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        folder = str(Path(base) / "backprop-audit" / "jax")
    if not folder:
        return
    try:  # a folder that cannot be made (read-only home): compile in this process, as without a cache
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return
    _prune(folder)
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


CACHE_BOUND_BYTES = 256 * 2**20  # the cache folder's size past which a start prunes it
CACHE_KEPT_BYTES = 192 * 2**20  # ... down to this, the most recently used files kept


def _prune(folder: str, bound: int = CACHE_BOUND_BYTES, kept: int = CACHE_KEPT_BYTES) -> int:
    """Delete the least recently used files of the cache folder when it holds more than `bound` bytes, until
    it holds at most `kept`; return how many were deleted. Why not JAX's own jax_compilation_cache_max_size:
    it takes a file lock and writes an access-time file on every load, scans the folder on every store, and
    does not cover our exported traces (references/exported.py). Recency is a file's access or modification
    time, the later (a filesystem mounted noatime still records the write). A file another process is
    reading stays readable (unlink); one it is about to read is a cache miss: it compiles, as without a cache.
    Costs one directory scan per process start (~1 ms per 1000 files)."""
    try:
        entries = [(max(st.st_atime, st.st_mtime), st.st_size, e.path)
                   for e in os.scandir(folder) if e.is_file() and not e.name.endswith(".lock")
                   for st in (e.stat(),)]  # the warm-up's lock files (jax_grad.warm) stay: tiny, and held
    except OSError:
        return 0
    total = sum(size for _, size, _ in entries)
    if total <= bound:
        return 0
    deleted = 0
    for _, size, path in sorted(entries):  # oldest first
        if total <= kept:
            break
        try:
            os.unlink(path)
        except OSError:
            continue  # gone already (another process pruned it), or not ours to delete
        total -= size
        deleted += 1
    return deleted
