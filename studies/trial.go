package studies

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// checkParams refuses unnamed, duplicate or non-finite parameters and bad distribution
// JSON.
func checkParams(params []Param) error {
	seen := make(map[string]bool, len(params))
	for _, p := range params {
		if err := checkName("parameter name", p.Name); err != nil {
			return err
		}
		if seen[p.Name] {
			return invalidf("parameter %q appears twice", p.Name)
		}
		seen[p.Name] = true
		if math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
			return invalidf("parameter %q has value %v, want a finite number", p.Name, p.Value)
		}
		if err := checkJSON(fmt.Sprintf("distribution of parameter %q", p.Name), p.Distribution); err != nil {
			return err
		}
	}
	return nil
}

// checkValues refuses non-finite objective values: SQLite would store NaN as NULL.
func checkValues(values []float64) error {
	for i, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return invalidf("objective value %d is %v, want a finite number", i, v)
		}
	}
	return nil
}

// lockNumbers returns ErrNoStudy unless the study exists and, on PostgreSQL, takes the
// study's numbering lock until the transaction ends. Every transaction that numbers a
// new trial takes it first, so that numbers stay dense: its next statement sees every
// trial numbered before. It is not the study row's lock, which a front update holds
// (see [Store.updateFront]), so that numbering never waits for a front update and its
// WAL flush. (On SQLite the transaction's write lock does both.)
func (s *Store) lockNumbers(ctx context.Context, tx *txn, studyID int64) error {
	var id int64
	err := tx.QueryRowContext(ctx, tx.d.lockNumbers, studyID, studyID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: id %d in %s", ErrNoStudy, studyID, s.path)
	}
	return err
}

// nextNumber is the study's next dense trial number. The caller holds the study's
// numbering lock (see lockNumbers).
func nextNumber(ctx context.Context, q querier, studyID int64) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, "SELECT coalesce(max(number) + 1, 0) FROM trials WHERE study_id = ?", studyID).Scan(&n)
	return n, err
}

// studyNextNumber takes the study's numbering lock (see lockNumbers) and returns its
// next trial number.
func (s *Store) studyNextNumber(ctx context.Context, tx *txn, studyID int64) (int, error) {
	if err := s.lockNumbers(ctx, tx, studyID); err != nil {
		return 0, err
	}
	return nextNumber(ctx, tx, studyID)
}

// newTrial is a row to insert.
type newTrial struct {
	studyID  int64
	number   int
	state    State
	params   []Param
	started  time.Time // zero: NULL (also used for heartbeat)
	finished time.Time
	worker   string
	retryOf  int // -1: none
	attrs    json.RawMessage
	errText  string
	values   []float64
}

func nanosOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

// insertTrial writes a trial row with its parameters and values; it does not touch
// the Pareto front.
func insertTrial(ctx context.Context, tx *txn, t newTrial) (int64, error) {
	var retryOf any
	if t.retryOf >= 0 {
		retryOf = t.retryOf
	}
	var id int64
	err := tx.QueryRowContext(ctx, `INSERT INTO trials
		(study_id, number, state, attrs, error, started, finished, heartbeat, worker, retry_of)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		t.studyID, t.number, t.state.String(), nullJSON(t.attrs), t.errText,
		nanosOrNull(t.started), nanosOrNull(t.finished), nanosOrNull(t.started), t.worker, retryOf).Scan(&id)
	if err != nil {
		return 0, err
	}
	if err := upsertParams(ctx, tx, id, t.params); err != nil {
		return 0, err
	}
	return id, putValues(ctx, tx, id, t.values)
}

// upsertParams sets parameters of a trial in one statement; new names go after the
// existing ones (positions only order parameters, gaps are harmless).
func upsertParams(ctx context.Context, tx *txn, trialID int64, params []Param) error {
	if len(params) == 0 {
		return nil
	}
	var q strings.Builder
	args := make([]any, 0, 1+4*len(params))
	q.WriteString(`WITH base (p) AS (SELECT coalesce(max(position) + 1, 0) FROM trial_params WHERE trial_id = ?)
		INSERT INTO trial_params (trial_id, name, position, value, distribution) VALUES `)
	args = append(args, trialID)
	for i, p := range params {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, (SELECT p FROM base) + ?, ?, ?)")
		args = append(args, trialID, p.Name, i, p.Value, nullJSON(p.Distribution))
	}
	q.WriteString(" ON CONFLICT (trial_id, name) DO UPDATE SET value = excluded.value, distribution = excluded.distribution")
	_, err := tx.ExecContext(ctx, q.String(), args...)
	return err
}

// putValues stores one value per objective (positions 0..len-1) in one statement,
// replacing values staged earlier.
func putValues(ctx context.Context, tx *txn, trialID int64, values []float64) error {
	if len(values) == 0 {
		return nil
	}
	var q strings.Builder
	args := make([]any, 0, 3*len(values))
	q.WriteString("INSERT INTO trial_values (trial_id, objective, value) VALUES ")
	for i, v := range values {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?)")
		args = append(args, trialID, i, v)
	}
	q.WriteString(" ON CONFLICT (trial_id, objective) DO UPDATE SET value = excluded.value")
	_, err := tx.ExecContext(ctx, q.String(), args...)
	return err
}

// trialHead is the part of a trial row that lifecycle checks need.
type trialHead struct {
	id, studyID int64
	number      int
	state       State
}

// head reads a trial's head without locking it (read transactions).
func (s *Store) head(ctx context.Context, q querier, trialID int64) (trialHead, error) {
	return s.headFor(ctx, q, trialID, "")
}

// lockHead reads a trial's head and, on PostgreSQL, locks its row until the
// transaction ends, so that the state it returns is the one the transaction changes:
// every write to a trial takes this lock (or updates the row with its state in the
// WHERE clause).
func (s *Store) lockHead(ctx context.Context, tx *txn, trialID int64) (trialHead, error) {
	return s.headFor(ctx, tx, trialID, tx.d.lockRow)
}

func (s *Store) headFor(ctx context.Context, q querier, trialID int64, lock string) (trialHead, error) {
	h := trialHead{id: trialID}
	var state string
	err := q.QueryRowContext(ctx, "SELECT study_id, number, state FROM trials WHERE id = ?"+lock, trialID).
		Scan(&h.studyID, &h.number, &state)
	if errors.Is(err, sql.ErrNoRows) {
		return h, fmt.Errorf("%w: id %d in %s", ErrNoTrial, trialID, s.path)
	}
	if err != nil {
		return h, err
	}
	h.state, err = ParseState(state)
	return h, err
}

// needState returns an error unless the trial is in one of the allowed states.
func (s *Store) needState(h trialHead, allowed ...State) error {
	for _, a := range allowed {
		if h.state == a {
			return nil
		}
	}
	if h.state.Finished() {
		return fmt.Errorf("%w: trial %d of study %d is %s", ErrTrialFinished, h.number, h.studyID, h.state)
	}
	return fmt.Errorf("%w: trial %d of study %d is %s", ErrTrialNotRunning, h.number, h.studyID, h.state)
}

// Enqueue adds a WAITING trial with fixed parameters and the study's next number;
// [Store.StartTrial] hands out WAITING trials, oldest first, before creating new ones.
func (s *Store) Enqueue(ctx context.Context, studyID int64, params []Param) (Trial, error) {
	if err := checkParams(params); err != nil {
		return Trial{}, err
	}
	var t Trial
	err := s.write(ctx, func(tx *txn) error {
		n, err := s.studyNextNumber(ctx, tx, studyID)
		if err != nil {
			return err
		}
		id, err := insertTrial(ctx, tx, newTrial{studyID: studyID, number: n, state: Waiting, params: params, retryOf: -1})
		if err != nil {
			return err
		}
		t = Trial{ID: id, StudyID: studyID, Number: n, State: Waiting, Params: copyParams(params), RetryOf: -1}
		return nil
	})
	if err != nil {
		return Trial{}, fmt.Errorf("enqueue a trial in study %d: %w", studyID, err)
	}
	return t, nil
}

func copyParams(ps []Param) []Param {
	out := make([]Param, len(ps))
	for i, p := range ps {
		out[i] = Param{Name: p.Name, Value: p.Value}
		if p.Distribution != nil {
			out[i].Distribution = append(json.RawMessage(nil), p.Distribution...)
		}
	}
	return out
}

// StartTrial atomically takes the study's oldest WAITING trial, or creates a trial with
// the next number, and returns it RUNNING with its start and heartbeat set to now and
// worker recorded. Concurrent callers, in this or other processes, never get the same
// trial.
func (s *Store) StartTrial(ctx context.Context, studyID int64, worker string) (Trial, error) {
	var t Trial
	if s.d == postgresDialect {
		now := s.now()
		t = Trial{StudyID: studyID, State: Running, Start: time.Unix(0, now.UnixNano()).UTC(), Worker: worker}
		t.Heartbeat = t.Start
		if err := s.pgStartTrial(ctx, &t); err != nil {
			return Trial{}, fmt.Errorf("start a trial in study %d: %w", studyID, err)
		}
		s.started.Store(t.ID, studyID)
		return t, nil
	}
	err := s.write(ctx, func(tx *txn) error {
		now := s.now()
		t = Trial{StudyID: studyID, State: Running, Params: []Param{}, Start: time.Unix(0, now.UnixNano()).UTC(),
			Worker: worker, RetryOf: -1}
		t.Heartbeat = t.Start
		found, err := s.takeWaiting(ctx, tx, &t, now)
		if err != nil || found {
			return err
		}
		if err := s.lockNumbers(ctx, tx, studyID); err != nil {
			return err
		}
		// The number in the same statement: once the lock is held, a new statement
		// sees every trial that transactions holding it before committed.
		return tx.QueryRowContext(ctx, `INSERT INTO trials (study_id, number, state, started, heartbeat, worker)
			VALUES (?, (SELECT coalesce(max(number) + 1, 0) FROM trials WHERE study_id = ?), 'RUNNING', ?, ?, ?)
			RETURNING id, number`, studyID, studyID, now.UnixNano(), now.UnixNano(), worker).Scan(&t.ID, &t.Number)
	})
	if err != nil {
		return Trial{}, fmt.Errorf("start a trial in study %d: %w", studyID, err)
	}
	return t, nil
}

// takeWaiting marks the study's oldest WAITING trial that no other transaction holds
// RUNNING for t.Worker and fills t with it and its parameters; found is false when
// there is none.
func (s *Store) takeWaiting(ctx context.Context, tx *txn, t *Trial, now time.Time) (found bool, err error) {
	var retryOf sql.NullInt64
	err = tx.QueryRowContext(ctx, `UPDATE trials SET state = 'RUNNING', started = ?, heartbeat = ?, worker = ?
		WHERE id = (SELECT id FROM trials WHERE study_id = ? AND state = 'WAITING' ORDER BY number LIMIT 1`+tx.d.skipLocked+`)
		RETURNING id, number, retry_of`, now.UnixNano(), now.UnixNano(), t.Worker, t.StudyID).Scan(&t.ID, &t.Number, &retryOf)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if retryOf.Valid {
		t.RetryOf = int(retryOf.Int64)
	}
	return true, eachRow(ctx, tx, "SELECT name, value, distribution FROM trial_params WHERE trial_id = ? ORDER BY position",
		func(r *sql.Rows) error {
			var (
				p    Param
				dist sql.NullString
			)
			if err := r.Scan(&p.Name, &p.Value, &dist); err != nil {
				return err
			}
			if dist.Valid {
				p.Distribution = json.RawMessage(dist.String)
			}
			t.Params = append(t.Params, p)
			return nil
		}, t.ID)
}

// SetParams sets parameters of a RUNNING trial (replacing those of the same name).
func (s *Store) SetParams(ctx context.Context, trialID int64, params []Param) error {
	if err := checkParams(params); err != nil {
		return err
	}
	if s.d == postgresDialect && len(params) > 0 {
		if done, err := s.pgSetParams(ctx, trialID, params); done || err != nil {
			if err != nil {
				return fmt.Errorf("set parameters of trial id %d: %w", trialID, err)
			}
			return nil
		}
	}
	err := s.write(ctx, func(tx *txn) error {
		h, err := s.lockHead(ctx, tx, trialID)
		if err != nil {
			return err
		}
		if err := s.needState(h, Running); err != nil {
			return err
		}
		return upsertParams(ctx, tx, trialID, params)
	})
	if err != nil {
		return fmt.Errorf("set parameters of trial id %d: %w", trialID, err)
	}
	return nil
}

// Heartbeat records that the worker running the trial is alive; [Store.ReapStale]
// fails RUNNING trials whose heartbeat is too old.
func (s *Store) Heartbeat(ctx context.Context, trialID int64) error {
	query := "UPDATE trials SET heartbeat = ? WHERE id = ? AND state = 'RUNNING'"
	if s.d == postgresDialect {
		query = pgHeartbeat
	}
	n, err := s.exec(ctx, query, s.now().UnixNano(), trialID)
	if err == nil && n != 1 {
		err = s.read(ctx, func(tx *txn) error {
			h, err := s.head(ctx, tx, trialID)
			if err != nil {
				return err
			}
			return s.needState(h, Running)
		})
	}
	if err != nil {
		return fmt.Errorf("heartbeat of trial id %d: %w", trialID, err)
	}
	return nil
}

// Complete finishes a RUNNING trial with one value per study objective and optional
// JSON attributes, and updates the study's Pareto front in the same transaction.
func (s *Store) Complete(ctx context.Context, trialID int64, values []float64, attrs json.RawMessage) error {
	if err := checkValues(values); err != nil {
		return fmt.Errorf("complete trial id %d: %w", trialID, err)
	}
	if err := checkJSON("trial attributes", attrs); err != nil {
		return fmt.Errorf("complete trial id %d: %w", trialID, err)
	}
	if s.d == postgresDialect {
		done, err := s.pgCompleteDominated(ctx, trialID, values, attrs)
		if err != nil {
			return fmt.Errorf("complete trial id %d: %w", trialID, err)
		}
		if done {
			s.forgetTrial(trialID)
			return nil
		}
	}
	var snap *frontSnap
	err := s.write(ctx, func(tx *txn) error {
		var err error
		snap, err = s.complete(ctx, tx, trialID, values, attrs)
		return err
	})
	if err != nil {
		return fmt.Errorf("complete trial id %d: %w", trialID, err)
	}
	s.forgetTrial(trialID)
	s.cacheFront(snap)
	return nil
}

func (s *Store) complete(ctx context.Context, tx *txn, trialID int64, values []float64, attrs json.RawMessage) (*frontSnap, error) {
	// One statement checks the state, finishes the trial (locking its row on
	// PostgreSQL) and reads what the front update needs; a rejected trial is looked up
	// again for the error. The count of values is checked after the update: a
	// mismatch returns an error, which rolls the transaction back.
	h := trialHead{id: trialID, state: Running}
	var version int64
	now := s.now().UnixNano()
	err := tx.QueryRowContext(ctx, `UPDATE trials SET state = 'COMPLETE', finished = ?, heartbeat = ?, attrs = coalesce(?, attrs)
		WHERE id = ? AND state = 'RUNNING'
		RETURNING study_id, number, (SELECT front_version FROM studies WHERE id = trials.study_id)`,
		now, now, nullJSON(attrs), trialID).Scan(&h.studyID, &h.number, &version)
	if errors.Is(err, sql.ErrNoRows) {
		if h, err = s.lockHead(ctx, tx, trialID); err == nil {
			err = s.needState(h, Running)
		}
	}
	if err != nil {
		return nil, err
	}
	if err := s.rewriteUnflushed(ctx, tx, trialID); err != nil {
		return nil, err
	}
	dirs, err := s.directions(ctx, tx, h.studyID)
	if err != nil {
		return nil, err
	}
	if len(values) != len(dirs) {
		return nil, invalidf("trial %d of study %d has %d values for %d objectives", h.number, h.studyID, len(values), len(dirs))
	}
	if err := putValues(ctx, tx, trialID, values); err != nil {
		return nil, err
	}
	return s.updateFront(ctx, tx, h.studyID, version, trialID, values, dirs)
}

// Fail finishes a WAITING or RUNNING trial as FAIL with the error text.
func (s *Store) Fail(ctx context.Context, trialID int64, errText string) error {
	return s.finish(ctx, "fail", trialID, Fail, nil, errText)
}

// Prune finishes a WAITING or RUNNING trial as PRUNED (stopped early because it could
// not win), with optional JSON attributes. Pruned trials are never on the front.
func (s *Store) Prune(ctx context.Context, trialID int64, attrs json.RawMessage) error {
	if err := checkJSON("trial attributes", attrs); err != nil {
		return fmt.Errorf("prune trial id %d: %w", trialID, err)
	}
	return s.finish(ctx, "prune", trialID, Pruned, attrs, "")
}

func (s *Store) finish(ctx context.Context, verb string, trialID int64, state State, attrs json.RawMessage, errText string) error {
	err := s.write(ctx, func(tx *txn) error {
		h, err := s.lockHead(ctx, tx, trialID)
		if err != nil {
			return err
		}
		if err := s.needState(h, Waiting, Running); err != nil {
			return err
		}
		if err := s.rewriteUnflushed(ctx, tx, trialID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "UPDATE trials SET state = ?, finished = ?, attrs = coalesce(?, attrs), error = ? WHERE id = ?",
			state.String(), s.now().UnixNano(), nullJSON(attrs), errText, trialID)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s trial id %d: %w", verb, trialID, err)
	}
	s.forgetTrial(trialID)
	return nil
}

// Report records value as what a RUNNING trial reached at step (an epoch of its
// training, say), replacing a value reported earlier at that step; pruners compare
// these intermediate values across trials ([Trial.Intermediate]). step must be 0 or
// more and value finite ([ErrInvalid]); a finished trial refuses it with
// [ErrTrialFinished], a WAITING one with [ErrTrialNotRunning].
func (s *Store) Report(ctx context.Context, trialID int64, step int, value float64) error {
	switch {
	case step < 0:
		return fmt.Errorf("report for trial id %d: %w", trialID, invalidf("step %d below 0", step))
	case math.IsNaN(value) || math.IsInf(value, 0):
		return fmt.Errorf("report for trial id %d: %w", trialID, invalidf("value %v at step %d, want a finite number", value, step))
	}
	err := s.write(ctx, func(tx *txn) error {
		h, err := s.lockHead(ctx, tx, trialID)
		if err != nil {
			return err
		}
		if err := s.needState(h, Running); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO trial_intermediate (trial_id, step, value) VALUES (?, ?, ?)
			ON CONFLICT (trial_id, step) DO UPDATE SET value = excluded.value`, trialID, step, value)
		return err
	})
	if err != nil {
		return fmt.Errorf("report step %d of trial id %d: %w", step, trialID, err)
	}
	return nil
}

// ReapStale fails the study's RUNNING trials whose last heartbeat is timeout or more
// ago (all RUNNING trials when timeout is 0) and enqueues their parameters again as new
// WAITING trials (Trial.RetryOf names the failed one; a trial that had no parameters
// yet is not enqueued again). It returns how many trials it failed. Call it when
// resuming a study; with timeout 0 only when no other worker can be running.
func (s *Store) ReapStale(ctx context.Context, studyID int64, timeout time.Duration) (int, error) {
	if timeout < 0 {
		return 0, invalidf("negative heartbeat timeout %v", timeout)
	}
	var reaped int
	err := s.write(ctx, func(tx *txn) error {
		reaped = 0
		if err := s.studyExists(ctx, tx, studyID); err != nil {
			return err
		}
		now := s.now()
		type stale struct {
			id        int64
			number    int
			worker    string
			heartbeat int64
		}
		var list []stale
		if err := eachRow(ctx, tx, `SELECT id, number, worker, coalesce(heartbeat, started, 0) FROM trials
			WHERE study_id = ? AND state = 'RUNNING' AND coalesce(heartbeat, started, 0) <= ? ORDER BY number`+tx.d.lockRow,
			func(r *sql.Rows) error {
				var st stale
				if err := r.Scan(&st.id, &st.number, &st.worker, &st.heartbeat); err != nil {
					return err
				}
				list = append(list, st)
				return nil
			}, studyID, now.Add(-timeout).UnixNano()); err != nil {
			return err
		}
		if len(list) > 0 {
			// Trial rows first, then the numbering lock: no transaction that holds
			// the numbering lock waits for a trial row.
			if err := s.lockNumbers(ctx, tx, studyID); err != nil {
				return err
			}
		}
		for _, st := range list {
			var nParams int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM trial_params WHERE trial_id = ?", st.id).Scan(&nParams); err != nil {
				return err
			}
			msg := fmt.Sprintf("studies: no heartbeat from worker %q since %s", st.worker,
				time.Unix(0, st.heartbeat).UTC().Format(time.RFC3339))
			if nParams > 0 {
				n, err := nextNumber(ctx, tx, studyID)
				if err != nil {
					return err
				}
				id, err := insertTrial(ctx, tx, newTrial{studyID: studyID, number: n, state: Waiting, retryOf: st.number})
				if err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO trial_params (trial_id, name, position, value, distribution)
					SELECT ?, name, position, value, distribution FROM trial_params WHERE trial_id = ?`, id, st.id); err != nil {
					return err
				}
				msg += fmt.Sprintf("; parameters enqueued again as trial %d", n)
			}
			if _, err := tx.ExecContext(ctx, "UPDATE trials SET state = 'FAIL', finished = ?, error = ? WHERE id = ?",
				now.UnixNano(), msg, st.id); err != nil {
				return err
			}
			reaped++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("reap stale trials of study %d: %w", studyID, err)
	}
	return reaped, nil
}

// Trial returns one trial by id, or [ErrNoTrial].
func (s *Store) Trial(ctx context.Context, trialID int64) (Trial, error) {
	var t Trial
	err := s.read(ctx, func(tx *txn) error {
		ts, err := loadTrials(ctx, tx, "SELECT CAST(? AS BIGINT)", trialID)
		if err != nil {
			return err
		}
		if len(ts) == 0 {
			return fmt.Errorf("%w: id %d in %s", ErrNoTrial, trialID, s.path)
		}
		t = ts[0]
		return nil
	})
	return t, err
}

// TrialByNumber returns the study's trial with that number, or [ErrNoTrial].
func (s *Store) TrialByNumber(ctx context.Context, studyID int64, number int) (Trial, error) {
	var t Trial
	err := s.read(ctx, func(tx *txn) error {
		ts, err := loadTrials(ctx, tx, "SELECT id FROM trials WHERE study_id = ? AND number = ?", studyID, number)
		if err != nil {
			return err
		}
		if len(ts) == 0 {
			if err := s.studyExists(ctx, tx, studyID); err != nil {
				return err
			}
			return fmt.Errorf("%w: number %d of study %d in %s", ErrNoTrial, number, studyID, s.path)
		}
		t = ts[0]
		return nil
	})
	return t, err
}

// Trials returns the study's trials that match the filter, by number.
func (s *Store) Trials(ctx context.Context, studyID int64, f TrialFilter) ([]Trial, error) {
	var (
		sub  strings.Builder
		args = []any{studyID, f.FromNumber}
	)
	sub.WriteString("SELECT id FROM trials WHERE study_id = ? AND number >= ?")
	if len(f.States) > 0 {
		sub.WriteString(" AND state IN (")
		for i, st := range f.States {
			if st < Waiting || st > Pruned {
				return nil, invalidf("unknown trial state %d in filter", int(st))
			}
			if i > 0 {
				sub.WriteString(", ")
			}
			sub.WriteString("?")
			args = append(args, st.String())
		}
		sub.WriteString(")")
	}
	if f.Limit > 0 {
		sub.WriteString(" ORDER BY number LIMIT ?")
		args = append(args, f.Limit)
	}
	var out []Trial
	err := s.read(ctx, func(tx *txn) error {
		if err := s.studyExists(ctx, tx, studyID); err != nil {
			return err
		}
		var err error
		out, err = loadTrials(ctx, tx, sub.String(), args...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list trials of study %d: %w", studyID, err)
	}
	return out, nil
}

// ParetoFront returns the study's stored Pareto front (its non-dominated COMPLETE
// trials), by number. It reads the front table, not all trials.
func (s *Store) ParetoFront(ctx context.Context, studyID int64) ([]Trial, error) {
	var out []Trial
	err := s.read(ctx, func(tx *txn) error {
		if err := s.studyExists(ctx, tx, studyID); err != nil {
			return err
		}
		var err error
		out, err = loadTrials(ctx, tx, "SELECT trial_id FROM pareto_front WHERE study_id = ?", studyID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read the Pareto front of study %d: %w", studyID, err)
	}
	return out, nil
}

// AnnotateTrial sets top-level keys of a COMPLETE trial's JSON attributes (adding the
// keys, or replacing their values) and leaves its values, parameters and the front
// alone. It is the one write a complete trial takes: results measured after the trial
// ran, such as an encrypted verification. Trials in other states are refused with
// ErrTrialNotComplete, attribute values that are not JSON with ErrInvalid.
func (s *Store) AnnotateTrial(ctx context.Context, trialID int64, attrs map[string]json.RawMessage) error {
	for k, v := range attrs {
		if k == "" {
			return fmt.Errorf("annotate trial id %d: %w", trialID, invalidf("empty attribute name"))
		}
		if err := checkJSON("attribute "+k, v); err != nil || len(v) == 0 {
			return fmt.Errorf("annotate trial id %d: attribute %q: %w", trialID, k, errors.Join(err, invalidf("not JSON")))
		}
	}
	err := s.write(ctx, func(tx *txn) error {
		h, err := s.lockHead(ctx, tx, trialID)
		if err != nil {
			return err
		}
		if h.state != Complete {
			return fmt.Errorf("%w: trial %d of study %d is %s", ErrTrialNotComplete, h.number, h.studyID, h.state)
		}
		var raw sql.NullString
		if err := tx.QueryRowContext(ctx, "SELECT attrs FROM trials WHERE id = ?", trialID).Scan(&raw); err != nil {
			return err
		}
		m := map[string]json.RawMessage{}
		if raw.Valid && raw.String != "" && raw.String != "null" {
			if err := json.Unmarshal([]byte(raw.String), &m); err != nil {
				return invalidf("trial %d of study %d: attributes are not a JSON object", h.number, h.studyID)
			}
		}
		for k, v := range attrs {
			m[k] = v
		}
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "UPDATE trials SET attrs = ? WHERE id = ?", string(b), trialID)
		return err
	})
	if err != nil {
		return fmt.Errorf("annotate trial id %d: %w", trialID, err)
	}
	return nil
}
