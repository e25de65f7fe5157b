"""Checks the README's module map (the table in "## Design") against Package.swift: the same modules (test targets
aside), each row listing exactly the first-party modules its modules import (a row of several modules lists what
they import besides each other). Prints problems, one a line; exits 1 when there are any."""
import re
import sys

readme_path, package_path = sys.argv[1], sys.argv[2]
package = open(package_path, encoding="utf-8").read()

# Targets: .target / .executableTarget / .systemLibrary, with their dependencies (quoted names, not products).
targets = {}
for match in re.finditer(r"\.(target|executableTarget|systemLibrary)\(\s*name:\s*\"([^\"]+)\"", package):
    name = match.group(2)
    rest = package[match.end():]
    end = re.search(r"\n        \),", rest)
    body = rest[: end.start()] if end else rest
    deps = set()
    dep_match = re.search(r"dependencies:\s*\[", body)
    if dep_match:
        depth, i = 1, dep_match.end()
        while depth and i < len(body):
            depth += {"[": 1, "]": -1}.get(body[i], 0)
            i += 1
        listed = re.sub(r"\.product\([^)]*\)", "", body[dep_match.end(): i - 1])
        deps = set(re.findall(r"\"([^\"]+)\"", listed))
    targets[name] = deps

readme = open(readme_path, encoding="utf-8").read()
design = readme.split("\n## Design\n", 1)[1].split("\n## ", 1)[0]
rows = [line for line in design.split("\n") if line.startswith("| `")]
problems = []
seen = set()
for row in rows:
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    if len(cells) < 3:
        continue
    modules = re.findall(r"`([^`]+)`", cells[0])
    listed = set(re.findall(r"`([^`]+)`", cells[2]))
    for module in modules:
        if module not in targets:
            problems.append(f"the map lists {module}, which Package.swift does not have")
    seen.update(modules)
    actual = set().union(*(targets.get(m, set()) for m in modules)) - set(modules)
    if listed != actual:
        problems.append(f"{', '.join(modules)}: the map says it imports {sorted(listed)}, Package.swift {sorted(actual)}")
for name in targets:
    if name not in seen:
        problems.append(f"Package.swift has {name}, which the map does not list")
if not rows:
    problems.append("no module table in the Design section")
for problem in problems:
    print(problem)
sys.exit(1 if problems else 0)
