"""The claims workers' parent: one process per `check` run that imports torch, jax and the engine once and
forks a claims worker (commands/worker.py) each time `check` needs one.

Why: a claims worker started afresh spends ~3 s of CPU importing torch and jax before it checks anything,
and `check` starts a new one after every claim that ends or hangs its worker (os._exit, a crash in native
code, a swallowed time limit). Forked from this process, a worker starts with everything imported.

Forking is safe here because nothing in this process has started a thread pool: torch is imported with one
thread and never run, and jax is imported with its backend not started (XLA's thread pools begin with the
first computation, in the worker; jax warns on a fork after that, and this process never computes). This
process runs no claim: claims files are loaded in the workers only.

Protocol, on the Unix socket given as file descriptor FD (`python -P -m backprop_audit.commands.zygote FD`):
the parent sends a worker's task (JSON) with two file descriptors (socket.send_fds): the write end of the
worker's message pipe and its log file; this process forks, replies {"pid": P}, waits for the worker and
replies {"exited": code} (negative: killed by that signal, as subprocess reports it). It ends when the
parent closes the socket. The task carries the parent's environment variables, which the worker takes
as its own: one zygote may serve several runs of one process (isolation.shared_zygote).
"""
from __future__ import annotations

import json
import os
import signal
import socket
import sys
import traceback

MESSAGE_BYTES = 1 << 20  # a task names the files, the claims done and the files lost: far below this


def _preload() -> None:
    """Everything a worker imports, so that a forked worker finds it imported (see the module doc)."""
    from backprop_audit import references
    try:  # before start(), which limits every BLAS library loaded by then (SciPy brings its own) to one thread
        # jaxlib imports this module when jax first lowers a computation for the CPU (lapack.initialize, at the
        # exported oracle's first call): ~0.25 s in every forked worker, 3.7 s of the test suite's CPU
        import scipy.linalg.cython_lapack  # noqa: F401
    except ImportError:  # jax absent (the torch extra alone): nothing to prepare
        pass
    references.start()  # configuration only (threads, x64, the cache folder): no backend is started
    import torch  # noqa: F401
    import jax.numpy  # noqa: F401

    import backprop_audit.commands.check  # noqa: F401
    import backprop_audit.commands.claims  # noqa: F401
    import backprop_audit.commands.worker  # noqa: F401
    import backprop_audit.references.jax_grad  # noqa: F401
    import backprop_audit.references.torch_autograd  # noqa: F401
    import backprop_audit.verdicts.entry  # noqa: F401
    import backprop_audit.verdicts.run  # noqa: F401


def _run_worker(task: str, channel: int, log: int) -> None:
    """In the forked child: the worker's stdout and stderr go to its log, then it runs; never returns."""
    code = 1
    try:
        os.dup2(log, 1), os.dup2(log, 2)
        os.close(log)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0), os.close(devnull)
        os.environ.clear()
        os.environ.update(json.loads(task).pop("environ", {}))  # the caller's, as it is now (a shared zygote
        #                                                         started earlier; isolation.shared_zygote)
        from backprop_audit.commands import worker
        code = worker.main([task, str(channel)])
    except BaseException:  # the worker's own failure (a claim's is its entry): said in the log
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)


def _exit_code(status: int) -> int:
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def main(argv) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops `check`, which closes the socket
    control = socket.socket(fileno=int(argv[0]))
    _preload()
    import gc

    from backprop_audit.commands.cli import GC_THRESHOLDS
    gc.freeze()  # what was imported is never collected here: a forked worker's collections skip it, so its
    #              pages stay shared with this process instead of being copied on the first collection
    gc.set_threshold(*GC_THRESHOLDS)  # the workers' (cli.GC_THRESHOLDS)
    while True:
        message, fds, _, _ = socket.recv_fds(control, MESSAGE_BYTES, 2)
        if not message:
            return 0
        channel, log = fds
        sys.stdout.flush(), sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            control.close()
            _run_worker(message.decode(), channel, log)
        os.close(channel), os.close(log)
        control.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        _, status = os.waitpid(pid, 0)
        control.sendall(json.dumps({"exited": _exit_code(status)}).encode() + b"\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
