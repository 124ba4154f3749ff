#!/usr/bin/env bash
# Must show 2 of issue 17: installing the wheel beside a torch the user already has keeps that torch.
# 1. A real torch (this machine's only CPU build, 2.13.0+cpu) installed first, then the wheel with both
#    oracles WITHOUT constraints.txt: torch's files are the same before and after, and the tool runs.
# 2. Another torch: a metadata-only stand-in torch 2.5.1 (stand_in_wheel.py; every other torch release on
#    PyPI for Linux pulls GBs of CUDA packages, so none is installed here). pip resolves from metadata alone:
#    the wheel (plain, [torch], [oracles]) keeps it, also beside the user's own pin torch==2.5.1, where the
#    wheel before the loose ranges (OLD_WHEEL, optional, built from git history) is ResolutionImpossible.
# Not part of the suite (minutes); bash tests/users/keeps_their_torch.sh [WORK_DIR] [OLD_WHEEL]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:-$(mktemp -d /tmp/backprop-audit-torch.XXXXXX)}
old_wheel=${2:-}
cpu_torch=${CPU_TORCH:-/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl}
mkdir -p "$work/dist" "$work/stand-in"
pip wheel --no-deps -q -w "$work/dist" "$repo"
wheel=$(ls "$work"/dist/backprop_audit-*.whl)
# torch's version, its file count and a digest of its RECORD (every installed file's own sha256)
torch_files() { "$1/bin/python" -c "import hashlib, importlib.metadata as m; d = m.distribution('torch'); print(d.version, len(d.files), hashlib.sha256(d.read_text('RECORD').encode()).hexdigest()[:16])"; }

echo "== 1. a real torch installed first: $cpu_torch"
python3 -m venv "$work/real"
"$work/real/bin/pip" install -q "$cpu_torch"
before=$(torch_files "$work/real"); echo "torch before: $before"
"$work/real/bin/pip" install "$wheel[oracles]" 2>&1 | grep -E "torch|^Successfully installed" | grep -v "^WARNING"
after=$(torch_files "$work/real"); echo "torch after:  $after"
[ "$before" = "$after" ] || { echo "torch changed"; exit 1; }
"$work/real/bin/backprop-audit" --version
(cd "$work" && "$work/real/bin/backprop-audit" report --only 003-output-error-sigmoid --examples 3 --out "$work/report" | tail -1)

echo "== 2. another torch: a stand-in torch 2.5.1"
python3 -m venv "$work/other"
"$work/other/bin/pip" install -q --no-deps "$("$work/real/bin/python" "$repo/tests/users/stand_in_wheel.py" torch 2.5.1 "$work/stand-in")"
for extra in "" "[torch]" "[oracles]"; do
  echo "-- pip install --dry-run backprop-audit$extra"
  "$work/other/bin/pip" install --dry-run "$wheel$extra" 2>&1 | grep -E "torch|^Would install" | grep -v "^WARNING"
done
echo "-- beside the user's pin: pip install --dry-run backprop-audit[oracles] torch==2.5.1"
"$work/other/bin/pip" install --dry-run "$wheel[oracles]" "torch==2.5.1" 2>&1 | grep -E "torch|^Would install" | grep -v "^WARNING"
if [ -n "$old_wheel" ]; then
  echo "-- the wheel before the loose ranges, beside the same pin"
  "$work/other/bin/pip" install --dry-run "$old_wheel" "torch==2.5.1" 2>&1 | grep -E "depends on torch|^ERROR: ResolutionImpossible" || true
fi
"$work/other/bin/pip" list 2>/dev/null | grep -E "^torch "
