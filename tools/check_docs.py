#!/usr/bin/env python3
"""check_docs.py: the reference pages agree with the code, both ways (`make check-docs`, CI).

- docs/configuration.md: every ACMS_* variable it names is read by the code (services/, common/,
  tools/ C sources), and every ACMS_* variable the code reads is documented there or, for the
  variables a step gets, in docs/steps.md. `ACMS_X_<NAME>` stands for a family (a prefix in code).
- docs/redis-keys.md: every key in its table is built by the code, and every key family the code
  builds (a string starting "acms:", printf conversions read as one part) is in the table. The
  generic builders (a run's parts, a stored configuration's parts) are listed in GENERIC; a part
  such as acms:run:<run>:cancel is then found as the literal "cancel" in the code.
- every service's README.md lists each of its .c files in its file table, and no file that is gone.
- every relative link of README.md, CHANGELOG.md, docs/*.md, bench/README.md and services/*/README.md
  names a file that exists.
Exit 0 when they agree; 1 with one line per disagreement. Run from the repository root."""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CODE_DIRS = ("services", "common", "tools")
# Generic key builders: the code fills the last parts from a variable.
GENERIC = {
    "acms:": "the prefix itself (scans, the Redis ACL of deploy/)",
    "acms:run:": "prefix of a run's keys (retention sweep, config.c)",
    "acms:run:*:*": "acms_key_run_part: acms:run:<run>:<part>",
    "acms:config:*:*": "the configuration store's keys: acms:config:<id>:<part>",
    "acms:quota:*:*": "an environment's admission keys: acms:quota:<env>:<part>",
    "acms:seen:-": "placeholder of an effect without an idempotency mark",
}


def code_files(exts):
    for d in CODE_DIRS:
        for p in sorted((ROOT / d).rglob("*")):
            if p.suffix in exts and p.is_file():
                yield p


def code_text():
    return {p: p.read_text(errors="replace") for p in code_files({".c", ".h"})}


def variables(texts, problems):
    in_code = set()
    for t in texts.values():
        in_code.update(re.findall(r'"(ACMS_[A-Z0-9_]+)', t))
    conf = (ROOT / "docs/configuration.md").read_text()
    steps = (ROOT / "docs/steps.md").read_text()
    documented = set(re.findall(r"ACMS_[A-Z0-9_]+(?:<[A-Z_]+>)?", conf))
    step_vars = set(re.findall(r"ACMS_[A-Z0-9_]+", steps))
    families = {v.split("<")[0] for v in documented if "<" in v}

    def in_family(v):
        return any(v.startswith(f) for f in families)

    for v in sorted(in_code):
        if v.endswith("_"):  # a prefix read by the code: its family must be documented
            if v not in families:
                problems.append(f"configuration: the code reads the family {v}<NAME>, docs/configuration.md does not name it")
            continue
        if v not in documented and v not in step_vars and not in_family(v):
            problems.append(f"configuration: {v} is read by the code but documented in neither docs/configuration.md nor docs/steps.md")
    for v in sorted(documented):
        if "<" in v:
            prefix = v.split("<")[0]
            if not any(c.startswith(prefix) for c in in_code):
                problems.append(f"configuration: docs/configuration.md names {v}, no variable of that family is read by the code")
        elif v not in in_code:
            problems.append(f"configuration: docs/configuration.md names {v}, which the code no longer reads")


def skeleton(key):
    key = re.sub(r"%[-0-9.]*(?:ll|l|z)?[sudx]", "*", key)
    key = re.sub(r"<[^>]*>", "*", key)
    return key + "*" if key.endswith(":") and key != "acms:" and key != "acms:run:" else key


def macro_formats(texts):
    """The key layouts #defined in common/keys.h, with their concatenations resolved."""
    text = texts.get(ROOT / "common/keys.h", "")
    defs = dict(re.findall(r"^#define (ACMS_KEY_\w+) (.+)$", text, flags=re.M))
    def resolve(name, depth=0):
        out = ""
        for tok in re.findall(r'"[^"]*"|\w+', defs.get(name, "")):
            if tok.startswith('"'):
                out += tok[1:-1]
            elif tok in defs and depth < 8:
                out += resolve(tok, depth + 1)
        return out
    return {resolve(n) for n in defs if resolve(n).startswith("acms:")}


def keys(texts, problems):
    built = set()
    literals = set()
    for t in texts.values():
        for k in re.findall(r'"(?:[A-Z]+ )?(acms:[A-Za-z0-9_:%.<>*-]*)', t):
            built.add(skeleton(k.rstrip(".")))
        for k in re.findall(r"(acms:[a-z][A-Za-z0-9_:%.-]*)", t):  # inside Redis commands and comments
            if "%" in k:
                built.add(skeleton(k.rstrip(".")))
        for lit in re.findall(r'"([^"\\\n]*)"', t):
            literals.add(lit.lstrip(":").split(":")[0])
    built.update(skeleton(k) for k in macro_formats(texts))
    page = (ROOT / "docs/redis-keys.md").read_text()
    rows = [l for l in page.splitlines() if l.startswith("| `acms:")]
    documented = set()
    for row in rows:
        first = row.split("|")[1]
        documented.update(skeleton(k) for k in re.findall(r"`(acms:[^`]+)`", first))
    for k in sorted(built):
        if k in GENERIC or k in documented:
            continue
        problems.append(f"keys: the code builds {k}, docs/redis-keys.md has no row for it")
    for k in sorted(documented):
        if k in built or generic_part_found(k, literals):
            continue
        problems.append(f"keys: docs/redis-keys.md documents {k}, which the code no longer builds")


def generic_part_found(key, literals):
    """acms:run:*:cancel: a generic builder (GENERIC) whose part is a literal of the code."""
    for g in GENERIC:
        if not g.endswith("*:*"):
            continue
        prefix = g[:-1]
        if key.startswith(prefix) and key != prefix:
            part = key[len(prefix):].split(":")[0]
            if part and part != "*" and part in literals:
                return True
    return False


def links(problems):
    pages = [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "bench/README.md"]
    pages += sorted((ROOT / "docs").glob("*.md")) + sorted((ROOT / "services").glob("*/README.md"))
    for page in pages:
        if not page.exists():
            problems.append(f"links: {page.relative_to(ROOT)} is missing")
            continue
        text = re.sub(r"`[^`\n]*`", "", re.sub(r"```.*?```", "", page.read_text(), flags=re.S))
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"^(https?:|mailto:|#)", target):
                continue
            path = (page.parent / target.split("#")[0]).resolve()
            if not path.exists():
                problems.append(f"links: {page.relative_to(ROOT)} links to {target}, which does not exist")


def service_files(problems):
    for readme in sorted((ROOT / "services").glob("*/README.md")):
        d = readme.parent
        listed = set(re.findall(r"^\| `([A-Za-z0-9_]+\.c)`", readme.read_text(), flags=re.M))
        present = {p.name for p in d.glob("*.c")}
        for f in sorted(present - listed):
            problems.append(f"services: {d.name}/{f} is missing from {readme.relative_to(ROOT)}")
        for f in sorted(listed - present):
            problems.append(f"services: {readme.relative_to(ROOT)} lists {f}, which does not exist")
    for d in sorted((ROOT / "services").iterdir()):
        if d.is_dir() and not (d / "README.md").exists():
            problems.append(f"services: {d.name} has no README.md")


def main():
    texts = code_text()
    problems = []
    variables(texts, problems)
    keys(texts, problems)
    links(problems)
    service_files(problems)
    for p in problems:
        print("check-docs:", p)
    if problems:
        print(f"check-docs: {len(problems)} disagreement(s) between docs/ and the code")
        return 1
    print("check-docs: docs/configuration.md and docs/redis-keys.md agree with the code; every link resolves")
    return 0


if __name__ == "__main__":
    sys.exit(main())
