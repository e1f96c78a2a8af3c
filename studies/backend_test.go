package studies_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for the tests' own statements

	"github.com/fhetune/fhetune/studies"
	"github.com/fhetune/fhetune/studies/studiestest"
)

// pgEnv names the PostgreSQL server the tests use, as a URL of a role that may create
// schemas in its database, e.g. postgres://fhetune_test:fhetune_test@localhost/fhetune_test.
// .ci/run sets it; without it the PostgreSQL tests skip.
const pgEnv = studiestest.PostgresEnv

// backend is one kind of study database the tests run on.
type backend struct {
	name string
	// db returns the --db value of a fresh, empty database for one test: a file in
	// the test's temporary folder, or a PostgreSQL schema of its own (dropped after the
	// test) selected through the URL's search_path.
	db func(t testing.TB) string
}

var (
	sqliteBackend   = backend{name: "sqlite", db: func(t testing.TB) string { return filepath.Join(t.TempDir(), "studies.db") }}
	postgresBackend = backend{name: "postgres", db: pgURL}
)

// eachBackend runs f as a subtest on SQLite and on PostgreSQL.
func eachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range []backend{sqliteBackend, postgresBackend} {
		t.Run(b.name, func(t *testing.T) { f(t, b) })
	}
}

// open opens a fresh store of the backend and closes it after the test; it returns the
// store and its --db value.
func (b backend) open(t testing.TB, opts ...studies.Option) (*studies.Store, string) {
	t.Helper()
	db := b.db(t)
	s, err := studies.Open(context.Background(), db, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, db
}

// pgServer returns the server URL of pgEnv, or skips the test.
func pgServer(t testing.TB) string {
	t.Helper()
	return studiestest.PostgresServer(t, "studies")
}

// pgURL creates an empty schema for the test and returns the server URL with
// search_path set to it; the schema is dropped when the test ends.
func pgURL(t testing.TB) string {
	t.Helper()
	return studiestest.PostgresURL(t, "studies")
}

// pgAdmin connects to the test server for the test's own statements.
func pgAdmin(t testing.TB, server string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", server)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(); err != nil {
		t.Fatalf("%s: %v", pgEnv, err)
	}
	return db
}

// withParam returns the URL with a query parameter set.
func withParam(t testing.TB, raw, key, value string) string {
	t.Helper()
	return studiestest.WithParam(t, raw, key, value)
}

// rawDB opens the store's database behind its back, for checks the API cannot make.
func rawDB(t testing.TB, db string) *sql.DB {
	t.Helper()
	driver := "sqlite3"
	if studies.IsPostgresURL(db) {
		driver = "pgx"
	}
	raw, err := sql.Open(driver, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw
}
