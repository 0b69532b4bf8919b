#!/usr/bin/env bash
# Every C++ example in README.md is run by a test: each non-empty line of each ```cpp
# block must appear (whitespace-trimmed) in tests/readme_example_test.cc, which compiles
# and runs it against a real hub. (docs/clients.md's examples run in clients_doc_test.)
set -euo pipefail
ROOT="$TEST_SRCDIR/$TEST_WORKSPACE"
missing=0
in_block=0
while IFS= read -r line; do
  case "$line" in
    '```cpp') in_block=1; continue ;;
    '```') in_block=0; continue ;;
  esac
  [ "$in_block" = 1 ] || continue
  trimmed="$(echo "$line" | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//')"
  [ -n "$trimmed" ] || continue
  if ! grep -qF -- "$trimmed" "$ROOT/tests/readme_example_test.cc"; then
    echo "README line not exercised by tests/readme_example_test.cc: $trimmed"
    missing=1
  fi
done < "$ROOT/README.md"
[ "$missing" = 0 ] && echo "README C++ examples are all run by readme_example_test"
exit "$missing"
