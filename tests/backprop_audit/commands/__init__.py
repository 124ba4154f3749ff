"""The `backprop-audit` command: cli.py dispatches to one module per subcommand (report, check, bench,
soak); claims.py loads users' claims files; progress.py prints the progress line."""
