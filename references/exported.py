"""The jax oracle's compiled functions kept between processes as exported StableHLO (jax.export), so a new
process does not trace them again.

Why: JAX's persistent cache keeps the compiled executable, but its key is a hash of the lowered module, so
every process first traces the oracle in Python to find it: 0.7 s for the single-network oracle and 1.2-1.4 s
for the stacked one here (value_and_grad of every activation's and loss's branch, vmapped), per dtype, in
every pytest-xdist worker and every `check` worker. Loading the exported module instead costs ~0.3 s (its
lowering into the calling jit) and the executable still comes from the persistent cache.

`Exported(fn, name)(key, *args)` calls jax.jit(fn)(*args). `key` names the argument shapes (the caller's
bucket: widths, batch, dtype), so a call costs one dict lookup; the first call of a key in a process reads
the export from the cache folder, or traces, exports and writes it. The file name is a digest of the key,
the argument avals and tree, the jax and jaxlib versions, jax_enable_x64, and the source of every module
of backprop_audit (the oracle, the operation table's jax forms, anything they call): any change to the code
traces afresh. A file that cannot be read, parsed, or does not match the arguments is traced again and
rewritten; without a cache folder (BACKPROP_AUDIT_JAX_CACHE="") or without the `flatbuffers` package that
jax.export's serialization needs, the function is traced in every process, as jax.jit would.
"""
from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from pathlib import Path

import jax
import numpy as np

SUFFIX = ".jaxexport"


class Exported:
    """A jax function compiled once per key and process, traced once per key and machine (see module doc)."""

    def __init__(self, fn, name: str, folder: str | None = None, depends=lambda: b""):
        self.fn, self.name, self.folder = fn, name, folder  # folder None: JAX's persistent cache folder
        self.depends = depends  # bytes naming what fn reads at trace time beyond the source (see jax_grad)
        self.jitted = jax.jit(fn)
        self.by_key: dict = {}
        self.built = 0  # how many keys this process built (from an export or by tracing): compiles here
        self.traced = 0  # of them, how many were traced and exported here (the others were read)

    def __call__(self, key, *args):
        call = self.by_key.get(key)
        if call is None:
            call = self.by_key[key] = self._build(args)
            self.built += 1
        return call(*args)

    def _build(self, args):
        folder = self.folder if self.folder is not None else jax.config.jax_compilation_cache_dir
        if not folder:
            return self.jitted
        try:
            from jax import export
            from jax._src.export import serialization  # noqa: F401 -- raises ImportError without flatbuffers
        except ImportError:
            return self.jitted
        leaves, tree = jax.tree.flatten(args)
        avals = tuple((tuple(np.shape(x)), str(np.result_type(x))) for x in leaves)
        path = Path(folder) / f"{self.name}-{_digest(self.name, str(tree), avals, self.depends())}{SUFFIX}"
        exported = _read(path, export, avals)
        if exported is None:
            exported = export.export(self.jitted)(*args)
            self.traced += 1
            _write(path, exported.serialize())
        return jax.jit(_named(exported.call, self.name))


def _read(path: Path, export, avals):
    """The export at `path` if it is there, parses, and takes exactly these argument avals; else None."""
    try:
        exported = export.deserialize(bytearray(path.read_bytes()))
    except Exception:  # missing, truncated, or written by another jax: trace again
        return None
    found = tuple((tuple(a.shape), str(a.dtype)) for a in exported.in_avals)
    return exported if found == avals else None


def _write(path: Path, blob) -> None:
    """Written whole or not at all (processes starting together may write the same file)."""
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(handle, "wb") as out:
            out.write(blob)
        os.replace(temporary, path)
    except OSError:  # a read-only cache folder: this process traced; the next one will too
        pass


def _named(call, name: str):
    """exp.call under the oracle function's own name, which compile logs and the test session's
    count of oracle compiles (tests/conftest.py) look for."""
    def oracle(*args):
        return call(*args)
    oracle.__name__ = oracle.__qualname__ = name
    return oracle


def _digest(*parts) -> str:
    text = repr((parts, jax.__version__, _jaxlib_version(), bool(jax.config.jax_enable_x64), _source_digest()))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _jaxlib_version() -> str:
    import jaxlib
    return getattr(jaxlib, "__version__", "")


@functools.cache
def _source_digest() -> str:
    """A digest of every .py file of backprop_audit (its oracles included): the exported function depends on
    the oracle's module and on the operation table's jax forms, and hashing all of them (~2 MB, a few ms,
    once a process) cannot miss a module they call."""
    import backprop_audit
    import backprop_audit.references

    digest = hashlib.sha256()
    roots = {Path(backprop_audit.__file__).parent, Path(backprop_audit.references.__file__).parent}
    for path in sorted(p for root in roots for p in root.rglob("*.py")):
        digest.update(str(path.relative_to(path.parent.parent)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
