#!/usr/bin/env bash
# Set up the three driver suites under $SUITES_DIR (default /tmp/suites; idempotent; run.sh calls it).
#   PyMySQL 1.2.4 (PyPI) + pymysql/tests from PyMySQL/PyMySQL's newest commit
#   go-sql-driver/mysql 1.5.0 (Debian golang-github-go-sql-driver-mysql-dev), GOPATH mode
#   mysql-connector-python 26.10.0 sdist (pure Python, no C extension)
set -euo pipefail
ROOT=${SUITES_DIR:-/tmp/suites}
HERE=$(cd "$(dirname "$0")" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$ROOT"
cd "$ROOT"
mkdir -p dl src work venv

# --- PyMySQL -----------------------------------------------------------------
if [ ! -x venv/py/bin/pytest ]; then
  python3 -m venv venv/py
  venv/py/bin/pip -q install PyMySQL==1.2.4 pytest pytest-timeout
fi
if [ ! -d src/pymysql_tests/pymysql/tests ]; then
  # The tests are not in PyPI's package: they come from GitHub's PyMySQL/PyMySQL
  # (measured at 0305ab3). PYMYSQL_GIT: a clone of it (bare or not); on the
  # project's machines the library's `fetch github:PyMySQL/PyMySQL` mirror.
  GITDIR=${PYMYSQL_GIT:-/work/.mirror/PyMySQL+PyMySQL/repo}
  [ -d "$GITDIR" ] || { echo "need a clone of github.com/PyMySQL/PyMySQL: git clone --bare https://github.com/PyMySQL/PyMySQL and set PYMYSQL_GIT"; exit 1; }
  mkdir -p src/pymysql_tests
  git --git-dir="$GITDIR" archive HEAD pymysql/tests | tar -x -C src/pymysql_tests
  git --git-dir="$GITDIR" log -1 --format='%H %cd %s' > src/pymysql_tests/COMMIT
fi
if [ ! -d work/pymysql/pymysql/tests ]; then
  # installed 1.2.4 code + GitHub tests, as one package (tests import pymysql.tests.base)
  rm -rf work/pymysql && mkdir -p work/pymysql
  cp -r venv/py/lib/python3.*/site-packages/pymysql work/pymysql/pymysql
  rm -rf work/pymysql/pymysql/__pycache__
  cp -r src/pymysql_tests/pymysql/tests work/pymysql/pymysql/tests
fi

# --- go-sql-driver/mysql -----------------------------------------------------
if [ ! -d gopath/src/github.com/go-sql-driver/mysql ]; then
  command -v go >/dev/null || apt-get install -y golang-go golang-github-go-sql-driver-mysql-dev
  mkdir -p gopath/src/github.com/go-sql-driver
  cp -r /usr/share/gocode/src/github.com/go-sql-driver/mysql gopath/src/github.com/go-sql-driver/
fi

# --- mysql-connector-python ----------------------------------------------------
if [ ! -f dl/mysql_connector_python-26.10.0.tar.gz ]; then
  (cd dl && python3 -m pip download --no-binary :all: --no-deps mysql-connector-python==26.10.0)
fi
if [ ! -d src/mysql_connector_python-26.10.0 ]; then
  tar xzf dl/mysql_connector_python-26.10.0.tar.gz -C src
fi
if [ ! -x venv/myc/bin/python ]; then
  python3 -m venv venv/myc
  venv/myc/bin/pip -q install setuptools wheel
fi
if [ ! -f work/myc/.patched ]; then
  rm -rf work/myc && cp -r src/mysql_connector_python-26.10.0 work/myc
  (cd work/myc && python3 "$HERE/patch_myc.py")
  touch work/myc/.patched
fi
# (unittests.py itself installs the pure-Python connector into build/testing on each run:
#  no --with-mysql-capi, so no C extension)
echo "prep ok"
