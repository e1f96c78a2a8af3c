package studies

import (
	"context"
	"database/sql"
	"encoding/json"
)

// loadTrials reads the trials whose ids the sub-query ids (with args) selects, with
// their parameters, values and intermediate values, ordered by study and number. Four
// queries, no matter how many trials.
func loadTrials(ctx context.Context, q querier, ids string, args ...any) ([]Trial, error) {
	var out []Trial
	pos := map[int64]int{}
	err := eachRow(ctx, q, `SELECT id, study_id, number, state, attrs, error, started, finished, heartbeat,
		worker, retry_of FROM trials WHERE id IN (`+ids+`) ORDER BY study_id, number`,
		func(r *sql.Rows) error {
			var (
				t                       Trial
				state                   string
				attrs                   sql.NullString
				started, finished, beat sql.NullInt64
				retryOf                 sql.NullInt64
			)
			if err := r.Scan(&t.ID, &t.StudyID, &t.Number, &state, &attrs, &t.Error, &started, &finished, &beat,
				&t.Worker, &retryOf); err != nil {
				return err
			}
			var err error
			if t.State, err = ParseState(state); err != nil {
				return err
			}
			if attrs.Valid {
				t.Attrs = json.RawMessage(attrs.String)
			}
			t.Start, t.Finish, t.Heartbeat = fromNanos(started), fromNanos(finished), fromNanos(beat)
			t.RetryOf = -1
			if retryOf.Valid {
				t.RetryOf = int(retryOf.Int64)
			}
			t.Params = []Param{}
			pos[t.ID] = len(out)
			out = append(out, t)
			return nil
		}, args...)
	if err != nil || len(out) == 0 {
		return out, err
	}
	err = eachRow(ctx, q, `SELECT trial_id, name, value, distribution FROM trial_params
		WHERE trial_id IN (`+ids+`) ORDER BY trial_id, position`,
		func(r *sql.Rows) error {
			var (
				id   int64
				p    Param
				dist sql.NullString
			)
			if err := r.Scan(&id, &p.Name, &p.Value, &dist); err != nil {
				return err
			}
			if dist.Valid {
				p.Distribution = json.RawMessage(dist.String)
			}
			if i, ok := pos[id]; ok {
				out[i].Params = append(out[i].Params, p)
			}
			return nil
		}, args...)
	if err != nil {
		return nil, err
	}
	err = eachRow(ctx, q, `SELECT trial_id, objective, value FROM trial_values
		WHERE trial_id IN (`+ids+`) ORDER BY trial_id, objective`,
		func(r *sql.Rows) error {
			var (
				id  int64
				obj int
				v   float64
			)
			if err := r.Scan(&id, &obj, &v); err != nil {
				return err
			}
			i, ok := pos[id]
			if !ok {
				return nil
			}
			for len(out[i].Values) <= obj {
				out[i].Values = append(out[i].Values, 0)
			}
			out[i].Values[obj] = v
			return nil
		}, args...)
	if err != nil {
		return nil, err
	}
	err = eachRow(ctx, q, `SELECT trial_id, step, value FROM trial_intermediate
		WHERE trial_id IN (`+ids+`) ORDER BY trial_id, step`,
		func(r *sql.Rows) error {
			var (
				id   int64
				step int
				v    float64
			)
			if err := r.Scan(&id, &step, &v); err != nil {
				return err
			}
			i, ok := pos[id]
			if !ok {
				return nil
			}
			if out[i].Intermediate == nil {
				out[i].Intermediate = map[int]float64{}
			}
			out[i].Intermediate[step] = v
			return nil
		}, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}
