// A Go application as movex's MySQL front door sees it: go-sql-driver/mysql
// with server-side prepared statements for every parameterised query (the
// driver's default) and transactions. Built by tests/proxy.rs with Debian's
// golang-go and golang-github-go-sql-driver-mysql-dev (GOPATH mode).
//
// Usage: client DSN. Prints what it read back, one fact per line.
package main

import (
	"database/sql"
	"fmt"
	"os"

	_ "github.com/go-sql-driver/mysql"
)

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func main() {
	db, err := sql.Open("mysql", os.Args[1])
	must(err)
	defer db.Close()
	db.SetMaxOpenConns(4)

	// Parameterised statements: prepared on the server, executed, closed.
	for i := 0; i < 5; i++ {
		res, err := db.Exec("INSERT INTO t (v, n) VALUES (?, ?)", fmt.Sprintf("go%d", i), i)
		must(err)
		id, err := res.LastInsertId()
		must(err)
		fmt.Println("inserted", id)
	}

	// A committed transaction, with a statement prepared inside it.
	tx, err := db.Begin()
	must(err)
	stmt, err := tx.Prepare("UPDATE t SET n = n + ? WHERE v = ?")
	must(err)
	for _, v := range []string{"go1", "go2"} {
		_, err = stmt.Exec(100, v)
		must(err)
	}
	must(stmt.Close())
	must(tx.Commit())

	// A rolled-back one.
	tx, err = db.Begin()
	must(err)
	_, err = tx.Exec("DELETE FROM t WHERE v = ?", "go0")
	must(err)
	must(tx.Rollback())

	var count, sum int
	must(db.QueryRow("SELECT count(*), sum(n) FROM t WHERE v LIKE ?", "go%").Scan(&count, &sum))
	fmt.Println("rows", count, "sum", sum)
}
