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
the argument avals and tree, `depends`, the jax and jaxlib versions and jax_enable_x64. The file also holds
the code the trace read (_Sources): every Python file outside the interpreter's own libraries that ran while
tracing (the oracle, the operation table's jax forms, a test's mutant), and every module those import from (the
constants they read, such as a bucket size or batch norm's ε, run no code), each with a digest of its text; an
export is read back only when every one of them is as it was, else traced afresh. So an edit to the report or
the diagnosis no longer traces every oracle bucket again (it did, when the name digested the whole package:
~10 s of the test command's CPU, ~5.5 s of its wall time, after every commit). A file that cannot be read,
parsed, or does not match the arguments is traced again and rewritten; without a cache folder
(BACKPROP_AUDIT_JAX_CACHE="") or without the `flatbuffers` package that jax.export's serialization needs, the
function is traced in every process, as jax.jit would.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import json
import os
import sys
import tempfile
from pathlib import Path

import jax
import numpy as np

SUFFIX = ".jaxexport"
HEADER = b"backprop-audit export, sources: "  # then the sources' JSON on one line, then the serialized export


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
            with _Sources() as sources:
                exported = export.export(jax.jit(packing.unpacked(self.fn)) if packing else self.jitted)(*called_with)
            self.traced += 1
            _write(path, HEADER + json.dumps(sources.digests()).encode() + b"\n" + exported.serialize())
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
    """The export at `path` if it is there, parses, was traced from the sources as they are now, and takes
    exactly these argument avals; else None."""
    try:
        blob = path.read_bytes()
        if not blob.startswith(HEADER):
            return None
        sources, _, serialized = blob[len(HEADER):].partition(b"\n")
        if not _Sources.unchanged(json.loads(sources)):
            return None
        exported = export.deserialize(bytearray(serialized))
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
    text = repr((parts, jax.__version__, _jaxlib_version(), bool(jax.config.jax_enable_x64)))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _jaxlib_version() -> str:
    import jaxlib
    return getattr(jaxlib, "__version__", "")


class _Sources:
    """The code a trace reads: `with _Sources() as sources:` records the modules of backprop_audit whose functions
    run in this thread meanwhile; digests() gives them, and every module of backprop_audit they import from, by
    name, each with a digest of its file's text; unchanged(recorded) says whether each is still what it was, as
    found in this process (by module name: a fresh checkout reads its own files, not the ones a path named).

    Why the modules imported from: a trace reads constants of other modules (the bucket sizes, batch norm's ε,
    the operation table's rows) without running any of their code. Code outside the package that a traced
    function runs (a test's mutant form) is named by the Exported's `depends`, as tests/claims/broken_jax_oracle.py
    does: a test session's own hooks also run during a trace (its JAX event listeners), and are not the oracle."""

    def __init__(self):
        self.files: set = set()
        self._before = None

    def __enter__(self):
        self._before = sys.getprofile()

        def record(frame, event, arg):
            if event == "call":
                self.files.add(frame.f_code.co_filename)
        sys.setprofile(record)
        return self

    def __exit__(self, *exc):
        sys.setprofile(self._before)
        return False

    def digests(self) -> dict:
        module_of = {}
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None)
            if file and _ours(name):
                module_of.setdefault(os.path.abspath(file), name)
        ran = {module_of[f] for f in map(os.path.abspath, self.files) if f in module_of}
        named = ran | {imported for name in ran for imported in _imported_from(name)}
        return {name: _text_digest(_file_of(name)) for name in sorted(named)}

    @staticmethod
    def unchanged(recorded: dict) -> bool:
        return all(_text_digest(_file_of(name)) == digest for name, digest in recorded.items())


def _ours(name: str) -> bool:
    return name == "backprop_audit" or name.startswith("backprop_audit.")


def _file_of(name: str) -> str | None:
    """The file of module `name` in this process (loaded, or where importing it would find it); None if none."""
    module = sys.modules.get(name)
    if getattr(module, "__file__", None):
        return module.__file__
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError, AttributeError):
        return None
    return spec.origin if spec is not None else None


def _imported_from(name: str) -> set:
    """The modules of backprop_audit that module `name` imports (import M, from M import x; at any depth)."""
    try:
        tree = ast.parse(Path(_file_of(name)).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError, TypeError):
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}  # a submodule imported from its package
    return {name for name in names if _ours(name) and _file_of(name) is not None}


def _text_digest(file: str | None) -> str:
    if file is None:
        return ""
    try:
        return hashlib.sha256(Path(file).read_bytes()).hexdigest()
    except OSError:
        return ""
