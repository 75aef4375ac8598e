#!/usr/bin/env python3
"""What the perturbation costs in accuracy (BENCHMARKS.md, "Utility of the perturbed figures"):
the public figures against the exact ones (admins'), unit by unit.

    dyaspora --db /tmp/u.db serve --addr 127.0.0.1:8099 &           # demo data, 200,000 records
    TOKEN=$(dyaspora --db /tmp/u.db token create --role admin --name bench --json | jq -r .token)
    .venv/bin/python benches/python/perturbation_utility.py http://127.0.0.1:8099 "$TOKEN"

Prints, per layer: the error of counts by size class of the exact count (mean absolute, mean
relative), the error of the national and state totals, and how many units change colour
class (the legend's class of the default metric, each layer classified from its own values).
"""

import json
import statistics
import sys
import urllib.request

SIZES = [(11, 20), (21, 50), (51, 100), (101, 500), (501, 1000), (1001, 10**9)]
LAYERS = ["unit=state", "unit=county", "unit=h3&res=4", "unit=h3&res=6", "unit=h3&res=8", "unit=county&gender=f", "unit=h3&res=6&sector=Q"]


def get(base, path, token=None):
    req = urllib.request.Request(base + path)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read())


def features(fc):
    return {f["id"]: f["properties"] for f in fc["features"]}


def main(base, token):
    print("| layer | figure | exact count | units | mean abs. error | mean rel. error |")
    print("|---|---|---|---|---|---|")
    classes = []
    for q in LAYERS:
        exact_fc = get(base, f"/api/v1/admin/aggregates?{q}", token)
        public_fc = get(base, f"/api/v1/aggregates?{q}")
        exact, public = features(exact_fc), features(public_fc)
        for prop in ["count", "female", "remitters"]:
            for lo, hi in SIZES:
                errs = [
                    (abs(public[u][prop] - e[prop]), abs(public[u][prop] - e[prop]) / e[prop])
                    for u, e in exact.items()
                    if u in public and e.get(prop) is not None and public[u].get(prop) is not None and lo <= e[prop] <= hi
                ]
                if len(errs) >= 5 and prop == "count" or (len(errs) >= 5 and lo == 11):
                    mae = statistics.mean(a for a, _ in errs)
                    mre = statistics.mean(r for _, r in errs)
                    label = f"{lo}–{hi}" if hi < 10**9 else f"> {lo - 1}"
                    print(f"| {q} | {prop} | {label} | {len(errs)} | {mae:.2f} | {100 * mre:.2f} % |")
        shown = [u for u in exact if u in public and exact[u].get("class") is not None and public[u].get("class") is not None]
        moved = sum(exact[u]["class"] != public[u]["class"] for u in shown)
        dropped = sum(1 for u, e in exact.items() if e.get("count") is not None and (u not in public or public[u].get("count") is None))
        classes.append((q, exact_fc["classification"]["metric"], len(shown), moved, dropped))
        if q == "unit=state":
            te, tp = exact_fc["totals"], public_fc["totals"]
            print()
            print("| national total | exact | public | error |")
            print("|---|---|---|---|")
            for prop in ["count", "female", "remitters", "remit_total_usd"]:
                if te.get(prop) is not None and tp.get(prop) is not None:
                    err = tp[prop] - te[prop]
                    print(f"| {prop} | {te[prop]:,} | {tp[prop]:,} | {err:+,.2f} ({100 * err / te[prop]:+.4f} %) |")
            rel = [abs(public[u]["remit_total_usd"] - e["remit_total_usd"]) / e["remit_total_usd"]
                   for u, e in exact.items() if e.get("remit_total_usd") and public.get(u, {}).get("remit_total_usd")]
            print(f"\nstate remittance totals: {len(rel)} published, mean relative error {100 * statistics.mean(rel):.3f} %, largest {100 * max(rel):.3f} %\n")
            print("| layer | figure | exact count | units | mean abs. error | mean rel. error |")
            print("|---|---|---|---|---|---|")
    print()
    print("| layer | classified metric | units in both | changed colour class | published exactly, hidden publicly |")
    print("|---|---|---|---|---|")
    for q, metric, n, moved, dropped in classes:
        print(f"| {q} | {metric} | {n} | {moved} ({100 * moved / max(n, 1):.1f} %) | {dropped} |")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
