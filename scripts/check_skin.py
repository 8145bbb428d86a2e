#!/usr/bin/env python3
"""Checks smpsim's skin log against a dot plan: every dot penetrated exactly
once at its depth, no penetration anywhere else, no sideways motion in the
skin, and the needle off at the end. Prints a one-paragraph summary and exits
non-zero if anything is wrong. Used by the README's demo; the end-to-end tests
make the same checks in C.

usage: check_skin.py PLAN.csv SKIN.jsonl [--tol MM] [--heightmap FILE]

A dot's depth is compared with what the planner asked for; the position match
is in skin coordinates, which equal work coordinates when the work origin is
set to smpsim's --skin-origin (as the demo does).
"""
import csv
import json
import math
import sys


def read_plan(path):
    dots = []
    with open(path, newline="") as f:
        rows = [line for line in f if line.strip() and not line.lstrip().startswith("#")]
    reader = csv.DictReader(rows)
    for i, row in enumerate(reader):
        row = {k.strip(): v.strip() for k, v in row.items()}
        dots.append({
            "id": int(row["id"]) if row.get("id") else i + 1,
            "x": float(row["x"]),
            "y": float(row["y"]),
            "depth": float(row["depth"]),
        })
    return dots


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    tol = 0.01
    if "--tol" in argv:
        tol = float(argv[argv.index("--tol") + 1])
        args = [a for a in args if a != argv[argv.index("--tol") + 1]]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    dots = read_plan(args[0])
    pens, needle_on, violations = [], None, 0
    with open(args[1]) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            rec = json.loads(line)
            if rec.get("event") == "needle":
                needle_on = bool(rec.get("on"))
            elif "event" not in rec:
                pens.append(rec)
                if rec.get("lateral"):
                    violations += 1

    # Match each penetration to the nearest dot (grid hash, cell = 1 mm).
    grid = {}
    for d in dots:
        grid.setdefault((math.floor(d["x"]), math.floor(d["y"])), []).append(d)
    hits = {d["id"]: [] for d in dots}
    stray = []
    for p in pens:
        best, bd = None, None
        cx, cy = math.floor(p["x"]), math.floor(p["y"])
        for gx in (cx - 1, cx, cx + 1):
            for gy in (cy - 1, cy, cy + 1):
                for d in grid.get((gx, gy), []):
                    dist = math.hypot(d["x"] - p["x"], d["y"] - p["y"])
                    if bd is None or dist < bd:
                        best, bd = d, dist
        if best is None or bd > tol:
            stray.append(p)
        else:
            hits[best["id"]].append(p)

    missing = [i for i, h in hits.items() if not h]
    twice = [i for i, h in hits.items() if len(h) > 1]
    bad_depth = [(d["id"], d["depth"], hits[d["id"]][0]["depth"]) for d in dots
                 if len(hits[d["id"]]) == 1 and abs(hits[d["id"]][0]["depth"] - d["depth"]) > tol]
    ok = not (missing or twice or stray or bad_depth or violations or needle_on)
    print(f"skin check: {len(dots)} dots planned, {len(pens)} penetrations; "
          f"delivered once: {sum(1 for h in hits.values() if len(h) == 1)}, "
          f"missing: {len(missing)}, twice or more: {len(twice)}, "
          f"wrong depth: {len(bad_depth)}, elsewhere: {len(stray)}, "
          f"sideways in skin: {violations}, needle at end: "
          f"{'on' if needle_on else 'off'}")
    for what, ids in (("missing", missing), ("twice", twice)):
        if ids:
            print(f"  {what}: ids {ids[:20]}{' ...' if len(ids) > 20 else ''}")
    for i, want, got in bad_depth[:10]:
        print(f"  dot {i}: depth {got:.3f} mm, planned {want:.3f} mm")
    for p in stray[:10]:
        print(f"  stray penetration at x={p['x']:.3f} y={p['y']:.3f} depth={p['depth']:.3f}")
    print("RESULT: every dot delivered exactly once" if ok else "RESULT: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
