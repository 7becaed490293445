#!/bin/sh
# make check-style: the sources are clang-format clean (.clang-format), and no
# comment cites an issue, a work item or how the work was split: the code
# says why, the history says who and when.
set -u
cd "$(dirname "$0")/.."
fail=0
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find src include tests fuzz bench guest -name '*.[ch]')
if ! clang-format --dry-run --Werror $files 2>"${TMPDIR:-/tmp}/mvm-style.$$"; then
	grep 'error:' "${TMPDIR:-/tmp}/mvm-style.$$" | sed 's/^/#   /' | head -20
	echo "not ok - clang-format: run 'make format'"
	fail=1
else
	echo "ok - clang-format clean"
fi
rm -f "${TMPDIR:-/tmp}/mvm-style.$$"
# Issue numbers, work-item tags like (4A), and "the brief" / "issue4.md".
pattern='[Ii]ssue ?#?[0-9]+|\((issue|step) ?[0-9]+|\([0-9][A-Z]\)|\<[1-9][AB]\>|issue[0-9]+\.md|the brief'
srcs=$(git ls-files '*.c' '*.h' '*.S' '*.sh' '*.py' Makefile 'guest/Makefile' 2>/dev/null)
if grep -nE "$pattern" $srcs | grep -v '^tests/check-style.sh:'; then
	echo "not ok - comments cite issues or work items (above): say why instead"
	fail=1
else
	echo "ok - no issue or work-item references in the sources"
fi
[ "$fail" -eq 0 ] && echo "2 passed, 0 failed" || echo "style: failed"
exit "$fail"
