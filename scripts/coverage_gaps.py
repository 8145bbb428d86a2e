#!/usr/bin/env python3
"""Lists the lines a coverage run did not reach, by file and function.

Usage: coverage_gaps.py LCOV_INFO SOURCE_ROOT [PREFIX...]

Reads an lcov tracefile (scripts/coverage.sh writes build-cov/smpd.info) and
prints, for every file under one of the PREFIXes (default: planner/,
drivers/, daemon/session.c), its line coverage and each function that has
lines never run, with those lines and a hint of what they are (allocation
failure, I/O error, ...), so that the README can say exactly what the suite
does not exercise. Markdown on stdout.
"""
import re
import sys


def hint(src, line):
    """A few words on what an unreached line is, from the code around it."""
    text = " ".join(s.strip() for s in src[max(0, line - 4):line])
    if re.search(r"out of memory|\b(m|c|re)alloc\(|strdup\(|json_(pack|object|array)", text):
        return "allocation failure"
    if re.search(r"\b(read|write|open|fopen|fsync|fdatasync|fstat|rename|"
                 r"close|poll|socket|connect|fcntl|tcsetattr|tcgetattr|"
                 r"sp_[a-z_]+)\(", text) and re.search(r"< 0|!= 0|== -1|SP_OK|NULL", text):
        return "system call failure"
    return None


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    info, root = sys.argv[1], sys.argv[2].rstrip("/") + "/"
    prefixes = sys.argv[3:] or ["planner/", "drivers/", "daemon/session.c"]
    records = open(info).read().split("end_of_record")
    total_lines = total_missed = 0
    out = []
    for rec in records:
        m = re.search(r"^SF:(.*)$", rec, re.M)
        if not m:
            continue
        path = m.group(1)
        rel = path[len(root):] if path.startswith(root) else path
        if not any(rel.startswith(p) for p in prefixes):
            continue
        src = open(path, errors="replace").read().split("\n")
        funcs = sorted((int(l), n) for l, n in re.findall(r"^FN:(\d+),(.*)$", rec, re.M))
        lines = [(int(l), int(c)) for l, c in re.findall(r"^DA:(\d+),(\d+)", rec, re.M)]
        missed = [l for l, c in lines if c == 0]
        total_lines += len(lines)
        total_missed += len(missed)
        pct = 100.0 * (len(lines) - len(missed)) / len(lines) if lines else 100.0
        out.append(f"\n### {rel}: {pct:.1f}% of {len(lines)} lines\n")
        if not missed:
            out.append("Every line run.\n")
            continue
        by_fn = {}
        for l in missed:
            name = "(file scope)"
            for fl, fn in funcs:
                if fl <= l:
                    name = fn
            by_fn.setdefault(name, []).append(l)
        for name, ls in sorted(by_fn.items(), key=lambda kv: kv[1][0]):
            kinds = {}
            for l in ls:
                h = hint(src, l) or "other"
                kinds[h] = kinds.get(h, 0) + 1
            spans, start, prev = [], ls[0], ls[0]
            for l in ls[1:] + [None]:
                if l is not None and l == prev + 1:
                    prev = l
                    continue
                spans.append(f"{start}" if start == prev else f"{start}-{prev}")
                if l is not None:
                    start = prev = l
            what = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
            out.append(f"- `{name}`: lines {', '.join(spans)} ({what})\n")
    pct = 100.0 * (total_lines - total_missed) / total_lines if total_lines else 100.0
    print(f"Lines run: {total_lines - total_missed} of {total_lines} ({pct:.1f}%) "
          f"in {', '.join(prefixes)}.")
    print("".join(out))


if __name__ == "__main__":
    main()
