"""Summary of a run directory: per suite and mode pass/fail/error/skip counts and wall seconds;
tests that pass directly but not through movex (with messages); the src_first consistency checks."""
import os, sys, collections
out = sys.argv[1]
SUITES = ["pymysql", "go", "connector"]
MODES = ["direct", "src_only", "src_first"]

def load(suite, mode):
    p = os.path.join(out, f"{suite}.{mode}.tsv")
    if not os.path.exists(p):
        return None
    res = {}
    for line in open(p):
        parts = line.rstrip("\n").split("\t")
        res[parts[0]] = (parts[1], parts[2] if len(parts) > 2 else "")
    return res

def wall(suite, mode):
    p = os.path.join(out, f"{suite}.{mode}.wall")
    return open(p).read().strip() if os.path.exists(p) else "-"

def srv(suite, mode):
    p = os.path.join(out, f"{suite}.{mode}.server")
    return open(p).read().strip() if os.path.exists(p) else ""

data = {(s, m): load(s, m) for s in SUITES for m in MODES}
print(f"results: {out}")
print(f"{'suite':10} {'mode':10} {'total':>6} {'pass':>6} {'fail':>5} {'error':>5} {'skip':>5} {'wall s':>8}  server")
for s in SUITES:
    for m in MODES:
        r = data[(s, m)]
        if r is None:
            continue
        c = collections.Counter(st for st, _ in r.values())
        print(f"{s:10} {m:10} {len(r):6} {c['pass']:6} {c['fail']:5} {c['error']:5} {c['skip'] + c['xfail']:5} {wall(s, m):>8}  {srv(s, m)}")
print()
print("Pass directly, not through movex (status in src_only / src_first; message from the failing mode):")
any_ = False
for s in SUITES:
    d = data[(s, "direct")]
    if not d:
        continue
    for tid in sorted(d):
        if d[tid][0] != "pass":
            continue
        row = []
        for m in ("src_only", "src_first"):
            r = data[(s, m)]
            row.append("-" if r is None else r.get(tid, ("missing", ""))[0])
        if any(x not in ("pass", "-") for x in row):
            any_ = True
            msgs = []
            for m in ("src_only", "src_first"):
                r = data[(s, m)]
                if r and r.get(tid, ("missing",))[0] != "pass":
                    msgs.append(f"{m}: {r.get(tid, ('missing', 'not in results'))[1][:400]}")
            print(f"- [{s}] {tid}  src_only={row[0]} src_first={row[1]}")
            seen = set()
            for mm in msgs:
                key = mm.split(": ", 1)[1]
                if key in seen:
                    continue
                seen.add(key)
                print(f"    {mm}")
if not any_:
    print("  (none)")
print()
print("Fail directly but pass through movex:")
for s in SUITES:
    d = data[(s, "direct")]
    if not d:
        continue
    for tid in sorted(d):
        if d[tid][0] in ("fail", "error"):
            row = [(data[(s, m)] or {}).get(tid, ("-",))[0] for m in ("src_only", "src_first")]
            if "pass" in row:
                print(f"- [{s}] {tid} direct={d[tid][0]} src_only={row[0]} src_first={row[1]}")
print()
print("src_first consistency (suite_src vs suite_dst after the run):")
for s in SUITES:
    p = os.path.join(out, f"{s}.src_first.consistency")
    if os.path.exists(p):
        lines = open(p).read().splitlines()
        head = [l for l in lines if l.startswith(("tables:", "SAME", "DIFFERENT"))]
        print(f"  {s}: " + " ; ".join(head))
        start = False
        for l in lines:
            if l.startswith(("DIFFERENT", "journal entries")):
                start = True
            if start:
                print("    " + l)
