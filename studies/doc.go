// Package studies is fhetune's persistence: a generic multi-objective study store in one
// SQLite file (github.com/mattn/go-sqlite3 through database/sql), the embedded default,
// or in a PostgreSQL database that workers on many machines share
// (github.com/jackc/pgx/v5 through database/sql). [Open] picks the backend from its
// argument: a postgres:// or postgresql:// URL, or a file path.
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
//	      (no WAITING) ─┘   Heartbeat, SetParams, ├─ Fail ─────► FAIL
//	                        Report                ├─ Prune ────► PRUNED
//	                                              └─ ReapStale ► FAIL, and its params
//	                                                             enqueued again as WAITING
//
// A RUNNING trial may report intermediate values by step ([Store.Report], an epoch's
// validation accuracy, say); they stay with the trial whatever its end
// ([Trial].Intermediate), for pruners to compare trials by.
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
// # PostgreSQL
//
// The same [Store] API, queries and guarantees hold on PostgreSQL. Queries are written
// once with ? placeholders and rebound to $1, $2, ...; the two backends differ only in
// their schema text and in the locks a write takes. Write transactions run at READ
// COMMITTED and lock what they change: a trial's row before its state moves (or an
// UPDATE whose WHERE clause checks the state), the study's row before the front
// changes (so front updates see each other), a study's numbering lock (a
// transaction-level advisory lock) before a trial is numbered (so numbers stay dense,
// and numbering never waits for a front update), and StartTrial takes a WAITING trial
// with FOR UPDATE SKIP LOCKED. Reads run
// in a read-only REPEATABLE READ snapshot. What a worker does once or more per trial
// (StartTrial, SetParams, Heartbeat, Complete of a trial that does not join the front)
// is one round trip to the server: a single statement or a pipelined batch. Complete
// decides in the worker's process whether a front it saw dominates the trial, so that
// the common completion is a plain update. Two writes
// do not wait for their WAL flush: a heartbeat (a server crash may lose the last
// fraction of a second of heartbeats, which only makes trials look older to ReapStale),
// and StartTrial's transaction, which releases the numbering lock without waiting and
// then waits for a second, synchronous one, so that a returned trial is on disk and
// the study can number more trials per second than the disk flushes. A transaction
// that fails with a serialization failure, a deadlock or a lost connection (the server
// restarted, a terminated backend) runs again on a fresh connection, within the
// [LockWait] bound.
// Errors name the URL without its password ([RedactURL]); a server that cannot be
// reached gives [ErrConnect], a refused login [ErrLogin], both before anything is
// written. Tables live in the connection's current schema (set search_path in the URL
// to keep several study databases in one PostgreSQL database). [CopyStudy] copies a
// study between any two stores.
//
// # Schema
//
// The schema is a list of ordered migrations per backend, each applied in one
// transaction that also records its version (a row in schema_migrations, and on SQLite
// PRAGMA user_version; PostgreSQL marks the table with a comment instead of SQLite's
// application id, and openers take turns through an advisory lock). A database
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
