"""movex's journal after a run (secondary failures / different affected rows), grouped.  usage: journal.py STATE_DB"""
import sqlite3, re, sys, collections
c = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
rows = list(c.execute("select side, kind, statements, error from movex_journal order by id"))
print(f"journal entries: {len(rows)}")
groups, ex = collections.Counter(), {}
for side, kind, st, err in rows:
    k = (side, kind, re.sub(r"\s+", " ", err or "")[:160])
    groups[k] += 1
    ex.setdefault(k, re.sub(r"\s+", " ", st or "")[:160])
for k, n in groups.most_common():
    print(f"  {n} x {k[0]} {k[1]}: {k[2]}")
    print(f"      e.g. {ex[k]}")
