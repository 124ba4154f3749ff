"""The jax oracle's compiled functions kept between processes as exported StableHLO (jax.export), so a new
process does not trace them again.

Why: JAX's persistent cache keeps the compiled executable, but its key is a hash of the lowered module, so
every process first traces the oracle in Python to find it: 0.7 s for the single-network oracle and 1.2-1.4 s
for the stacked one here (value_and_grad of every activation's and loss's branch, vmapped), per dtype, in
every pytest-xdist worker and every `check` worker. Loading the exported module instead costs ~0.3 s (its
lowering into the calling jit) and the executable still comes from the persistent cache.

`Exported(fn, name)(key, *args)` calls jax.jit(fn)(*args); with packed=True (a function of one network's many
small arrays) the arguments enter the jit as one array per dtype and the results leave it as one, cut back
into NumPy arrays (_Packing, _one_transfer: the single-network oracle's call 435-581 -> 305-360 us). `key`
names the argument shapes (the caller's bucket: widths, batch, dtype), so a call costs one dict lookup; the
first call of a key in a process reads the export from the cache folder, or traces, exports and writes it. The file name is a digest of the key,
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

    def __init__(self, fn, name: str, folder: str | None = None, depends=lambda: b"", packed: bool = False):
        self.fn, self.name, self.folder = fn, name, folder  # folder None: JAX's persistent cache folder
        self.depends = depends  # bytes naming what fn reads at trace time beyond the source (see jax_grad)
        # packed: arguments and results cross into and out of the jit as one array per dtype (_Packing,
        # _one_transfer): for calls of many small arrays (one network), not a stack of them, where the copies
        # cost more than the calls (the stacked oracle: 4.2-4.8 ms a call as it is, 5.2-7.7 ms packed)
        self.packed = packed
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
        avals = _avals(leaves)
        path = Path(folder) / f"{self.name}-{_digest(self.name, str(tree), avals, self.depends(), self.packed)}{SUFFIX}"
        packing = _Packing(tree, avals) if self.packed else None
        called_with = packing.pack(args) if packing else args
        exported = _read(path, export, _avals(jax.tree.leaves(called_with)))
        if exported is None:
            exported = export.export(jax.jit(packing.unpacked(self.fn)) if packing else self.jitted)(*called_with)
            self.traced += 1
            _write(path, exported.serialize())
        if packing is None:
            return jax.jit(_named(exported.call, self.name))
        call = _one_transfer(exported, self.name)
        return lambda *args: call(*packing.pack(args))


def _avals(leaves) -> tuple:
    return tuple((tuple(np.shape(x)), str(np.result_type(x))) for x in leaves)


class _Packing:
    """The arguments' leaves packed into one flat array per dtype (raveled and concatenated in tree order), and
    unpacked again inside the exported function: a jit call pays ~2 us per argument array here (a call with 50
    arrays of 16 entries 119 us, with one 8 us), and the single-network oracle takes ~50 (its layers' W, b,
    probes, masks, codes). The shapes are the key's, fixed (see Exported)."""

    def __init__(self, tree, avals):
        self.tree = tree
        dtypes = sorted({dtype for _, dtype in avals})
        self.groups = [[i for i, (_, d) in enumerate(avals) if d == dtype] for dtype in dtypes]
        self.pieces = [None] * len(avals)  # per leaf: (its group, start, end, shape)
        for g, members in enumerate(self.groups):
            start = 0
            for i in members:
                shape = avals[i][0]
                end = start + int(np.prod(shape, dtype=np.int64))
                self.pieces[i] = (g, start, end, shape)
                start = end

    def pack(self, args) -> list[np.ndarray]:
        leaves = jax.tree.leaves(args)
        return [np.concatenate([np.ravel(leaves[i]) for i in members]) for members in self.groups]

    def unpacked(self, fn):
        """fn of the packed groups: each leaf cut out of its group (exactly: a slice and a reshape)."""
        def of_groups(*groups):
            leaves = [groups[g][start:end].reshape(shape) for g, start, end, shape in self.pieces]
            return fn(*jax.tree.unflatten(self.tree, leaves))
        return of_groups


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
    """exp.call under the oracle function's own name, which compile logs and the test session's count of oracle
    compiles (tests/conftest.py) look for."""
    def oracle(*args):
        return call(*args)
    oracle.__name__ = oracle.__qualname__ = name
    return oracle


def _one_transfer(exported, name: str):
    """exported.call, jitted under the oracle function's own name (which compile logs and the test session's
    count of oracle compiles, tests/conftest.py, look for), its outputs as NumPy arrays copied to the host in one
    transfer: inside the jit they are raveled and concatenated, and the one array is cut back into the outputs'
    shapes and tree (views of it, read-only as a jax array's own NumPy view is). One np.asarray per output (23 of
    the single-network oracle) took ~0.15 ms of a call's ~0.6 ms. Outputs of mixed dtypes are left as they are."""
    shapes = [tuple(aval.shape) for aval in exported.out_avals]
    if len({str(aval.dtype) for aval in exported.out_avals}) != 1:
        return jax.jit(_named(exported.call, name))

    def flat_oracle(*args):
        return jax.numpy.concatenate([jax.numpy.ravel(leaf) for leaf in jax.tree.leaves(exported.call(*args))])

    flat_oracle.__name__ = flat_oracle.__qualname__ = name
    jitted, tree = jax.jit(flat_oracle), exported.out_tree
    starts = np.cumsum([0] + [int(np.prod(shape)) for shape in shapes]).tolist()
    pieces = list(zip(starts, starts[1:], shapes))  # each output's (start, end, shape) in the one array

    def call(*args):
        flat = np.asarray(jitted(*args))
        return jax.tree.unflatten(tree, [flat[start:end].reshape(shape) for start, end, shape in pieces])
    return call


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
