#!/usr/bin/env python3
"""Derives the compact IPC scheme compiled into techtrade-domain from the
IPC scheme files ipc_2026.01_zh.jsonl and ipc_supplement.jsonl (of the
project's shared data folder, ../shared/data, or the folder given with
--source DIR). The result is committed: building and testing need neither.

Writes crates/domain/data/ipc_titles.tsv (sections, classes and subclasses
with their Chinese titles, `deleted` marked) and ipc_groups.txt (one line per
subclass: the subclass, then its main groups and subgroups as `16/00`,
`16/33`, ...). Run from the repository root:
python3 tools/derive_ipc.py [--source DIR]
"""

import collections
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = pathlib.Path(sys.argv[sys.argv.index("--source") + 1]) if "--source" in sys.argv else ROOT.parent / "shared" / "data"
OUT = ROOT / "crates" / "domain" / "data"


def records():
    for name in ("ipc_2026.01_zh.jsonl", "ipc_supplement.jsonl"):
        with open(DATA / name, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)


def main():
    titles = {}
    groups = collections.defaultdict(set)
    for r in records():
        code, level = r["code"].strip(), r["level"]
        title = (r.get("title_zh") or r.get("title_en") or "").replace("\t", " ").replace("\n", " ").strip()
        if level in ("section", "class", "subclass"):
            if code not in titles or (title and not titles[code][1]):
                titles[code] = (level, title, bool(r.get("deleted")))
        elif level in ("main_group", "subgroup"):
            subclass, group = code[:4], code[4:].strip()
            groups[subclass].add(group)
        else:
            sys.exit(f"unknown level {level} for {code}")
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "ipc_titles.tsv", "w", encoding="utf-8") as f:
        for code in sorted(titles):
            level, title, deleted = titles[code]
            f.write(f"{code}\t{level}\t{'deleted' if deleted else ''}\t{title}\n")

    def key(group):
        main, _, sub = group.partition("/")
        return (int(main), sub)

    with open(OUT / "ipc_groups.txt", "w", encoding="utf-8") as f:
        for subclass in sorted(groups):
            f.write(subclass + " " + " ".join(sorted(groups[subclass], key=key)) + "\n")
    print(f"{len(titles)} sections, classes and subclasses; "
          f"{sum(len(g) for g in groups.values())} groups in {len(groups)} subclasses")


if __name__ == "__main__":
    main()
