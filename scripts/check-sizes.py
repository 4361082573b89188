#!/usr/bin/env python3
"""Size limits for the code outside tests/: no source file over 800 lines, no
function over 80 (from the line of its opening brace to its closing one,
lambdas inside counted with it). Prints each excess; exits 1 if any.

Functions are found by their braces: a `{` outside every function whose
preceding text ends like a function head (`)`, then qualifiers, an arrow
return type or a constructor's initialisers). Strings, characters and
comments are skipped."""
import re
import subprocess
import sys

MAX_FILE_LINES = 800
MAX_FUNCTION_LINES = 80
HEAD_END = re.compile(r"\)\s*(const|override|final|noexcept|mutable|&|&&|\s)*(->\s*[\w:<>,\s*&]+)?\s*$")


def strip(text):
    """Blanks out comments, string and character literals, keeping newlines."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'R"([^(]*)\(', text[i:])
            end = text.find(")" + m.group(1) + '"', i) if m else -1
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append('""' + re.sub(r"[^\n]", " ", text[i + 2:j]))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + " " * (min(j, n) - i - 1) + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(text):
    """(first line, line count, head) of each function body in `text`."""
    code = strip(text)
    found, stack, head_start, line = [], [], 0, 1
    for i, c in enumerate(code):
        if c == "\n":
            line += 1
        elif c in ";{}":
            in_function = any(kind == "f" for kind, _, _ in stack)
            if c == "{":
                head = code[head_start:i]
                is_function = not in_function and HEAD_END.search(head) and not re.search(
                    r"\b(if|for|while|switch|catch)\s*\(", head)
                stack.append(("f" if is_function else "b", line, head.strip()))
            elif c == "}" and stack:
                kind, start, head = stack.pop()
                if kind == "f":
                    found.append((start, line - start + 1, " ".join(head.split())[-90:]))
                in_function = any(kind == "f" for kind, _, _ in stack)
            if not in_function:
                head_start = i + 1
    return found


def main():
    files = subprocess.run(["git", "ls-files", "*.cpp", "*.h"], capture_output=True, text=True,
                           check=True).stdout.split()
    excess = 0
    for path in files:
        if path.startswith("tests/"):
            continue
        text = open(path, encoding="utf-8").read()
        lines = text.count("\n")
        if lines > MAX_FILE_LINES:
            print(f"{path}: {lines} lines (limit {MAX_FILE_LINES})")
            excess += 1
        for start, count, head in functions(text):
            if count > MAX_FUNCTION_LINES:
                print(f"{path}:{start}: function of {count} lines (limit {MAX_FUNCTION_LINES}): {head}")
                excess += 1
    return 1 if excess else 0


if __name__ == "__main__":
    sys.exit(main())
