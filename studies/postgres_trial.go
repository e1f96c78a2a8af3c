package studies

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// The hot path of a trial on PostgreSQL: what a worker calls once or more per trial
// (StartTrial, SetParams, Heartbeat, Complete) costs one round trip to the server in
// the common case, instead of one per statement plus BEGIN and COMMIT. Each is a
// single statement (its own transaction) or a pipelined batch; the general
// transactions in trial.go remain the fallback for rare cases (an empty parameter
// list, a completion that may join the front or of a trial another store started, and
// every error, which they diagnose).
//
// Durability is that of the rest of the store with one exception, and one change in
// the order of things:
//
//   - A heartbeat commits asynchronously (synchronous_commit off for its transaction
//     only): it does not wait for the WAL to reach the disk. A server crash may lose
//     the heartbeats of its last moments (at most three times wal_writer_delay, 0.6 s
//     by default); the trial then looks that much older to [Store.ReapStale], whose
//     timeouts are many heartbeat intervals long. No state changes depend on it.
//   - SetParams of a trial this store started commits asynchronously, and the store
//     keeps the parameters until the trial finishes. The trial's completion (or
//     failure, or pruning) commits synchronously and its commit record follows the
//     parameters' in the WAL, so once it returns the parameters are on disk too. A
//     server crash in between may lose them while the worker goes on: Complete's
//     one statement then finds a parameter name missing and changes nothing, and the
//     general transactions of Complete, Fail and Prune write the kept parameters
//     again before they finish the trial. A trial whose worker dies as well keeps
//     what the disk had, as when a worker dies right after StartTrial. A trial
//     then waits for two WAL flushes instead of three: BenchmarkWorkers on
//     PostgreSQL, run alternately with and without, gave 3–16% more trials per
//     second in each of four pairs (median 5%).
//   - StartTrial releases the study's numbering lock before its commit is on disk: its
//     transaction commits asynchronously, and the call then waits for a second,
//     synchronous transaction ([pgFlush]) whose commit record follows the first one in
//     the WAL, so the trial is on disk before StartTrial returns (early lock release).
//     Without this every StartTrial of a study would hold the lock through one WAL
//     flush, and a study could not number more trials per second than the disk
//     flushes (a few hundred). A transaction that sees the new trial before it is on
//     disk and commits itself flushes it first (its commit record comes later in the
//     WAL), so nothing durable can depend on a trial that a server crash lost. If the
//     connection breaks after the first commit, the call runs again and starts another
//     trial; the first one, RUNNING without parameters, is failed by ReapStale and not
//     run again, as when a worker dies right after StartTrial.

// pgClaimOrCreate is StartTrial's statement: it marks the study's oldest WAITING trial
// that no other transaction holds RUNNING, or (when there is none) inserts a RUNNING
// trial with the next number, and returns it with its parameters. The caller holds the
// study's numbering lock, taken in an earlier statement of the transaction, so that this
// statement's snapshot sees every trial numbered before; a study that does not exist
// gives no row.
//
// $1 study id, $2 start and heartbeat (Unix ns), $3 worker.
const pgClaimOrCreate = `WITH w AS (
	UPDATE trials SET state = 'RUNNING', started = $2, heartbeat = $2, worker = $3
	WHERE id = (SELECT id FROM trials WHERE study_id = $1 AND state = 'WAITING' ORDER BY number LIMIT 1 FOR UPDATE SKIP LOCKED)
	RETURNING id, number, retry_of
), n AS (
	INSERT INTO trials (study_id, number, state, started, heartbeat, worker)
	SELECT $1, coalesce(max(number) + 1, 0), 'RUNNING', $2, $2, $3 FROM trials WHERE study_id = $1
	HAVING NOT EXISTS (SELECT 1 FROM w) AND EXISTS (SELECT 1 FROM studies WHERE id = $1)
	RETURNING id, number, retry_of
), t AS (
	SELECT id, number, retry_of FROM w UNION ALL SELECT id, number, retry_of FROM n
)
SELECT t.id, t.number, t.retry_of,
	coalesce((SELECT array_agg(name ORDER BY position) FROM trial_params WHERE trial_id = t.id), '{}'),
	coalesce((SELECT array_agg(value ORDER BY position) FROM trial_params WHERE trial_id = t.id), '{}'),
	coalesce((SELECT array_agg(coalesce(distribution, '') ORDER BY position) FROM trial_params WHERE trial_id = t.id), '{}')
FROM t`

// pgFlush is a transaction that returns once the WAL up to its commit is on disk, so
// that a transaction committed asynchronously before it on the same connection is
// durable. A transaction commits synchronously only if it has a transaction id and
// wrote WAL before its commit record (txid_current alone would commit asynchronously),
// so it writes a transactional logical-decoding message: a WAL record that changes no
// table, which only a logical decoding consumer would see (prefix "fhetune.flush").
// Any role may call pg_logical_emit_message, at any wal_level.
const pgFlush = "SELECT pg_logical_emit_message(true, 'fhetune.flush', '')"

// pgLockNumbers is the PostgreSQL text of [dialect.lockNumbers]: it takes the study's
// numbering lock and returns the study's id when it exists. $1 and $2 are the study
// id. The lock is a transaction-level advisory lock with two keys: 1718117749, the
// store's [applicationID] ("fhet" in ASCII) plus one, which keeps clear of other
// applications' locks in the same database (locks with one key never meet those with
// two) and of the migration lock, and the study id modulo 2^31. Studies that share a
// lock (in other schemas, or ids 2^31 apart) only wait for each other.
const pgLockNumbers = `SELECT id FROM ` + pgNumberingLock + ` WHERE id = $2`

// pgNumberingLock is the FROM list of [pgLockNumbers] and [pgLockNumbersAsync]: the
// study's row and its numbering lock, keyed by $1.
const pgNumberingLock = `studies, pg_advisory_xact_lock(1718117749, ($1::bigint % 2147483648)::integer) nl`

// pgLockNumbersAsync is [pgLockNumbers] that also makes the transaction commit
// asynchronously, so that the lock is released without waiting for the WAL flush; the
// caller then runs [pgFlush] after the commit. No row: no such study. $1 study id.
const pgLockNumbersAsync = `SELECT id FROM ` + pgNumberingLock + `,
	(SELECT set_config('synchronous_commit', 'off', true)) async
	WHERE id = $1`

// pgCreate is StartTrial's statement for the common case, a study without WAITING
// trials: it inserts a RUNNING trial with the next number and returns it as
// [pgClaimOrCreate] does (with no parameters). It inserts nothing when the study has a
// WAITING trial, which [pgClaimOrCreate] then claims, or does not exist. The caller
// holds the study's numbering lock, as for pgClaimOrCreate. Measured with 8 workers, it
// starts about a third more trials per second than pgClaimOrCreate alone, whose
// claim and parameter reads run for every trial.
//
// $1 study id, $2 start and heartbeat (Unix ns), $3 worker.
const pgCreate = `INSERT INTO trials (study_id, number, state, started, heartbeat, worker)
SELECT $1, coalesce(max(number) + 1, 0), 'RUNNING', $2, $2, $3 FROM trials WHERE study_id = $1
HAVING NOT EXISTS (SELECT 1 FROM trials WHERE study_id = $1 AND state = 'WAITING')
	AND EXISTS (SELECT 1 FROM studies WHERE id = $1)
RETURNING id, number, retry_of, '{}'::text[], '{}'::float8[], '{}'::text[]`

// pgStartTrial is [Store.StartTrial] on PostgreSQL: one pipelined batch (one round
// trip) that locks the study's numbering, creates the trial ([pgCreate]), commits
// asynchronously and then waits for the WAL flush through a synchronous transaction
// (see the top of this file); a second batch with [pgClaimOrCreate] when the first
// created nothing because the study has WAITING trials. It fills t, whose StudyID,
// Worker and Start are set.
func (s *Store) pgStartTrial(ctx context.Context, t *Trial) error {
	found, err := s.pgStartBatch(ctx, t, pgCreate)
	if err != nil || found {
		return err
	}
	_, err = s.pgStartBatch(ctx, t, pgClaimOrCreate)
	return err
}

// pgStartBatch runs StartTrial's batch with claim, [pgCreate] or [pgClaimOrCreate],
// and fills t when the statement gave a trial (found). A study that does not exist is
// ErrNoStudy.
func (s *Store) pgStartBatch(ctx context.Context, t *Trial, claim string) (found bool, err error) {
	now := t.Start.UnixNano()
	err = s.pgBatch(ctx, func(ctx context.Context, c *pgx.Conn) error {
		b := &pgx.Batch{}
		b.Queue("BEGIN")
		b.Queue(pgLockNumbersAsync, t.StudyID)
		b.Queue(claim, t.StudyID, now, t.Worker)
		b.Queue("COMMIT")
		b.Queue(pgFlush)
		br := c.SendBatch(ctx, b)
		defer br.Close()
		if _, err := br.Exec(); err != nil { // BEGIN
			return err
		}
		var id int64
		studyFound := true
		if err := br.QueryRow().Scan(&id); errors.Is(err, pgx.ErrNoRows) {
			studyFound = false
		} else if err != nil {
			return err
		}
		var (
			retryOf *int64
			names   []string
			values  []float64
			dists   []string
		)
		err := br.QueryRow().Scan(&t.ID, &t.Number, &retryOf, &names, &values, &dists)
		found = err == nil
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if _, err := br.Exec(); err != nil { // COMMIT
			return err
		}
		if _, err := br.Exec(); err != nil { // the flush
			return err
		}
		if !studyFound {
			return fmt.Errorf("%w: id %d in %s", ErrNoStudy, t.StudyID, s.path)
		}
		if !found {
			return nil
		}
		t.RetryOf = -1
		if retryOf != nil {
			t.RetryOf = int(*retryOf)
		}
		if len(names) != len(values) || len(names) != len(dists) {
			return fmt.Errorf("studies: %s: trial id %d: %d parameter names for %d values and %d distributions",
				s.path, t.ID, len(names), len(values), len(dists))
		}
		t.Params = make([]Param, len(names))
		for i := range names {
			t.Params[i] = Param{Name: names[i], Value: values[i]}
			if dists[i] != "" {
				t.Params[i].Distribution = []byte(dists[i])
			}
		}
		return nil
	})
	return found, err
}

// pgSetParams is SetParams' statement on PostgreSQL: it locks the trial's row if the
// trial is RUNNING (a concurrent finish is waited for and then seen) and upserts the
// parameters from arrays, new names after the existing ones. It changes one row per
// parameter, none when the trial is not RUNNING or does not exist.
//
// $1 trial id, $2 names, $3 values, $4 distributions (an empty string for none).
const pgSetParams = `WITH t AS (
	SELECT id FROM trials WHERE id = $1 AND state = 'RUNNING' FOR UPDATE
), ` + pgSetParamsBody

// pgSetParamsAsync is [pgSetParams] committed asynchronously (see the top of this
// file).
const pgSetParamsAsync = `WITH async AS (SELECT set_config('synchronous_commit', 'off', true)), t AS (
	SELECT id FROM trials, async WHERE id = $1 AND state = 'RUNNING' FOR UPDATE OF trials
), ` + pgSetParamsBody

// pgSetParamsBody is what [pgSetParams] and [pgSetParamsAsync] share after the trial's
// row is locked in t.
const pgSetParamsBody = `base AS (
	SELECT coalesce(max(position) + 1, 0) AS p FROM trial_params WHERE trial_id = $1
)
INSERT INTO trial_params (trial_id, name, position, value, distribution)
SELECT t.id, x.name, (base.p + x.ord - 1)::integer, x.value, nullif(x.dist, '')
FROM t, base, unnest($2::text[], $3::float8[], $4::text[]) WITH ORDINALITY AS x(name, value, dist, ord)
ON CONFLICT (trial_id, name) DO UPDATE SET value = excluded.value, distribution = excluded.distribution`

// pgSetParams is [Store.SetParams] on PostgreSQL in one statement, committed
// asynchronously for a trial this store started (which then keeps the parameters, see
// the top of this file). done is false when the statement changed nothing (the trial
// is not RUNNING, or does not exist); the caller then runs the general transaction,
// which says why.
func (s *Store) pgSetParams(ctx context.Context, trialID int64, params []Param) (done bool, err error) {
	names, values, dists := paramArrays(params)
	query := pgSetParams
	_, mine := s.started.Load(trialID)
	if mine {
		query = pgSetParamsAsync
		// Kept before the statement runs: a commit that the caller never hears of
		// (a broken connection) may still be lost later.
		s.keepUnflushed(trialID, params)
	}
	n, err := s.exec(ctx, query, trialID, names, values, dists)
	return n == int64(len(params)) && err == nil, err
}

// paramArrays returns the parameters' names, values and distributions (an empty
// string for none) as the arrays the PostgreSQL statements take.
func paramArrays(params []Param) (names []string, values []float64, dists []string) {
	names = make([]string, len(params))
	values = make([]float64, len(params))
	dists = make([]string, len(params))
	for i, p := range params {
		names[i], values[i], dists[i] = p.Name, p.Value, string(p.Distribution)
	}
	return names, values, dists
}

// unflushedParams is what SetParams committed asynchronously for one trial: the
// parameters in the order set (a name set again keeps its place with its last value),
// and whether a later call replaced a value, which a check of names alone cannot see
// lost.
type unflushedParams struct {
	params   []Param
	replaced bool
}

// keepUnflushed adds params to the trial's kept parameters.
func (s *Store) keepUnflushed(trialID int64, params []Param) {
	s.unflushedMu.Lock()
	defer s.unflushedMu.Unlock()
	if s.unflushed == nil {
		s.unflushed = map[int64]*unflushedParams{}
	}
	u := s.unflushed[trialID]
	if u == nil {
		u = &unflushedParams{}
		s.unflushed[trialID] = u
	}
	for _, p := range params {
		i := slices.IndexFunc(u.params, func(q Param) bool { return q.Name == p.Name })
		if i < 0 {
			u.params = append(u.params, p)
			continue
		}
		u.params[i], u.replaced = p, true
	}
}

// unflushedOf returns a copy of the trial's kept parameters (ok false if none).
func (s *Store) unflushedOf(trialID int64) (u unflushedParams, ok bool) {
	s.unflushedMu.Lock()
	defer s.unflushedMu.Unlock()
	p := s.unflushed[trialID]
	if p == nil {
		return unflushedParams{}, false
	}
	return unflushedParams{params: slices.Clone(p.params), replaced: p.replaced}, true
}

// forgetTrial drops what the store keeps about a trial it started (its study in
// started, its kept parameters) once the trial has finished.
func (s *Store) forgetTrial(trialID int64) {
	s.started.Delete(trialID)
	s.unflushedMu.Lock()
	defer s.unflushedMu.Unlock()
	delete(s.unflushed, trialID)
}

// rewriteUnflushed writes the trial's kept parameters again in tx (PostgreSQL), so that
// a trial that finishes in tx has them even if a server crash lost their asynchronous
// commit. The caller has locked the trial's row and checked its state.
func (s *Store) rewriteUnflushed(ctx context.Context, tx *txn, trialID int64) error {
	if s.d != postgresDialect {
		return nil
	}
	u, ok := s.unflushedOf(trialID)
	if !ok {
		return nil
	}
	return upsertParams(ctx, tx, trialID, u.params)
}

// pgHeartbeat is Heartbeat's statement on PostgreSQL: its transaction commits
// asynchronously (see the top of this file). $1 heartbeat (Unix ns), $2 trial id.
const pgHeartbeat = `WITH async AS (SELECT set_config('synchronous_commit', 'off', true))
UPDATE trials SET heartbeat = $1 FROM async WHERE id = $2 AND state = 'RUNNING'`

// pgCompleteDominated is Complete's statement on PostgreSQL for the common case: a
// RUNNING trial that a front this store saw dominates. It finishes the trial and
// stores its values; the front stays as it is. The dominance check is made before, in
// this process (see [Store.pgCompleteDominated]); the statement only makes sure that
// the trial is still RUNNING, and changes nothing otherwise, leaving the case to the
// general transaction. (It does not test the study id as well: with statistics taken
// while many trials ran, the planner then chose the index by study and state over the
// primary key, and scanned every RUNNING trial.)
//
// It also changes nothing when a name of $5 is missing from the trial's parameters:
// an asynchronous SetParams commit that a server crash lost (see the top of this file),
// which the general transaction writes again.
//
// $1 finish time (Unix ns), $2 attributes (NULL keeps them), $3 trial id, $4 values,
// $5 the names of the parameters the store kept for the trial.
const pgCompleteDominated = `WITH u AS (
	UPDATE trials SET state = 'COMPLETE', finished = $1, heartbeat = $1, attrs = coalesce($2, attrs)
	WHERE id = $3 AND state = 'RUNNING' AND NOT EXISTS (
		SELECT 1 FROM unnest($5::text[]) AS k(name)
		WHERE NOT EXISTS (SELECT 1 FROM trial_params p WHERE p.trial_id = $3 AND p.name = k.name))
	RETURNING id
)
INSERT INTO trial_values (trial_id, objective, value)
SELECT u.id, (v.ord - 1)::integer, v.value FROM u, unnest($4::float8[]) WITH ORDINALITY AS v(value, ord)
ON CONFLICT (trial_id, objective) DO UPDATE SET value = excluded.value`

// pgCompleteDominated completes the trial in one statement ([pgCompleteDominated]) when
// this store started it and the latest front it cached for the study dominates values
// under the study's directions; done reports whether it did. A member of any committed
// front that dominates the trial keeps it off the front for good (see
// [Store.updateFront]), so a cached front that is no longer current decides as well as
// the stored one; a check in this process costs the server nothing, where the same
// check in SQL was the most expensive statement of a trial. Any other case (a trial
// started elsewhere, no cached front, a trial the front does not dominate, a wrong
// number of values) is left to the general transaction.
func (s *Store) pgCompleteDominated(ctx context.Context, trialID int64, values []float64, attrs []byte) (done bool, err error) {
	sid, ok := s.started.Load(trialID)
	if !ok {
		return false, nil
	}
	studyID := sid.(int64)
	d, ok1 := s.dirs.Load(studyID)
	f, ok2 := s.fronts.Load(studyID)
	if !ok1 || !ok2 {
		return false, nil
	}
	dirs := d.([]Direction)
	if len(values) != len(dirs) || !dominated(f.(*frontSnap), values, dirs) {
		return false, nil
	}
	names := []string{}
	if u, ok := s.unflushedOf(trialID); ok {
		if u.replaced {
			return false, nil
		}
		names, _, _ = paramArrays(u.params)
	}
	n, err := s.exec(ctx, pgCompleteDominated, s.now().UnixNano(), nullJSON(attrs), trialID, values, names)
	return n == int64(len(values)) && err == nil, err
}

// pgBatch runs fn on one connection of the store's pool, as the native pgx connection
// (for pipelined batches), retried as [Store.write] is. fn must leave no transaction
// open when it succeeds; when it fails, an open transaction is rolled back here.
func (s *Store) pgBatch(ctx context.Context, fn func(ctx context.Context, c *pgx.Conn) error) error {
	if s.closed.Load() {
		return fmt.Errorf("%w: %s", ErrClosed, s.path)
	}
	return s.retry(ctx, func() error {
		conn, err := s.w.Conn(ctx)
		if err != nil {
			return s.wrapSQL(err)
		}
		defer conn.Close()
		err = conn.Raw(func(dc any) error {
			sc, ok := dc.(*stdlib.Conn)
			if !ok {
				return fmt.Errorf("studies: %s: driver connection is a %T, not pgx", s.path, dc)
			}
			c := sc.Conn()
			err := fn(ctx, c)
			if err != nil && !c.IsClosed() && c.PgConn().TxStatus() != 'I' {
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				if _, rerr := c.Exec(rctx, "ROLLBACK"); rerr != nil {
					return errors.Join(err, driver.ErrBadConn) // let the pool drop the connection
				}
			}
			if err != nil && c.IsClosed() {
				return errors.Join(err, driver.ErrBadConn)
			}
			return err
		})
		return s.wrapSQL(err)
	})
}
