"""The jax oracle's compiled functions kept between processes as exported StableHLO (jax.export), so a new
process does not trace them again.

Why: JAX's persistent cache keeps the compiled executable, but its key is a hash of the lowered module, so
every process first traces the oracle in Python to find it: 0.7 s for the single-network oracle and 1.2-1.4 s
for the stacked one here (value_and_grad of every activation's and loss's branch, vmapped), per dtype, in
every pytest-xdist worker and every `check` worker. Loading the exported module instead costs ~0.3 s (its
lowering into the calling jit) and the executable still comes from the persistent cache. The executable compiled
from an export is kept beside it (EXECUTABLE_SUFFIX), and a later process loads that without lowering anything.

`Exported(fn, name)(key, *args)` calls jax.jit(fn)(*args); with packed=True (a function of one network's many
small arrays) the arguments enter the jit as one array per dtype and the results leave it as one, cut back
into NumPy arrays (_Packing, _Executable: the single-network oracle's call 435-581 -> 305-360 us). `key`
names the argument shapes (the caller's bucket: widths, batch, dtype), so a call costs one dict lookup; the
first call of a key in a process reads the export from the cache folder, or traces, exports and writes it. The file name is a digest of the key,
the argument avals and tree, the jax and jaxlib versions, jax_enable_x64, and the source of every module
of backprop_audit (the oracle, the operation table's jax forms, anything they call): any change to the code
traces afresh. A file that cannot be read, parsed, or does not match the arguments is traced again and
rewritten; without a cache folder (BACKPROP_AUDIT_JAX_CACHE="") or without the `flatbuffers` package that
jax.export's serialization needs, the function is traced in every process, as jax.jit would.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import pickle
import platform
import tempfile
import zlib
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
        # _Executable): for calls of many small arrays (one network), not a stack of them, where the copies
        # cost more than the calls (the stacked oracle: 4.2-4.8 ms a call as it is, 5.2-7.7 ms packed)
        self.packed = packed
        self.jitted = jax.jit(fn)
        self.by_key: dict = {}
        self.built = 0  # how many keys this process built (from an export or by tracing): compiles here
        self.traced = 0  # of them, how many were traced and exported here (the others were read)
        self.loaded = 0  # of them, how many were loaded as a kept executable (nothing parsed, lowered or compiled)

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
        wanted = _avals(jax.tree.leaves(called_with))
        blob = _read_bytes(path)
        built = _load_executable(_executable_path(path, blob, self.packed), wanted) if blob is not None else None
        if built is not None and _runs(built, called_with):
            self.loaded += 1
        else:
            exported = _parsed(blob, export, wanted) if blob is not None else None
            if exported is None:
                exported = export.export(jax.jit(packing.unpacked(self.fn)) if packing else self.jitted)(*called_with)
                self.traced += 1
                blob = exported.serialize()
                _write(path, blob)
            built = _compiled(exported, self.name, called_with, flat=self.packed)
            if built.fresh:
                _keep(built, _executable_path(path, blob, self.packed), wanted)
        if packing is None:
            return built
        return lambda *args: built(*packing.pack(args))


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


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:  # not written yet (or unreadable): traced
        return None


def _parsed(blob: bytes, export, avals):
    """The export in `blob` if it parses and takes exactly these argument avals; else None."""
    try:
        exported = export.deserialize(bytearray(blob))
    except Exception:  # truncated, or written by another jax: trace again
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


class _Executable:
    """A compiled oracle (a jax.stages.Compiled) called as the jitted function would be; with `pieces`, its one
    flat output is copied to the host in one transfer and cut back into the function's outputs (`tree`; views
    of the one array, read-only as a jax array's own NumPy view is). One np.asarray per output (23 of the
    single-network oracle) took ~0.15 ms of a call's ~0.6 ms. fresh: compiled in this process, not read back
    from JAX's persistent cache (only such an executable serializes whole, see _keep)."""

    def __init__(self, compiled, tree=None, pieces=None, fresh: bool = False):
        self.compiled, self.tree, self.pieces, self.fresh = compiled, tree, pieces, fresh

    def __call__(self, *args):
        out = self.compiled(*args)
        if self.pieces is None:
            return out
        flat = np.asarray(out)
        return jax.tree.unflatten(self.tree, [flat[start:end].reshape(shape) for start, end, shape in self.pieces])


def _compiled(exported, name: str, called_with, flat: bool) -> _Executable:
    """exported.call compiled for `called_with` under the oracle function's own name (which compile logs and the
    test session's count of oracle compiles, tests/conftest.py, look for); flat (a packed function's): its
    outputs raveled and concatenated inside the jit when they share one dtype.

    Compiled afresh, past JAX's persistent cache: an executable read back from that cache serializes without
    its compiled code (loaded in another process it fails: "Function wrapped_tanh not found"), and the one kept
    here (_keep) must load. ~1-2 s once per export and machine instead of ~0.2 s; where the private switch
    is missing, the cache is used and nothing is kept."""
    shapes = [tuple(aval.shape) for aval in exported.out_avals]
    if not flat or len({str(aval.dtype) for aval in exported.out_avals}) != 1:
        function, tree, pieces = _named(exported.call, name), None, None
    else:
        def flat_oracle(*args):
            return jax.numpy.concatenate([jax.numpy.ravel(leaf) for leaf in jax.tree.leaves(exported.call(*args))])

        flat_oracle.__name__ = flat_oracle.__qualname__ = name
        function, tree = flat_oracle, exported.out_tree
        starts = np.cumsum([0] + [int(np.prod(shape)) for shape in shapes]).tolist()
        pieces = list(zip(starts, starts[1:], shapes))  # each output's (start, end, shape) in the one array
    lowered = jax.jit(function).lower(*called_with)
    with _past_the_persistent_cache() as fresh:
        return _Executable(lowered.compile(), tree, pieces, fresh=fresh)


@contextlib.contextmanager
def _past_the_persistent_cache():
    """Compiles in the block skip JAX's persistent cache (yields True), or, where JAX's private switch for it is
    not what it was in 0.10 (yields False), use it. The switch is the module's memo of whether the cache is used
    (compilation_cache.is_cache_used), set for the block and put back: jax_enable_compilation_cache cannot serve,
    its first reading in a process is memoized, so a compile with it off turned the cache off for the whole
    process (the test command then compiled all of its ~120 small executables again)."""
    try:
        from jax._src import compilation_cache as cache

        lock, saved = cache._cache_initialized_mutex, (cache._cache_checked, cache._cache_used)
    except (ImportError, AttributeError):
        yield False
        return
    with lock:
        cache._cache_checked, cache._cache_used = True, False
    try:
        yield True
    finally:
        with lock:
            cache._cache_checked, cache._cache_used = saved


# ---- compiled executables kept between processes ------------------------------------------------------
# JAX's persistent cache finds an executable by a hash of the lowered module, so every process lowers the
# exported module into its calling jit first: ~0.18 s of a build's ~0.4 s here (the rest is reading the
# executable back), in every pytest worker, every claims worker forked for a `check` run and every report, for
# each of the ~10 buckets a process uses (the test command: 53 builds, ~15 s of CPU). So the executable is kept
# too (jax.experimental.serialize_executable), named by the export's bytes and the machine (_machine_digest), and
# a later process loads it without parsing or lowering anything: a change of the source that leaves the traced
# export as it was (the export file is re-traced, its digest covers all the source) keeps the executable. A file
# that cannot be read or loaded, or takes other arguments, is compiled again and rewritten. (The folder is the
# user's own cache, as JAX's persistent cache is; its files are read with pickle.)

EXECUTABLE_SUFFIX = ".jaxexe"


def _executable_path(export_path: Path, blob: bytes, flat: bool) -> Path:
    digest = hashlib.sha256(blob + repr((flat, _machine_digest())).encode()).hexdigest()[:32]
    return export_path.with_name(f"{export_path.name.split('-')[0]}-{digest}{EXECUTABLE_SUFFIX}")


def _runs(built: _Executable, called_with) -> bool:
    """Whether a loaded executable runs on the arguments it is built for: one that serialized without its compiled
    code (read back from JAX's persistent cache, see _compiled) loads, then fails at its first call."""
    try:
        built(*called_with)
    except Exception:
        return False
    return True


def _keep(built: _Executable, path: Path, avals) -> None:
    try:
        from jax.experimental.serialize_executable import serialize

        payload, in_tree, out_tree = serialize(built.compiled)
        blob = zlib.compress(pickle.dumps((avals, payload, in_tree, out_tree, built.tree, built.pieces)), 1)
    except Exception:  # an executable this backend cannot serialize: the next process compiles it again
        return
    _write(path, blob)


def _load_executable(path: Path, avals) -> _Executable | None:
    blob = _read_bytes(path)
    if blob is None:
        return None
    try:
        from jax.experimental.serialize_executable import deserialize_and_load

        kept, payload, in_tree, out_tree, tree, pieces = pickle.loads(zlib.decompress(blob))
        if kept != avals:
            return None
        return _Executable(deserialize_and_load(payload, in_tree, out_tree), tree, pieces)
    except Exception:  # truncated, or written by another jax: compiled again (and the file rewritten)
        return None


@functools.cache
def _machine_digest() -> str:
    """What an executable depends on beyond its export: XLA's build (the backend's platform version), this
    process's XLA flags, and the CPU's instruction set (an executable using AVX-512 would stop a CPU without it
    with SIGILL, which no fallback can catch)."""
    device = jax.devices()[0]
    try:
        flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), "")
    except OSError:
        flags = ""
    text = repr((device.platform, device.device_kind, getattr(device.client, "platform_version", ""),
                 os.environ.get("XLA_FLAGS", ""), flags or platform.processor(), platform.machine()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


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
