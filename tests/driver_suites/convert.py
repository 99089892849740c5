"""Raw suite output -> TSV: test id \t status \t one-line message.  usage: convert.py pymysql|go|connector RAW OUT"""
import json, sys, re
import xml.etree.ElementTree as ET

RANK = {"pass": 0, "skip": 1, "xfail": 1, "fail": 2, "error": 3}

def one_line(s, n=600):
    s = re.sub(r"\s+", " ", s or "").strip()
    return s[:n]

def pymysql(path):
    out = {}
    try:
        root = ET.parse(path).getroot()
    except Exception as e:
        return {"<suite>": ("error", f"no junit xml: {e}")}
    for tc in root.iter("testcase"):
        tid = f'{tc.get("classname")}::{tc.get("name")}'
        st, msg = "pass", ""
        for child in tc:
            if child.tag in ("failure", "error"):
                st = "fail" if child.tag == "failure" else "error"
                text = child.text or ""
                # the last "E   ..." lines of pytest's traceback
                elines = [l[1:].strip() for l in text.splitlines() if l.startswith("E ")]
                msg = (child.get("message") or "") + (" | " + " | ".join(elines[-4:]) if elines else "")
                break
            if child.tag == "skipped":
                st, msg = ("xfail" if child.get("type") == "pytest.xfail" else "skip"), child.get("message") or ""
        if tid in out and RANK[out[tid][0]] >= RANK[st]:
            continue  # a teardown error adds a second testcase: keep the worst
        out[tid] = (st, msg)
    return out

def go(path):
    out, output = {}, {}
    for line in open(path, errors="replace"):
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        t = ev.get("Test")
        if not t:
            if ev.get("Action") == "fail" and not out:
                out["<package>"] = ("error", one_line("".join(output.get(None, []))[-600:]))
            if ev.get("Action") == "output":
                output.setdefault(None, []).append(ev.get("Output", ""))
            continue
        a = ev.get("Action")
        if a == "output":
            output.setdefault(t, []).append(ev.get("Output", ""))
        elif a in ("pass", "fail", "skip"):
            msg = ""
            if a != "pass":
                lines = [l.strip() for l in output.get(t, []) if l.strip() and not l.strip().startswith(("=== ", "--- "))]
                msg = " | ".join(lines[-6:])
            out[t] = ({"pass": "pass", "fail": "fail", "skip": "skip"}[a], msg)
    # a test still running when the binary died (panic / timeout)
    for t in output:
        if t and t not in out:
            lines = [l.strip() for l in output[t] if l.strip() and not l.strip().startswith("=== ")]
            out[t] = ("error", "did not finish: " + " | ".join(lines[-6:]))
    return out

def connector(path):
    out = {}
    try:
        f = open(path)
    except OSError as e:
        return {"<suite>": ("error", f"no results: {e}")}
    for line in f:
        r = json.loads(line)
        tid, st, msg = r["id"], r["status"], r["msg"]
        if tid in out and RANK[out[tid][0]] >= RANK[st]:
            continue
        out[tid] = (st, msg)
    return out

kind, raw, dst = sys.argv[1:4]
res = {"pymysql": pymysql, "go": go, "connector": connector}[kind](raw)
with open(dst, "w") as f:
    for tid in sorted(res):
        st, msg = res[tid]
        f.write(f"{tid}\t{st}\t{one_line(msg)}\n")
