#!/usr/bin/env bash
# Must show 1 of issue 17, as a new user: build the wheel, install it with both oracles into a fresh venv
# outside the repository (the CPU builds from constraints.txt), copy user_formulas.py into a project of its
# own and run pytest there: 1 passed, 1 failed, the failure saying "x 1/N". Not part of the suite (a fresh
# venv costs minutes); run it by hand: bash tests/users/own_tests_in_a_fresh_venv.sh [WORK_DIR]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:-$(mktemp -d /tmp/backprop-audit-user.XXXXXX)}
mkdir -p "$work/dist" "$work/project"
pip wheel --no-deps -q -w "$work/dist" "$repo"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q -c "$repo/constraints.txt" "$(ls "$work"/dist/backprop_audit-*.whl)[oracles]" pytest
cp "$repo/tests/users/user_formulas.py" "$work/project/test_user_formulas.py"
cd "$work/project"
set +e
"$work/venv/bin/python" -m pytest -q -p no:cacheprovider > pytest.out 2>&1
status=$?
set -e
cat pytest.out
grep -q "^1 failed, 1 passed" pytest.out && grep -q "fix 'x 1/N'" pytest.out && [ "$status" = 1 ] \
  && echo "own_tests_in_a_fresh_venv: as expected (1 passed, 1 failed, diagnosed x 1/N; pytest exit $status)" \
  || { echo "own_tests_in_a_fresh_venv: NOT as expected (pytest exit $status)"; exit 1; }
