"""Renders README.md with a CommonMark parser (markdown-it-py) and checks what a reader would see: every fenced
block closes where it seems to, and the headings the parser finds are the headings written (a fence that does
not close swallows the sections after it). Prints problems, one a line; exits 1 when there are any."""
import re
import sys

from markdown_it import MarkdownIt

path = sys.argv[1]
text = open(path, encoding="utf-8").read()
lines = text.split("\n")
tokens = MarkdownIt("commonmark").parse(text)
problems = []

# Every fence closes on a line of its own that is a fence.
for token in tokens:
    if token.type == "fence":
        start, end = token.map
        closing = lines[end - 1] if end - 1 < len(lines) else ""
        if end - 1 == start or not re.match(r"^ {0,3}(`{3,}|~{3,})\s*$", closing):
            problems.append(f"line {start + 1}: the fenced block opened here does not close (it runs to line {end})")

# The headings rendered are the headings written outside fences.
rendered = []
for i, token in enumerate(tokens):
    if token.type == "heading_open":
        rendered.append((token.tag, tokens[i + 1].content.strip()))
# As the author reads the file: every line that starts with a fence marker opens or closes a block (so "``` Some
# text" is read as a close, which CommonMark does not do).
written = []
inside = False
for line in lines:
    if re.match(r"^ {0,3}(`{3,}|~{3,})", line):
        if inside and line.strip().strip(line.strip()[0]) != "":
            problems.append(f"line {lines.index(line) + 1}: '{line[:40]}' is not a closing fence (text after the backticks)")
        inside = not inside
        continue
    if not inside:
        heading = re.match(r"^(#{1,6}) (.*?)\s*#*\s*$", line)
        if heading:
            written.append((f"h{len(heading.group(1))}", heading.group(2).strip()))
if rendered != written:
    missing = [h for h in written if h not in rendered]
    extra = [h for h in rendered if h not in written]
    problems.append(f"headings differ from what is written: not rendered {missing[:5]}, rendered but not written {extra[:5]}")

for problem in problems:
    print(problem)
print(f"{len(rendered)} headings, {sum(1 for t in tokens if t.type == 'fence')} fenced blocks")
sys.exit(1 if problems else 0)
