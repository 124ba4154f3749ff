"""The worked numeric examples of the four source documents, as records.

These are not network quantities (the Formula records are), so they get their own small records:
where the document says it, the quote, the expression, the point it makes, and the numbers it
prints. tests/test_worked_examples.py recomputes every printed number - derivatives with
torch.autograd and with jax.grad, counts and shapes by running the thing counted - and asserts it.
A printed number that is wrong is recorded with expected="erratum" and the test shows it is wrong.

Documents 000 and 002 contain no worked numeric example (only symbolic formulas, checked by the
Formula records); 001 has one (the sum of a = [1,2,3,4]); 003 has five (below).
The graph functions use only + and *, so the same function runs on floats, torch tensors and jax arrays.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

DOC_001 = "001_6e125834526f4589.txt"
DOC_003 = "003_e380f16b86dd662d.txt"
EXPECTATIONS = ("holds", "erratum")


@dataclass(frozen=True)
class WorkedExample:
    id: str
    document: str
    where: str
    quote: str  # verbatim from the document
    expression: str  # what is computed, as the document writes it
    point: str  # what the example is there to show
    printed: dict  # name -> the number (or text) the document prints
    expected: str = "holds"  # "erratum" when a printed number is wrong
    note: str = ""

    def __post_init__(self):
        if self.expected not in EXPECTATIONS:
            raise ValueError(f"worked example {self.id!r}: expected must be one of {EXPECTATIONS}, got {self.expected!r}")
        if not self.printed:
            raise ValueError(f"worked example {self.id!r}: records a worked example, so it needs the printed numbers")


@dataclass(frozen=True)
class GraphExample(WorkedExample):
    """A computational graph: inputs, then nodes computed in order from earlier ones.

    `printed` keys are "x" for a node's value and "dX/dY" for the derivative of node X with respect to
    node Y, Y taken as a free variable at its value (its own inputs cut): for an input that is the total
    derivative, for an intermediate node the edge-wise partial the document multiplies along paths.
    `implied` holds values the text uses but does not print as such.
    """

    inputs: dict = field(default_factory=dict)
    nodes: tuple = ()  # (name, (argument names), function)
    implied: dict = field(default_factory=dict)

    def evaluate(self, values: dict, free: dict | None = None) -> dict:
        """Every node's value from `values` (the inputs); a node named in `free` takes that value instead."""
        free = free or {}
        env = {name: free.get(name, v) for name, v in values.items()}
        for name, args, function in self.nodes:
            env[name] = free[name] if name in free else function(*(env[a] for a in args))
        return env

    def as_function_of(self, node: str, of: str) -> Callable:
        """node's value as a function of `of` (free), everything else at the example's inputs."""
        return lambda value: self.evaluate(self.inputs, {of: value})[node]


@dataclass(frozen=True)
class PassCountExample(WorkedExample):
    """Gradient of f: R^n -> R by forward mode (one pass per input) and by reverse mode (2 passes).

    `probe` is a scalar function of a vector (using only +, *, slicing and .sum()) that the test
    differentiates both ways at small sizes, counting passes, to check the counting rule. (The one below is
    (v·v)(v₀ + 1) + Σv written with neither an integer index nor a Python constant: in torch's forward mode
    each of those runs a Python reference implementation that imports torch._dynamo, ~1.4 s of every pytest
    worker that runs the test.)
    """

    inputs: int = 0
    probe: Callable = None


@dataclass(frozen=True)
class BatchCountExample(WorkedExample):
    examples: int = 0
    batch_size: int = 0


@dataclass(frozen=True)
class CodeOutputExample(WorkedExample):
    """A code snippet and the output the document says it prints. `code` is as printed."""

    code: str = ""


@dataclass(frozen=True)
class SumListingExample(WorkedExample):
    """A summation loop printed in Java-like pseudocode, transcribed line for line into Python."""

    sequence: tuple = ()
    code: str = ""  # as printed
    literal: Callable = None  # the printed loop in Python; (a, max_iterations) -> (sum, j, iterations, finished)
    intended: Callable = None  # the loop with the index declared and incremented


def _printed_sum_loop(a, max_iterations):
    """The printed loop, line for line. `j` is never declared in the listing: we start it at 0 (Java
    would not compile), and it is never incremented, so the loop cannot end; we stop after
    max_iterations and report whether it finished."""
    sum_ = 0  # int sum = 0;
    j = 0  # not printed: the listing uses j without declaring it
    iterations = 0
    while j < len(a):  # while (j < a.length) {
        sum_ = sum_ + a[j]  # sum = sum + a[j];
        iterations += 1
        if iterations == max_iterations:
            return sum_, j, iterations, False
    return sum_, j, iterations, True


def _intended_sum_loop(a, max_iterations):
    sum_, j, iterations = 0, 0, 0
    while j < len(a) and iterations < max_iterations:
        sum_ = sum_ + a[j]
        j += 1  # the increment the listing leaves out
        iterations += 1
    return sum_, j, iterations, j >= len(a)


E_GRAPH = GraphExample(
    id="003-graph-e-equals-a-plus-b-times-b-plus-1",
    document=DOC_003,
    where="Computational graph",
    quote="For example consider the expression: e=(a+b)(b+1)e = (a+b) * (b+1)",
    expression="c = a + b, d = b + 1, e = c * d at a = 2, b = 1",
    point="Derivatives along a computational graph: sum the products of edge derivatives over all paths; "
          "b reaches e along two paths, a along one.",
    printed={"de/da": 2, "de/db": 5, "de/dc": 2, "dc/da": 1, "de/dd": 3, "dc/db": 1, "dd/db": 1},
    inputs={"a": 2.0, "b": 1.0},
    nodes=(("c", ("a", "b"), lambda a, b: a + b),
           ("d", ("b",), lambda b: b + 1),
           ("e", ("c", "d"), lambda c, d: c * d)),
    implied={"c": 3, "d": 2, "e": 6},
    note="The document prints a = 2, b = 1 and the chains 'de/da = de/dc · dc/da = 2·1 = 2' and "
         "'de/db = de/dc · dc/db + de/dd · dd/db = 2·1 + 3·1 = 5'. It never prints c, d, e, but uses "
         "de/dc = d = 2 and de/dd = c = 3, so c = 3, d = 2 (and e = 6) are implied; the test checks those too.",
)

PASSES = PassCountExample(
    id="003-reverse-mode-500000-times-faster",
    document=DOC_003,
    where="Computational graph, after f: R^n -> R",
    quote="If for example we have 1,000,000 inputs, forward differentiation would require 1,000,000 passes "
          "through the network, while backpropagation differentiation would require just 2 passes through the "
          "network (one for evaluating the expression at each node and one for calculating the derivatives). "
          "So reverse-mode is ~500,000× faster in practice for this case!",
    expression="passes(forward mode) / passes(reverse mode) = n / 2 at n = 1,000,000",
    point="For f: R^n -> R forward mode needs one pass per input, reverse mode one forward and one backward pass.",
    printed={"forward passes": 1_000_000, "reverse passes": 2, "speedup": 500_000},
    inputs=1_000_000,
    probe=lambda v: (v * v).sum() * v[:1].sum() + (v * v).sum() + v.sum(),
    note="Checked: the pass counts (counted with torch.autograd.forward_ad / torch.autograd.grad and jax.jvp / jax.vjp at "
         "small n) and the arithmetic 1,000,000 / 2 = 500,000. Not checked, and not implied by the counts: "
         "'in practice' - a backward pass costs a small constant times a forward pass and a forward-mode pass "
         "carries a tangent, so the wall-clock ratio is 500,000 divided by that constant. The earlier 'as much "
         "as ten million times faster' (introduction) is a quoted claim with no numbers to check.",
)

MINI_BATCHES = BatchCountExample(
    id="003-epoch-1562-mini-batches-of-64",
    document=DOC_003,
    where="Gradient descend, 'Let's make a concrete example on how a neural network is trainer'",
    quote="Break it into mini-batches (e.g. 100,000 examples → 1,562 mini-batches of 64 examples).",
    expression="100,000 / 64",
    point="An epoch is a pass over all training examples in mini-batches.",
    printed={"mini-batches": 1562},
    examples=100_000,
    batch_size=64,
    expected="erratum",
    note="100,000 = 1,562 · 64 + 32. Breaking all 100,000 examples into mini-batches of 64 gives 1,563 "
         "mini-batches, the last one of 32 (Nielsen's SGD slices training_data[k:k+64], and so does a torch "
         "DataLoader); 1,562 is the count only when the incomplete batch is dropped, which leaves 32 examples "
         "unseen - against the same passage's 'the model sees all training examples again'. The printed "
         "number is the floor 100,000 // 64; the corrected count is 1,563 (or 1,562 full batches plus one of 32).",
)

SETUP_SHAPES = WorkedExample(
    id="003-setup-sizes-1-2-1-shapes",
    document=DOC_003,
    where="Implementation, Setup",
    quote="If for example our sizes turple is [1,2,1] we would have two matrixes of dimentions: "
          "2×12 \\times 1 and 1×21 \\times 2",
    expression="self.weights = [np.random.randn(y, x) for x, y in zip(sizes[:-1], sizes[1:])] with sizes = [1,2,1]",
    point="W^l has one row per neuron of layer l and one column per neuron of layer l-1.",
    printed={"weight shapes": ((2, 1), (1, 2)), "bias shapes": ((2, 1), (1, 1))},
    note="The bias shapes are not printed as numbers; they follow from the printed 'a matrix of dimentions y×1'. "
         "The test runs the printed setup lines and checks that torch and jax gradients of C with respect to "
         "those matrices have the same shapes (the document's dC/dW ∈ R^{n×m} for W ∈ R^{n×m}).",
)

ZIP_OUTPUT = CodeOutputExample(
    id="003-zip-example-printed-output",
    document=DOC_003,
    where="Implementation, Setup, 'The zip function connect two turples'",
    quote='#the result would be\n-->[("Simon", 15), ("Erik",22)]',
    expression='names = ["Simon", "Erik"]; scores = [15,22]; res = zip(names, scores); print(res)',
    point="zip pairs the i-th elements, as the setup's zip(sizes[:-1], sizes[1:]) pairs layer widths.",
    printed={"output": '[("Simon", 15), ("Erik",22)]'},
    code='names = ["Simon", "Erik"]\nscores = [15,22]\nres = zip(names, scores)\nprint(res)\n',
    expected="erratum",
    note="In Python 3 zip returns an iterator and print(res) prints '<zip object at 0x...>'; the printed list "
         "is what Python 2 printed, and what print(list(res)) prints in Python 3 (with single quotes). The pairs "
         "themselves are right.",
)

SUM_OF_1_2_3_4 = SumListingExample(
    id="001-sum-of-1-2-3-4",
    document=DOC_001,
    where="Notation, 'Code example'",
    quote="Suppose that a = [1,2,3,4] is a sequence of numbers. The sum is given by:",
    expression="int sum = 0; while (j < a.length) { sum = sum + a[j]; }  (math: Σ_{j=1}^{n} a_j)",
    point="A summation is a loop over an indexed sequence; its derivative with respect to each a_j is 1 "
          "(used later: 'the derivative of a sum is equal to the sum of the derivatives').",
    printed={"sequence": (1, 2, 3, 4)},
    sequence=(1, 2, 3, 4),
    code="int sum = 0;\nwhile (j < a.length) {\nsum = sum + a[j];\n}\n",
    literal=_printed_sum_loop,
    intended=_intended_sum_loop,
    expected="erratum",
    note="The document prints no result; the sum it describes is 10 (= Σ_{j=1}^{4} a_j, 1-based in the math, "
         "0-based a[j] in the code). The printed loop never declares j (Java would not compile it) and never "
         "increments it: with j = 0 it adds a[0] = 1 forever and never ends. With j declared as 0 and "
         "incremented, it gives 10. Erratum in the listing, not in a printed number.",
)

EXAMPLES = [E_GRAPH, PASSES, MINI_BATCHES, SETUP_SHAPES, ZIP_OUTPUT, SUM_OF_1_2_3_4]
