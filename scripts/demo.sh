#!/usr/bin/env bash
# The demo: import the bundled sample covenant, render every clause, serve the page.
# Data goes to $KUANYUE_HOME (default ~/.local/share/kuanyue); run it again and nothing is redone.
set -euo pipefail
cd "$(dirname "$0")/.."
K=.venv/bin/kuanyue
SAMPLE=library/samples/rongxi-covenant.yaml

$K doctor
$K covenant import "$SAMPLE" --slug rongxi
$K render --covenant rongxi
# A few GENERATED recordings (labelled as such), catalogued with lyrics, a clause link, consent.
.venv/bin/python scripts/demo_catalogue.py --clause rongxi-01
exec $K serve
