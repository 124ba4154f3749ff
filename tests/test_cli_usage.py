"""Usage errors of `backprop-audit report` are one line and exit 2, like `check`; nothing runs."""
import pytest

from backprop_audit.commands import cli


@pytest.mark.parametrize("args, says", [
    (["--dtypes", "float16"], "unknown dtype(s) ['float16']"),
    (["--examples", "0"], "must be at least 1, got 0"),
    (["--only", "no-such-formula"], "unknown formula id(s) no-such-formula"),
])
def test_report_usage_errors_exit_2(tmp_path, capsys, args, says):
    with pytest.raises(SystemExit) as done:
        cli.main(["report", *args, "--out", str(tmp_path)])
    assert done.value.code == 2
    assert says in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # no report written



@pytest.mark.parametrize("command", [[], *([name] for name in cli.SUBCOMMANDS)])
def test_every_help_says_what_the_command_does_and_its_exit_codes(capsys, command):
    with pytest.raises(SystemExit) as done:
        cli.main([*command, "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert "Exit codes: 0 " in text and " 2 bad options" in text


def test_the_command_sets_the_collectors_thresholds_and_main_in_a_users_process_keeps_them(monkeypatch, capsys):
    """run() (the console script, `python -m backprop_audit`) sets cli.GC_THRESHOLDS for its own process; main(),
    which a user's program may call in its own process, leaves that process's collector as it was."""
    import gc

    saved = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        with pytest.raises(SystemExit):
            cli.main(["--help"])
        assert gc.get_threshold() == (700, 10, 10)
        monkeypatch.setattr(cli, "main", lambda: 0)
        assert cli.run() == 0 and gc.get_threshold() == cli.GC_THRESHOLDS != (700, 10, 10)
    finally:
        gc.set_threshold(*saved)
