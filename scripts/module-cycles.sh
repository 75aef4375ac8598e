#!/usr/bin/env bash
# Lists the `crate::X` edges between the crate's top-level modules (and between the
# submodules of `aggregate`) and fails when they form a cycle.
#
# Usage: scripts/module-cycles.sh [--edges]   (--edges prints the edges too)
#
# Test code is left out: files named `tests.rs` or `*_tests.rs`, and everything from a
# `#[cfg(test)] mod` to the end of a file (our tests sit at the bottom). A test may use the
# demo generator from any module; the library's own graph must stay acyclic.
set -euo pipefail
cd "$(dirname "$0")/.."

# The module a source file belongs to: `src/a.rs`, `src/a/...` → a; `src/aggregate/b.rs` →
# aggregate::b.
owner() {
  local f=${1#src/}
  case $f in
    aggregate/mod.rs) echo aggregate ;;
    aggregate/*) local s=${f#aggregate/}; s=${s%%/*}; echo "aggregate::${s%.rs}" ;;
    */*) echo "${f%%/*}" ;;
    *) echo "${f%.rs}" ;;
  esac
}

# Every `crate::x` (or `crate::aggregate::y`) path in a file's non-test code, including
# `use crate::{a, b::c}` groups and `super::y` inside aggregate.
targets() {
  awk '/^[[:space:]]*#\[cfg\(test\)\]/ { held = $0; next }
       held != "" && /^[[:space:]]*(pub(\([a-z]+\))? )?mod / { exit }
       held != "" { print held; held = "" }
       { print }' "$1" |
    sed -E 's#//.*$##' |
    perl -0777 -ne '
      while (/crate::\{([^}]*(?:\{[^}]*\}[^}]*)*)\}/g) {
        for my $p (split /,/, $1) { $p =~ s/^\s+//; print "crate::$p\n" if $p =~ /^\w/ }
      }
      while (/crate::(\w+(?:::\w+)?)/g) { print "crate::$1\n" }
      while (/\bsuper::(\w+)/g) { print "super::$1\n" }
    '
}

edges=$(
  find src -name '*.rs' ! -name tests.rs ! -name '*_tests.rs' ! -name main.rs ! -name lib.rs |
    sort | while read -r f; do
      from=$(owner "$f")
      targets "$f" | while read -r path; do
        case $path in
          crate::aggregate::*)
            sub=${path#crate::aggregate::}
            if [[ $from == aggregate* && $sub =~ ^[a-z_]+$ && -e src/aggregate/$sub.rs ]]; then
              to=aggregate::$sub
            else
              to=aggregate
            fi ;;
          crate::*) to=${path#crate::}; to=${to%%::*}; to=${to%% *} ;;
          super::*)
            # Only aggregate's submodules are told apart: `super::x` in aggregate/y.rs.
            [[ $from == aggregate::* ]] || continue
            sub=${path#super::}
            [[ -e src/aggregate/$sub.rs ]] && to=aggregate::$sub || to=aggregate ;;
        esac
        # Inside aggregate, `crate::aggregate::X` re-exported from mod.rs counts as mod.rs.
        [[ $from == aggregate* && $to == aggregate ]] && [[ $from == aggregate ]] && continue
        [[ $from == "$to" ]] && continue
        # aggregate's submodules using the module's own re-exports (mod.rs) are the parent
        # module using its children: not an edge between siblings.
        [[ $from == aggregate::* && $to == aggregate ]] && continue
        echo "$from $to"
      done
    done | sort -u
)

if [[ ${1:-} == --edges ]]; then
  echo "$edges"
fi

echo
if ! out=$(echo "$edges" | tsort 2>&1 >/dev/null); [[ -n $out ]]; then
  echo "module cycle(s) found:" >&2
  echo "$out" >&2
  exit 1
fi
echo "no module cycles ($(echo "$edges" | wc -l) edges)"
