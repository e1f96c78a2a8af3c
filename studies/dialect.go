package studies

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
)

// dialect holds what differs between the two backends in the SQL that the store's
// queries share. Queries are written once with ? placeholders; [txn] rebinds them.
type dialect struct {
	// name is "sqlite" or "postgres", for messages.
	name string
	// numbered: placeholders are $1, $2, ... (PostgreSQL) instead of ?.
	numbered bool
	// lockRow ends a SELECT that must lock the rows it reads until the transaction
	// ends: " FOR NO KEY UPDATE" on PostgreSQL (the lock an UPDATE of a row's other
	// columns takes, which lets rows that reference it be inserted meanwhile), "" on
	// SQLite, where every write transaction holds the database's write lock from its
	// start (BEGIN IMMEDIATE).
	lockRow string
	// skipLocked ends a SELECT that takes one row that no other transaction holds:
	// " FOR UPDATE SKIP LOCKED" on PostgreSQL, "" on SQLite.
	skipLocked string
	// lockNumbers returns the study's id (its two parameters are both the study id)
	// when the study exists and, on PostgreSQL, takes the study's numbering lock until
	// the transaction ends (see [Store.lockNumbers]).
	lockNumbers string
}

var (
	sqliteDialect   = &dialect{name: "sqlite", lockNumbers: "SELECT id FROM studies WHERE id = ? AND id = ?"}
	postgresDialect = &dialect{name: "postgres", numbered: true, lockRow: " FOR NO KEY UPDATE",
		skipLocked: " FOR UPDATE SKIP LOCKED", lockNumbers: pgLockNumbers}
)

// rebind turns the ? placeholders of query into $1, $2, ... when the dialect numbers
// them. A ? inside a quoted string or identifier stays as it is.
func (d *dialect) rebind(query string) string {
	if !d.numbered || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	var quote byte // the open quote, or 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// args maps Go values the drivers store differently to one form: a bool becomes the
// integer 0 or 1 (both schemas keep flags in integer columns).
// The caller's slice is left as it was.
func (d *dialect) args(args []any) []any {
	out := args
	for i, a := range args {
		v, ok := a.(bool)
		if !ok {
			continue
		}
		if &out[0] == &args[0] {
			out = append([]any(nil), args...)
		}
		out[i] = 0
		if v {
			out[i] = 1
		}
	}
	return out
}

// txn is one transaction of the store: a *sql.Tx whose queries, written with ?
// placeholders, are rebound for the backend. It implements querier.
type txn struct {
	tx *sql.Tx
	d  *dialect
}

// ExecContext runs a statement that returns no rows.
func (t *txn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, t.d.rebind(query), t.d.args(args)...)
}

// QueryContext runs a query; the caller closes the rows.
func (t *txn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, t.d.rebind(query), t.d.args(args)...)
}

// QueryRowContext runs a query that returns at most one row.
func (t *txn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.d.rebind(query), t.d.args(args)...)
}
