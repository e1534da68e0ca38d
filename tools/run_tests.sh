#!/usr/bin/env bash
# Set up (or reuse) the environment, then run the test suite on CPU.
#   bash tools/run_tests.sh [pytest args]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$(bash "$ROOT/tools/setup_env.sh" | tail -n 1)"
cd "$ROOT"
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
