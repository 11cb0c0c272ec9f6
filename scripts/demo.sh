#!/usr/bin/env sh
# Set up, then run the demo: load a small register, preview the spreadsheet-edited
# Finnish customer file, commit the plan, and import the Swedish and Czech files.
# Everything is written under demo/ (a fresh SQLite register each run).
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
rm -rf demo && mkdir demo
R=.venv/bin/regsync
export REGSYNC_DB=demo/register.db

echo "== 1. Load the demo register (fixtures/demo/register.csv)"
$R import fixtures/demo/register.csv --yes --actor demo

echo
echo "== 2. Preview the edited Finnish file (Windows-1252, spreadsheet damage). Nothing is written."
$R preview fixtures/demo/asiakkaat.csv --plan demo/asiakkaat.plan --report demo/asiakkaat-report.csv || true

echo
echo "== 3. Commit exactly that plan (exit code 1: some rows were not applied)"
$R commit demo/asiakkaat.plan --actor demo || true

echo
echo "== 4. Import the Swedish and Czech files in one go each"
$R import fixtures/demo/kunder.csv --yes --actor demo || true
$R import fixtures/demo/zakaznici.csv --yes --actor demo || true

echo
echo "== 5. Import the Finnish file again: all No change or not applied, nothing new"
$R preview fixtures/demo/asiakkaat.csv --plan demo/again.plan || true
echo
echo "Demo register: demo/register.db; report: demo/asiakkaat-report.csv"
