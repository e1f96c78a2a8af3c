// Package studiestest gives tests a fresh, empty study database on PostgreSQL: a schema
// of its own on the server that [PostgresEnv] names, selected through the URL's
// search_path (the store keeps its tables in the connection's current schema) and
// dropped when the test ends. It is for tests only; it imports testing.
//
// Tests skip, with a message naming their package, when [PostgresEnv] is not set
// (.ci/run starts a server and sets it).
package studiestest

import (
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for creating and dropping schemas
)

// PostgresEnv names the environment variable that holds the test server's URL, that of
// a role that may create schemas in its database, for example
// postgres://fhetune_test:fhetune_test@localhost:5432/fhetune_test.
const PostgresEnv = "FHETUNE_TEST_POSTGRES"

// schemaSeq tells apart the schemas one process creates.
var schemaSeq atomic.Int64

// unsafeChars are the characters a test name may hold that a schema name should not.
var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9]+`)

// PostgresServer returns the URL in [PostgresEnv], or skips the test with a message
// that names pkg (the calling package) when it is not set.
func PostgresServer(t testing.TB, pkg string) string {
	t.Helper()
	u := os.Getenv(PostgresEnv)
	if u == "" {
		t.Skip(pkg + ": " + PostgresEnv + " not set: no PostgreSQL server to test against (.ci/run starts one)")
	}
	return u
}

// PostgresURL creates an empty schema for the test on the server of [PostgresEnv] and
// returns the server's URL with search_path set to it: a --db value (or
// [github.com/fhetune/fhetune/studies.Open] argument) of a fresh study database. The
// schema and everything in it is dropped when the test ends. Without a server the test
// is skipped with a message naming pkg. The name of the schema comes from the test's
// name, the process id and a counter, so parallel tests and processes do not collide.
func PostgresURL(t testing.TB, pkg string) string {
	t.Helper()
	server := PostgresServer(t, pkg)
	name := strings.ToLower(unsafeChars.ReplaceAllString(t.Name(), "_"))
	if len(name) > 40 { // PostgreSQL cuts identifiers at 63 bytes; search_path would not
		name = name[len(name)-40:]
	}
	schema := fmt.Sprintf("t%d_%d_%s", os.Getpid(), schemaSeq.Add(1), name)
	admin, err := sql.Open("pgx", server)
	if err != nil {
		t.Fatalf("%s: %v", PostgresEnv, err)
	}
	if _, err := admin.Exec(`CREATE SCHEMA "` + schema + `"`); err != nil {
		admin.Close()
		t.Fatalf("%s: create schema %s: %v", PostgresEnv, schema, err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(`DROP SCHEMA "` + schema + `" CASCADE`); err != nil {
			t.Errorf("%s: drop schema %s: %v", PostgresEnv, schema, err)
		}
		admin.Close()
	})
	return WithParam(t, server, "search_path", schema)
}

// WithParam returns the URL raw with the query parameter key set to value.
func WithParam(t testing.TB, raw, key, value string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%s: %v", PostgresEnv, err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}
