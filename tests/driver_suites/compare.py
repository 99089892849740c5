"""Compare two databases on 127.0.0.1:3306: table list, columns, row count and CHECKSUM TABLE per table.
usage: compare.py SRC DST   (exit 0 same, 1 different)"""
import subprocess, sys
src, dst = sys.argv[1:3]

def q(sql):
    r = subprocess.run(["mariadb", "-uroot", "-h127.0.0.1", "-P3306", "-N", "-B", "-e", sql], capture_output=True, text=True)
    if r.returncode:
        return "ERROR " + r.stderr.strip()
    return r.stdout

def tables(db):
    return dict(l.split("\t") for l in q(f"SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA='{db}' ORDER BY TABLE_NAME").splitlines() if l)

def cols(db, t):
    return q(f"SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_KEY FROM information_schema.COLUMNS WHERE TABLE_SCHEMA='{db}' AND TABLE_NAME='{t}' ORDER BY ORDINAL_POSITION")

ts, td = tables(src), tables(dst)
diffs = []
only_s, only_d = sorted(set(ts) - set(td)), sorted(set(td) - set(ts))
if only_s: diffs.append(f"tables only in {src}: {' '.join(only_s)}")
if only_d: diffs.append(f"tables only in {dst}: {' '.join(only_d)}")
def routines(db):
    return q(f"SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA='{db}' ORDER BY 1,2")
rs, rd = routines(src), routines(dst)
if rs != rd:
    diffs.append(f"routines differ: {src}: {rs.split()} / {dst}: {rd.split()}")
for t in sorted(set(ts) & set(td)):
    if ts[t] != td[t]:
        diffs.append(f"{t}: type {ts[t]} vs {td[t]}")
    if cols(src, t) != cols(dst, t):
        diffs.append(f"{t}: columns differ")
    if ts[t] != "BASE TABLE":
        continue
    cs = q(f"SELECT COUNT(*) FROM `{src}`.`{t}`").strip(); cd = q(f"SELECT COUNT(*) FROM `{dst}`.`{t}`").strip()
    ks = q(f"CHECKSUM TABLE `{src}`.`{t}` EXTENDED").split("\t")[-1].strip()
    kd = q(f"CHECKSUM TABLE `{dst}`.`{t}` EXTENDED").split("\t")[-1].strip()
    line = f"{t}: rows {cs}/{cd} checksum {ks}/{kd}"
    print(line)
    if cs != cd or ks != kd:
        diffs.append(line)
print(f"tables: {src} {len(ts)}, {dst} {len(td)}")
if diffs:
    print("DIFFERENT:")
    for d in diffs: print("  " + d)
    sys.exit(1)
print("SAME")
