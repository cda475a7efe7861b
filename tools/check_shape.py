#!/usr/bin/env python3
"""check_shape.py: the code's shape: no function over 80 lines in services/
and common/, and every services/*/main.c under 200 lines (a main.c only wires).

A function is a brace block at file level whose head ends with ")" and holds no "=" (so struct
definitions and initialisers are not functions). Comments, string and character literals and
preprocessor lines are blanked before braces are counted, so a brace inside any of them counts for
nothing. A function's length runs from the first line of its head (return type) to its closing
brace, both included.

Usage: tools/check_shape.py [PATH...]   (default: services common; directories are searched for .c)
Prints each offender as file:line and its length; exits 1 when there is one, 0 otherwise.
"""
import os
import re
import sys

MAX_FUNCTION_LINES = 80
MAX_MAIN_LINES = 199  # "under 200"


def blank(src):
    """src with comments, string/char literals and preprocessor lines replaced by spaces; newlines
    are kept, so line numbers and columns are unchanged."""
    out = []
    i, n = 0, len(src)
    line_start = True  # only whitespace so far on this line
    while i < n:
        c = src[i]
        if line_start and c == "#":  # a directive, with its backslash continuations
            while i < n and src[i] != "\n":
                if src[i] == "\\" and i + 1 < n and src[i + 1] == "\n":
                    out.append(" \n")
                    i += 2
                    continue
                if src.startswith("/*", i):  # a block comment may run on past the directive
                    j = src.find("*/", i + 2)
                    j = n if j < 0 else j + 2
                    out.append(re.sub(r"[^\n]", " ", src[i:j]))
                    i = j
                    continue
                out.append(" ")
                i += 1
            continue
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
            continue
        if src.startswith("//", i):
            while i < n and src[i] != "\n":
                if src[i] == "\\" and i + 1 < n and src[i + 1] == "\n":
                    out.append(" \n")
                    i += 2
                    continue
                out.append(" ")
                i += 1
            continue
        if c == '"' or c == "'":
            j = i + 1
            while j < n and src[j] != c and src[j] != "\n":
                j += 2 if src[j] == "\\" else 1
            closed = j < n and src[j] == c
            out.append(c + " " * (min(j, n) - i - 1) + (c if closed else ""))
            i = j + 1 if closed else j
            line_start = False
            continue
        out.append(c)
        if c == "\n":
            line_start = True
        elif not c.isspace():
            line_start = False
        i += 1
    return "".join(out)


def function_name(head):
    """The name of the function whose head (text before its body) is given, or None."""
    head = head.rstrip()
    if not head.endswith(")") or "=" in head:
        return None
    if re.match(r"\s*(typedef|struct|union|enum)\b[^(]*$", head):
        return None
    depth = 0
    for k in range(len(head) - 1, -1, -1):  # the "(" that matches the final ")"
        if head[k] == ")":
            depth += 1
        elif head[k] == "(":
            depth -= 1
            if depth == 0:
                m = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*$", head[:k])
                return m.group(1) if m else None
    return None


def functions(path):
    """(name, first line, length in lines) of every function in a C file."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = blank(f.read())
    found = []
    depth = 0
    head_start = 0  # where the current file-level declaration began
    body = None     # (name, first line) while inside a function body
    for i, c in enumerate(text):
        if c == "{":
            if depth == 0:
                head = text[head_start:i]
                name = function_name(head)
                if name:
                    first = head_start + (len(head) - len(head.lstrip()))
                    body = (name, text.count("\n", 0, first) + 1)
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                if body:
                    last = text.count("\n", 0, i) + 1
                    found.append((body[0], body[1], last - body[1] + 1))
                    body = None
                head_start = i + 1
            depth = max(depth, 0)
        elif c == ";" and depth == 0:
            head_start = i + 1
    return found


def c_files(paths):
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs.sort()
                for name in sorted(files):
                    if name.endswith(".c"):
                        yield os.path.join(root, name)
        elif p.endswith(".c"):
            yield p


def main(argv):
    paths = argv[1:] or ["services", "common"]
    offenders = 0
    for path in c_files(paths):
        for name, line, length in functions(path):
            if length > MAX_FUNCTION_LINES:
                print(f"{path}:{line}: function {name} is {length} lines (at most {MAX_FUNCTION_LINES})")
                offenders += 1
        if re.search(r"(^|/)services/[^/]+/main\.c$", path):
            with open(path, encoding="utf-8", errors="replace") as f:
                nlines = sum(1 for _ in f)
            if nlines > MAX_MAIN_LINES:
                print(f"{path}:1: main.c is {nlines} lines (under {MAX_MAIN_LINES + 1}: a main.c only wires)")
                offenders += 1
    if offenders:
        print(f"check-shape: {offenders} offender(s)")
        return 1
    print("check-shape: every function fits in 80 lines; every service's main.c only wires")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
