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


def _places(tmp_path):
    """Destinations that cannot be written, each with the words its error must say."""
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    a_folder = tmp_path / "a-folder"
    a_folder.mkdir()
    return [(["--out", str(a_file)], "the folder is a file, not a folder"),
            (["--out", str(a_file / "below")], f"the folder cannot be made: {a_file} is a file"),
            (["--junit", str(a_folder)], "it is a folder; name the XML file to write"),
            (["--junit", str(a_file / "report.xml")], f"its folder {a_file} is a file, not a folder")]


@pytest.mark.parametrize("command", [["check", "tests/backprop_audit/examples/nielsen_book.py"], ["report"],
                                     ["soak", "--checks", "1"], ["bench"]])
def test_a_destination_that_cannot_be_written_is_a_usage_error_before_any_work(tmp_path, capsys, command):
    """Found only when the report was written, it cost the whole run and ended in a traceback and exit 1."""
    for args, says in _places(tmp_path):
        if args[0] == "--junit" and command[0] not in ("check", "report"):
            continue
        out = [] if args[0] == "--out" else ["--out", str(tmp_path / "out")]
        assert cli.main([*command, *args, *out]) == 2, args
        err = capsys.readouterr().err
        assert f"error: {args[0]} " in err and says in err, (args, err)
        assert not (tmp_path / "out").exists() and "Traceback" not in err  # nothing ran, nothing written


def test_a_report_set_is_not_started_when_a_target_is_a_folder(tmp_path):
    from backprop_audit.reports.write import write_report_set

    (tmp_path / "REPORT.md").write_text("old")
    (tmp_path / "junit.xml").mkdir()
    with pytest.raises(IsADirectoryError):
        write_report_set(tmp_path, {tmp_path / "REPORT.md": "new", tmp_path / "junit.xml": "<testsuites/>"})
    assert (tmp_path / "REPORT.md").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["REPORT.md", "junit.xml"]  # nothing left behind


def test_show_reads_its_out_folder_and_makes_none(tmp_path, capsys):
    missing = tmp_path / "no-report-here"
    assert cli.main(["show", "some-id", "--out", str(missing)]) == 2
    assert not missing.exists()
