#!/usr/bin/env python3
"""Replace one generated section of BENCHMARKS.md with standard input.

Usage: bench_section.py NAME < table.md
Rewrites the text between <!-- NAME:begin --> and <!-- NAME:end --> (appending the section at the
end of the file if it is not there yet) and leaves everything else alone.
"""
import sys

name = sys.argv[1]
begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
body = sys.stdin.read().strip("\n")
path = "BENCHMARKS.md"
try:
    text = open(path).read()
except OSError:
    text = "# Benchmarks\n"
section = f"{begin}\n{body}\n{end}"
if begin in text and end in text:
    i, j = text.index(begin), text.index(end) + len(end)
    text = text[:i] + section + text[j:]
else:
    text = text.rstrip("\n") + "\n\n" + section + "\n"
open(path, "w").write(text)
print(f"BENCHMARKS.md: section {name} updated")
