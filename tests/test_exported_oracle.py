"""The jax oracle's functions are traced once per machine and read back by every later process
(references/exported.py): what is read computes exactly what tracing computes, a file that does not fit is
traced again and rewritten, an edit of the code a trace read traces again and an edit of any other module does
not, and without a cache folder nothing is written."""
import json
from pathlib import Path

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
    written = export.deserialize(bytearray(path.read_bytes().partition(b"\n")[2]))  # after the sources' line
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


def test_the_table_read_from_another_folder_is_the_same_export(monkeypatch):
    """The table's code digest holds what the code does, not where it was read from: the same jax form
    compiled from another file and line (another clone of the repository) names the same export."""
    import dataclasses
    import types

    from backprop_audit.references import jax_grad

    right = jax_grad._table_digest()

    def elsewhere(form):
        code = form.__code__.replace(co_filename="/elsewhere/clone/operations.py", co_firstlineno=form.__code__.co_firstlineno + 7)
        return types.FunctionType(code, form.__globals__, form.__name__, form.__defaults__, form.__closure__)

    moved = tuple(dataclasses.replace(row, jax_form=elsewhere(row.jax_form)) for row in jax_grad.ACTIVATION_ROWS)
    assert moved[0].jax_form.__code__.co_filename == "/elsewhere/clone/operations.py"
    monkeypatch.setattr(jax_grad, "ACTIVATION_ROWS", moved)
    assert jax_grad._table_digest() == right


def _tanh_of_the_table(W, x):
    """Runs code of backprop_audit.model.operations (the table's jax form of tanh) when traced."""
    from backprop_audit.model import operations
    return jnp.sum(operations.activation("tanh").jax_form(jax, jnp, x @ W.T))


def test_an_edit_of_the_code_a_trace_read_traces_again_and_of_any_other_module_does_not(tmp_path, monkeypatch):
    from backprop_audit.references import exported

    Exported(_tanh_of_the_table, "_test_sources", folder=str(tmp_path))("key", *_arguments())
    (path,) = tmp_path.glob(f"*{SUFFIX}")
    recorded = json.loads(path.read_bytes().split(b"\n", 1)[0][len(exported.HEADER):])
    assert "backprop_audit.model.operations" in recorded and "backprop_audit.references.exported" in recorded
    assert "backprop_audit.verdicts.diagnose" not in recorded  # the diagnosis is no part of a trace
    real_file_of = exported._file_of

    def edited(module):
        copy = tmp_path / f"{module}.py"
        copy.write_text(Path(real_file_of(module)).read_text() + "\n# an edit\n")
        monkeypatch.setattr(exported, "_file_of", lambda name: str(copy) if name == module else real_file_of(name))

    edited("backprop_audit.verdicts.diagnose")
    unrelated = Exported(_tanh_of_the_table, "_test_sources", folder=str(tmp_path))
    unrelated("key", *_arguments())
    assert unrelated.traced == 0 and unrelated.built == 1
    edited("backprop_audit.model.operations")
    read_code = Exported(_tanh_of_the_table, "_test_sources", folder=str(tmp_path))
    value = read_code("key", *_arguments())
    assert read_code.traced == 1 and np.isclose(float(value), float(_tanh_of_the_table(*_arguments())))
