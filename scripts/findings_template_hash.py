#!/usr/bin/env python3
"""Keep the findings cells' template hashes current.

`alignment-lab check` tells a student that a **My findings** cell is still the template by
comparing the cell's normalised text with `metadata.alignment_lab.template_sha256`, written here
from the notebook as it ships. Normalisation (the Rust side must do exactly the same):

1. split the cell's source on "\\n" and drop every line whose text, trimmed of whitespace, is
   `<!-- BEGIN SOLUTION -->`, `<!-- END SOLUTION -->` or `YOUR ANSWER HERE` (nbgrader's solution
   delimiters and the stub its generate_assignment puts between them);
2. join the remaining lines with "\\n", replace every run of whitespace by one space, and trim;
3. SHA-256 of the UTF-8 bytes, lowercase hex.

"Whitespace" is Unicode's White_Space property, as Rust's `char::is_whitespace` (and so
`str::split_whitespace` / `str::trim`) defines it, so that both sides agree on every input.

Usage:
    python3 scripts/findings_template_hash.py notebooks/alignment-lab.ipynb          # rewrite
    python3 scripts/findings_template_hash.py --check notebooks/alignment-lab.ipynb  # exit 1 if stale
"""

import argparse
import hashlib
import json
import re
import sys

# Unicode White_Space (= Rust's char::is_whitespace); Python's str.split() would also take
# U+001C..U+001F, which Rust does not.
WHITESPACE = (
    "\u0009\u000a\u000b\u000c\u000d\u0020\u0085\u00a0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
WHITESPACE_RUN = re.compile(f"[{WHITESPACE}]+")
DROPPED_LINES = {"<!-- BEGIN SOLUTION -->", "<!-- END SOLUTION -->", "YOUR ANSWER HERE"}


def source_text(cell):
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def normalise(text):
    kept = [line for line in text.split("\n") if line.strip(WHITESPACE) not in DROPPED_LINES]
    return WHITESPACE_RUN.sub(" ", "\n".join(kept)).strip(" ")


def template_hash(text):
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()


def findings_cells(nb):
    return [
        c for c in nb["cells"]
        if c.get("metadata", {}).get("alignment_lab", {}).get("role") == "findings"
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 when a hash is missing or stale")
    args = parser.parse_args(argv)

    with open(args.notebook, encoding="utf-8") as f:
        nb = json.load(f)
    cells = findings_cells(nb)
    if not cells:
        print(f"{args.notebook}: no cell has metadata.alignment_lab.role = \"findings\"", file=sys.stderr)
        return 1

    stale = []
    for cell in cells:
        meta = cell["metadata"]["alignment_lab"]
        want = template_hash(source_text(cell))
        if meta.get("template_sha256") != want:
            stale.append(cell.get("id", "?"))
            meta["template_sha256"] = want

    if args.check:
        for cell_id in stale:
            print(f"{args.notebook}: cell {cell_id}: template_sha256 is stale; run "
                  f"python3 scripts/findings_template_hash.py {args.notebook}", file=sys.stderr)
        if not stale:
            print(f"{args.notebook}: {len(cells)} findings template hashes are current")
        return 1 if stale else 0

    if stale:
        # The repository's notebook format: one-space indent, UTF-8 as is, trailing newline.
        with open(args.notebook, "w", encoding="utf-8") as f:
            f.write(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    print(f"{args.notebook}: {len(stale)} of {len(cells)} findings template hashes updated"
          + (f" ({', '.join(stale)})" if stale else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
