package studies

import (
	"context"
	"database/sql"
)

// dominates reports whether a Pareto-dominates b under dirs: a is no worse than b in
// every objective and strictly better in at least one. Equal vectors do not dominate
// each other, so both stay on a front.
func dominates(a, b []float64, dirs []Direction) bool {
	better := false
	for i, d := range dirs {
		x, y := a[i], b[i]
		if d == Maximize {
			x, y = -x, -y
		}
		if x > y {
			return false
		}
		if x < y {
			better = true
		}
	}
	return better
}

// updateFront adds a newly completed trial to its study's stored front unless a member
// dominates it, and removes the members it dominates. This keeps the front equal to the
// non-dominated set of all COMPLETE trials: a trial dominated by any complete trial is
// dominated by some front member (dominance is transitive).
func updateFront(ctx context.Context, tx *sql.Tx, studyID, trialID int64, vals []float64, dirs []Direction) error {
	rows, err := tx.QueryContext(ctx, `SELECT f.trial_id, v.objective, v.value
		FROM pareto_front f JOIN trial_values v ON v.trial_id = f.trial_id
		WHERE f.study_id = ? ORDER BY f.trial_id, v.objective`, studyID)
	if err != nil {
		return err
	}
	defer rows.Close()
	type member struct {
		id   int64
		vals []float64
	}
	var members []member
	for rows.Next() {
		var (
			id  int64
			obj int
			v   float64
		)
		if err := rows.Scan(&id, &obj, &v); err != nil {
			return err
		}
		if len(members) == 0 || members[len(members)-1].id != id {
			members = append(members, member{id: id, vals: make([]float64, len(dirs))})
		}
		if obj >= 0 && obj < len(dirs) {
			members[len(members)-1].vals[obj] = v
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()
	for _, m := range members {
		if dominates(m.vals, vals, dirs) {
			return nil
		}
	}
	for _, m := range members {
		if dominates(vals, m.vals, dirs) {
			if _, err := tx.ExecContext(ctx, "DELETE FROM pareto_front WHERE study_id = ? AND trial_id = ?", studyID, m.id); err != nil {
				return err
			}
		}
	}
	_, err = tx.ExecContext(ctx, "INSERT INTO pareto_front (study_id, trial_id) VALUES (?, ?)", studyID, trialID)
	return err
}
