// Package studies is fhetune's persistence: a generic multi-objective study store in one
// SQLite file (github.com/mattn/go-sqlite3 through database/sql).
//
// A study has a unique name, a JSON spec, one or more objectives (name and direction),
// user attributes and named artifacts (blobs such as a trained base model). Its trials
// carry a dense number (0, 1, 2, ...), a [State], parameters, one value per objective,
// JSON attributes, error text, start/finish/heartbeat times and a worker id. The Pareto
// front of each study (its non-dominated COMPLETE trials) is kept in a table of its own
// and updated in the same transaction that completes a trial, so reading it never scans
// all trials. Calibration profiles (machine description and JSON payload) live in the
// same file.
//
// # Lifecycle of a trial
//
//	Enqueue ─► WAITING ─┐
//	                    ├─ StartTrial ─► RUNNING ─┬─ Complete ─► COMPLETE
//	      (no WAITING) ─┘   Heartbeat, SetParams  ├─ Fail ─────► FAIL
//	                                              ├─ Prune ────► PRUNED
//	                                              └─ ReapStale ► FAIL, and its params
//	                                                             enqueued again as WAITING
//
// COMPLETE, FAIL and PRUNED are final: writes to such a trial return [ErrTrialFinished],
// as database/sql returns ErrTxDone after a commit.
//
// # Concurrency and durability
//
// A [Store] is safe for concurrent use by goroutines, and several OS processes may open
// the same file at once. The journal is a WAL with synchronous=NORMAL: a transaction
// whose call returned survives the crash or SIGKILL of its process (a power failure may
// lose the last transactions but never corrupts the file). Every change is one
// transaction that takes the write lock up front (BEGIN IMMEDIATE); when another process
// holds the lock, the store waits (busy timeout) and retries, so "database is locked"
// does not reach callers unless their context ends first.
//
// # Schema
//
// The schema is a list of ordered migrations, each applied in one transaction that also
// records its version (PRAGMA user_version, and a row in schema_migrations). A file
// written by a newer schema is refused with [ErrNewerSchema], a file that is not SQLite
// with [ErrNotSQLite], and an SQLite file of another application with
// [ErrNotStudyDatabase]; none of these refusals writes to the file.
//
// # goptuna
//
// [GoptunaStorage] adapts a Store to goptuna's Storage interface (goptuna v0.9.0) over
// the same tables, so goptuna's samplers can read and extend a study's history.
//
// This package knows nothing of FHE, search or the CLI; it must not import them.
package studies
