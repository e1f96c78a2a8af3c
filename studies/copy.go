package studies

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// copyBatch is the number of rows one INSERT of a copy writes: well under the
// parameter limits of both backends (SQLite 32766, PostgreSQL 65535).
const copyBatch = 500

// dump is a whole study as rows, read in one snapshot of the source store. Trial
// ids are the source's; the copy maps them to the ids the destination gives.
type dump struct {
	name         string
	created      int64
	spec         sql.NullString
	frontVersion int64
	objectives   [][]any // position, name, direction
	attrs        [][]any // system, key, value
	artifacts    [][]any // name, created, data
	trials       [][]any // id, number, state, attrs, error, started, finished, heartbeat, worker, retry_of
	params       [][]any // trial id, name, position, value, distribution
	values       [][]any // trial id, objective, value
	intermediate [][]any // trial id, step, value
	trialAttrs   [][]any // trial id, system, key, value
	front        [][]any // trial id
}

// CopyStudy copies the study called name from src to dst, as Optuna's copy_study
// does: its spec, objectives, attributes (user and system), artifacts, every trial
// with its number, state, parameters, values, intermediate values, attributes,
// times and worker, and its Pareto front. The source is read in one snapshot and the
// copy written in one transaction, so dst holds all of the study or none of it. The
// stores may be of either backend (SQLite to PostgreSQL and back, or alike). A study
// of that name in dst gives [ErrStudyExists]; none in src gives [ErrNoStudy].
func CopyStudy(ctx context.Context, src, dst *Store, name string) (Study, error) {
	d, err := src.dump(ctx, name)
	if err != nil {
		return Study{}, fmt.Errorf("copy study %q from %s: %w", name, src.path, err)
	}
	var id int64
	err = dst.write(ctx, func(tx *txn) error {
		var err error
		id, err = d.restore(ctx, tx, dst.path)
		return err
	})
	if err != nil {
		return Study{}, fmt.Errorf("copy study %q to %s: %w", name, dst.path, err)
	}
	return dst.StudyByID(ctx, id)
}

// dump reads the study called name in one read transaction.
func (s *Store) dump(ctx context.Context, name string) (*dump, error) {
	var d *dump
	err := s.read(ctx, func(tx *txn) error {
		d = &dump{name: name}
		var id int64
		err := tx.QueryRowContext(ctx, "SELECT id, created, spec, front_version FROM studies WHERE name = ?", name).
			Scan(&id, &d.created, &d.spec, &d.frontVersion)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: %q in %s", ErrNoStudy, name, s.path)
		}
		if err != nil {
			return err
		}
		return d.readRows(ctx, tx, id)
	})
	return d, err
}

// readRows fills the dump's row lists from the study's tables.
func (d *dump) readRows(ctx context.Context, tx *txn, id int64) error {
	const ofStudy = "trial_id IN (SELECT id FROM trials WHERE study_id = ?)"
	for _, r := range []struct {
		dst   *[][]any
		query string
		row   func() []any // fresh scan targets
	}{
		{&d.objectives, "SELECT position, name, direction FROM study_objectives WHERE study_id = ? ORDER BY position",
			func() []any { return []any{new(int64), new(string), new(string)} }},
		{&d.attrs, "SELECT system, key, value FROM study_attrs WHERE study_id = ? ORDER BY system, key",
			func() []any { return []any{new(int64), new(string), new(string)} }},
		{&d.artifacts, "SELECT name, created, data FROM artifacts WHERE study_id = ? ORDER BY name",
			func() []any { return []any{new(string), new(int64), new([]byte)} }},
		{&d.trials, `SELECT id, number, state, attrs, error, started, finished, heartbeat, worker, retry_of
			FROM trials WHERE study_id = ? ORDER BY number`,
			func() []any {
				return []any{new(int64), new(int64), new(string), new(sql.NullString), new(string), new(sql.NullInt64),
					new(sql.NullInt64), new(sql.NullInt64), new(string), new(sql.NullInt64)}
			}},
		{&d.params, "SELECT trial_id, name, position, value, distribution FROM trial_params WHERE " + ofStudy,
			func() []any { return []any{new(int64), new(string), new(int64), new(float64), new(sql.NullString)} }},
		{&d.values, "SELECT trial_id, objective, value FROM trial_values WHERE " + ofStudy,
			func() []any { return []any{new(int64), new(int64), new(float64)} }},
		{&d.intermediate, "SELECT trial_id, step, value FROM trial_intermediate WHERE " + ofStudy,
			func() []any { return []any{new(int64), new(int64), new(float64)} }},
		{&d.trialAttrs, "SELECT trial_id, system, key, value FROM trial_attrs WHERE " + ofStudy,
			func() []any { return []any{new(int64), new(int64), new(string), new(string)} }},
		{&d.front, "SELECT trial_id FROM pareto_front WHERE study_id = ?",
			func() []any { return []any{new(int64)} }},
	} {
		err := eachRow(ctx, tx, r.query, func(rows *sql.Rows) error {
			row := r.row()
			if err := rows.Scan(row...); err != nil {
				return err
			}
			*r.dst = append(*r.dst, deref(row))
			return nil
		}, id)
		if err != nil {
			return err
		}
	}
	return nil
}

// deref replaces scan targets by the values they hold (SQL NULL: nil).
func deref(row []any) []any {
	for i, p := range row {
		switch v := p.(type) {
		case *int64:
			row[i] = *v
		case *string:
			row[i] = *v
		case *float64:
			row[i] = *v
		case *[]byte:
			row[i] = *v
			if *v == nil {
				row[i] = []byte{} // an empty artifact, which SQLite reads back as nil
			}
		case *sql.NullString:
			row[i] = nil
			if v.Valid {
				row[i] = v.String
			}
		case *sql.NullInt64:
			row[i] = nil
			if v.Valid {
				row[i] = v.Int64
			}
		}
	}
	return row
}

// restore writes the dumped study into the transaction's store and returns its new id.
func (d *dump) restore(ctx context.Context, tx *txn, path string) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `INSERT INTO studies (name, created, spec, front_version) VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO NOTHING RETURNING id`, d.name, d.created, d.spec, d.frontVersion).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%w: %q in %s", ErrStudyExists, d.name, path)
	}
	if err != nil {
		return 0, err
	}
	for _, t := range []struct {
		table string
		cols  string
		rows  [][]any
	}{
		{"study_objectives", "position, name, direction", d.objectives},
		{"study_attrs", "system, key, value", d.attrs},
		{"artifacts", "name, created, data", d.artifacts},
	} {
		if err := insertRows(ctx, tx, t.table, "study_id, "+t.cols, prefixed(id, t.rows), ""); err != nil {
			return 0, err
		}
	}
	ids, err := d.restoreTrials(ctx, tx, id)
	if err != nil {
		return 0, err
	}
	for _, t := range []struct {
		table string
		cols  string
		rows  [][]any
	}{
		{"trial_params", "trial_id, name, position, value, distribution", d.params},
		{"trial_values", "trial_id, objective, value", d.values},
		{"trial_intermediate", "trial_id, step, value", d.intermediate},
		{"trial_attrs", "trial_id, system, key, value", d.trialAttrs},
	} {
		if err := insertRows(ctx, tx, t.table, t.cols, mapTrialIDs(t.rows, ids), ""); err != nil {
			return 0, err
		}
	}
	return id, insertRows(ctx, tx, "pareto_front", "study_id, trial_id", prefixed(id, mapTrialIDs(d.front, ids)), "")
}

// restoreTrials inserts the trials under study id and returns their new ids by old id.
func (d *dump) restoreTrials(ctx context.Context, tx *txn, id int64) (map[int64]int64, error) {
	ids := make(map[int64]int64, len(d.trials))
	byNumber := make(map[int64]int64, len(d.trials)) // number → old id
	rows := make([][]any, len(d.trials))
	for i, t := range d.trials {
		byNumber[t[1].(int64)] = t[0].(int64)
		rows[i] = append([]any{id}, t[1:]...)
	}
	for len(rows) > 0 {
		n := min(len(rows), copyBatch)
		q, args := insertSQL("trials", "study_id, number, state, attrs, error, started, finished, heartbeat, worker, retry_of",
			rows[:n], " RETURNING id, number")
		err := eachRow(ctx, tx, q, func(r *sql.Rows) error {
			var newID, number int64
			if err := r.Scan(&newID, &number); err != nil {
				return err
			}
			ids[byNumber[number]] = newID
			return nil
		}, args...)
		if err != nil {
			return nil, err
		}
		rows = rows[n:]
	}
	return ids, nil
}

// prefixed returns the rows with v in front of each.
func prefixed(v any, rows [][]any) [][]any {
	out := make([][]any, len(rows))
	for i, r := range rows {
		out[i] = append([]any{v}, r...)
	}
	return out
}

// mapTrialIDs returns the rows with their first column (a source trial id) replaced by
// the destination's id.
func mapTrialIDs(rows [][]any, ids map[int64]int64) [][]any {
	out := make([][]any, len(rows))
	for i, r := range rows {
		out[i] = append([]any{ids[r[0].(int64)]}, r[1:]...)
	}
	return out
}

// insertRows inserts rows into table, copyBatch rows per statement.
func insertRows(ctx context.Context, tx *txn, table, cols string, rows [][]any, suffix string) error {
	for len(rows) > 0 {
		n := min(len(rows), copyBatch)
		q, args := insertSQL(table, cols, rows[:n], suffix)
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
		rows = rows[n:]
	}
	return nil
}

// insertSQL builds one multi-row INSERT and its arguments.
func insertSQL(table, cols string, rows [][]any, suffix string) (string, []any) {
	var q strings.Builder
	q.WriteString("INSERT INTO " + table + " (" + cols + ") VALUES ")
	one := "(" + strings.Repeat("?, ", len(rows[0])-1) + "?)"
	args := make([]any, 0, len(rows)*len(rows[0]))
	for i, r := range rows {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(one)
		args = append(args, r...)
	}
	q.WriteString(suffix)
	return q.String(), args
}
