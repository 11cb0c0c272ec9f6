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
$R preview fixtures/demo/asiakkaat.csv --plan demo/asiakkaat.plan --report demo/asiakkaat-report.csv || echo "(exit code $?)"

echo
echo "== 3. Commit exactly that plan (exit code 1: some rows were not applied)"
$R commit demo/asiakkaat.plan --actor demo || echo "(exit code $?)"

echo
echo "== 4. Preview the Finnish file again: nothing left to apply"
$R preview fixtures/demo/asiakkaat.csv --plan demo/again.plan || echo "(exit code $?)"
echo
echo "== 5. Import the Swedish and Czech files in one go each"
$R import fixtures/demo/kunder.csv --yes --actor demo || echo "(exit code $?)"
$R import fixtures/demo/zakaznici.csv --yes --actor demo || echo "(exit code $?)"

echo
echo "Demo register: demo/register.db; report: demo/asiakkaat-report.csv"
