"""backprop-audit: checks backpropagation formulas, as textbooks write them, against torch.autograd and
jax.grad on networks Hypothesis generates.

The package, by role (each subpackage's docstring says what is in it):
  model/      the formula record, the network, the layout conventions
  judging/    one formula on one network: tolerances, the entrywise comparison, evaluate()
  batching/   the same judgement over padded stacks of networks, and the sweep of one architecture
  searching/  Hypothesis strategies and the search that finds and shrinks a counterexample
  verdicts/   a formula's audit, the diagnosis of a failure, a run over many formulas
  commands/   the `backprop-audit` command and the claims-file loader
  trust/      the mutant corpus, the soak, the benchmark
  examples/   the worked claims example
  api/        for users' own tests: assert_holds, check, assert_backprop, check_backprop (pytest_plugin.py
              makes pytest's Hypothesis options steer them); `networks` is the Hypothesis strategy
The catalog (manual/), the oracles (references/) and the report writer (reports/) sit at the top of the
repository and are installed as backprop_audit.manual, .references and .reports.
"""
from backprop_audit.model.formula import Expected, Formula, RecordError, Setting, Source  # noqa: F401
from backprop_audit.model.network import Layer, Network, NetworkError  # noqa: F401
from backprop_audit.api.holds import Result, assert_holds, check  # noqa: F401
from backprop_audit.api.backprop import BackpropResult, assert_backprop, check_backprop  # noqa: F401
from backprop_audit.searching.strategies import networks  # noqa: F401

__version__ = "0.1.0"
