#!/usr/bin/env bash
# docs/operations.md's Prometheus examples are valid: the scrape configuration (its first
# ```yaml block) passes `promtool check config`, the alert rules (the block that starts
# with `groups:`) pass `promtool check rules`. (That every exported metric is documented is
# checked by //tests:metrics_test.)
set -euo pipefail
DOC="$TEST_SRCDIR/$TEST_WORKSPACE/docs/operations.md"
PROMTOOL=/usr/bin/promtool
if [ ! -x "$PROMTOOL" ]; then
  echo "$PROMTOOL is missing: run tools/dev setup (Debian package prometheus)"
  exit 1
fi
OUT="$TEST_TMPDIR/blocks"
mkdir -p "$OUT"
# Writes each ```yaml block of the page to $OUT/block<N>.yml.
awk -v out="$OUT" '
  /^```yaml$/ { n++; inside = 1; next }
  /^```$/     { inside = 0; next }
  inside      { print > (out "/block" n ".yml") }
' "$DOC"
rules=""
config=""
for f in "$OUT"/block*.yml; do
  if head -1 "$f" | grep -q '^groups:'; then rules="$f"; else config="${config:-$f}"; fi
done
[ -n "$rules" ] || { echo "no alert rules block (starting with groups:) in $DOC"; exit 1; }
[ -n "$config" ] || { echo "no scrape configuration block in $DOC"; exit 1; }
"$PROMTOOL" check config "$config"
"$PROMTOOL" check rules "$rules"
echo "operations.md: scrape configuration and alert rules are valid"
