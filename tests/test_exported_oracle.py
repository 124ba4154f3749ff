"""The jax oracle's functions are traced once per machine and read back by every later process
(references/exported.py): what is read computes exactly what tracing computes, a file that does not fit is
traced again and rewritten, and without a cache folder nothing is written."""
import jax
import jax.numpy as jnp
import numpy as np

from backprop_audit.references.exported import SUFFIX, Exported


def _squared_tanh_and_gradient(W, x):
    return jax.value_and_grad(lambda W: jnp.sum(jnp.tanh(x @ W.T) ** 2))(W)


def _arguments(rows=3):
    rng = np.random.default_rng(0)
    return rng.normal(size=(4, 5)), rng.normal(size=(rows, 5))


def test_a_second_process_reads_the_export_and_computes_the_same_bits(tmp_path):
    first = Exported(_squared_tanh_and_gradient, "_test_oracle", folder=str(tmp_path))
    traced = first("key", *_arguments())
    assert first.traced == 1 and len(list(tmp_path.glob(f"*{SUFFIX}"))) == 1
    later = Exported(_squared_tanh_and_gradient, "_test_oracle", folder=str(tmp_path))  # as a new process would
    read = later("key", *_arguments())
    assert later.traced == 0 and later.built == 1
    for a, b in zip(jax.tree.leaves(traced), jax.tree.leaves(read)):
        assert np.array_equal(np.asarray(a), np.asarray(b))
    assert np.array_equal(np.asarray(read[1]), np.asarray(jax.jit(_squared_tanh_and_gradient)(*_arguments())[1]))


def test_a_file_that_is_broken_or_does_not_fit_is_traced_again(tmp_path):
    Exported(_squared_tanh_and_gradient, "_test_oracle", folder=str(tmp_path))("key", *_arguments())
    (path,) = tmp_path.glob(f"*{SUFFIX}")
    path.write_bytes(b"not an export")
    again = Exported(_squared_tanh_and_gradient, "_test_oracle", folder=str(tmp_path))
    value, gradient = again("key", *_arguments())
    assert again.traced == 1 and np.isfinite(float(value)) and gradient.shape == (4, 5)
    other_shape = Exported(_squared_tanh_and_gradient, "_test_oracle", folder=str(tmp_path))
    other_shape("key", *_arguments(rows=7))  # other avals: another file, traced
    assert other_shape.traced == 1 and len(list(tmp_path.glob(f"*{SUFFIX}"))) == 2


def _masked_square_and_gradient(W, x, code, mask):
    """Arguments of three dtypes, as the single-network oracle's (weights, an activation's code, a unit mask)."""
    units = lambda W: jax.lax.switch(code, [jnp.tanh, jnp.sin], x @ W.T)
    return jax.value_and_grad(lambda W: jnp.sum(jnp.where(mask, units(W), 0.0) ** 2))(W)


def test_a_packed_export_takes_one_array_per_dtype_and_gives_the_same_bits_as_numpy_arrays(tmp_path):
    """packed=True (the single-network oracle, the local Jacobians): the arguments enter as one array per dtype,
    the results come back as NumPy arrays in the function's own tree, bit for bit what jax.jit(fn) computes,
    traced here or read back by a later process."""
    from jax import export

    arguments = (*_arguments(), np.int32(1), np.array([True, False, True, True]))
    want = jax.jit(_masked_square_and_gradient)(*arguments)
    for traced in (1, 0):  # the first traces and writes the export, the second (a new process) reads it
        packed = Exported(_masked_square_and_gradient, "_test_packed", folder=str(tmp_path), packed=True)
        got = packed("key", *arguments)
        assert packed.traced == traced and jax.tree.structure(got) == jax.tree.structure(want)
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
            assert isinstance(a, np.ndarray) and a.shape == b.shape and a.dtype == b.dtype
            assert np.array_equal(a, np.asarray(b))
    (path,) = tmp_path.glob(f"*{SUFFIX}")
    written = export.deserialize(bytearray(path.read_bytes()))
    assert sorted((str(a.dtype), a.shape) for a in written.in_avals) == [("bool", (4,)), ("float64", (35,)),
                                                                         ("int32", (1,))]


def test_without_a_cache_folder_it_is_plain_jit_and_writes_nothing(tmp_path):
    plain = Exported(_squared_tanh_and_gradient, "_test_oracle", folder="")
    plain("key", *_arguments())
    assert plain.traced == 0 and plain.by_key["key"] is plain.jitted and not list(tmp_path.iterdir())


def test_an_operation_table_changed_at_run_time_is_another_export(monkeypatch):
    """A jax form swapped in at run time (a mutant oracle) must be traced, never read from the export of
    the right one: the table's code is part of the export's name."""
    import dataclasses

    from backprop_audit.references import jax_grad

    right = jax_grad._table_digest()
    mutant = tuple(dataclasses.replace(row, jax_form=lambda jax, jnp, z: jnp.zeros_like(z)) if row.name == "tanh"
                   else row for row in jax_grad.ACTIVATION_ROWS)
    monkeypatch.setattr(jax_grad, "ACTIVATION_ROWS", mutant)
    assert jax_grad._table_digest() != right


def test_the_compiled_executable_is_kept_and_a_later_process_loads_it_computing_the_same_bits(tmp_path):
    """The executable compiled from an export is kept beside it; a later process (a new Exported) loads it, nothing
    traced, parsed or lowered, and computes bit for bit what the first computed, packed or not. A kept file that
    is broken, or that loads and fails at its first call, is compiled again and rewritten."""
    from backprop_audit.references.exported import EXECUTABLE_SUFFIX

    for packed, name in ((False, "_test_oracle"), (True, "_test_packed")):
        first = Exported(_squared_tanh_and_gradient, name, folder=str(tmp_path), packed=packed)
        want = first("key", *_arguments())
        (kept,) = tmp_path.glob(f"{name}-*{EXECUTABLE_SUFFIX}")
        later = Exported(_squared_tanh_and_gradient, name, folder=str(tmp_path), packed=packed)
        got = later("key", *_arguments())
        assert (first.loaded, later.loaded, later.traced) == (0, 1, 0), name
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
            assert np.array_equal(np.asarray(a), np.asarray(b)), name
        kept.write_bytes(b"not an executable")
        again = Exported(_squared_tanh_and_gradient, name, folder=str(tmp_path), packed=packed)
        assert np.array_equal(np.asarray(again("key", *_arguments())[1]), np.asarray(want[1]))
        assert again.loaded == 0 and kept.read_bytes() != b"not an executable"  # compiled again, rewritten


def test_a_kept_executable_that_fails_its_first_call_is_compiled_again(tmp_path, monkeypatch):
    """What an executable read back from JAX's persistent cache serializes to (its compiled code missing): it
    loads, then fails when called. Such a file is never used: compiled again."""
    from backprop_audit.references import exported

    Exported(_squared_tanh_and_gradient, "_test_oracle", folder=str(tmp_path))("key", *_arguments())

    class FailsWhenCalled:
        def __init__(self, *args, **kwargs):
            pass

        def __call__(self, *args):
            raise RuntimeError("NOT_FOUND: Function wrapped_tanh not found")

    real = exported._Executable
    monkeypatch.setattr(exported, "_load_executable", lambda path, avals: FailsWhenCalled())
    again = Exported(_squared_tanh_and_gradient, "_test_oracle", folder=str(tmp_path))
    value, gradient = again("key", *_arguments())
    assert again.loaded == 0 and isinstance(again.by_key["key"], real) and np.isfinite(float(value))


def test_a_compile_past_the_persistent_cache_leaves_the_cache_on_for_the_process():
    """The executables kept here are compiled past JAX's persistent cache (one read back from it serializes
    without its code); every other compile of the process still uses the cache (seen: switched off by
    jax_enable_compilation_cache for the whole process, ~120 small compiles of the test command redone)."""
    from jax._src import compilation_cache

    from backprop_audit.references import exported

    backend = jax.devices()[0].client
    used = compilation_cache.is_cache_used(backend)
    with exported._past_the_persistent_cache() as fresh:
        assert fresh and not compilation_cache.is_cache_used(backend)
        jax.jit(lambda x: x * 3.0).lower(np.ones(3)).compile()
    assert compilation_cache.is_cache_used(backend) == used
    assert used == bool(jax.config.jax_compilation_cache_dir)  # this session has its cache folder (frameworks.start)
