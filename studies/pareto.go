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

// frontMember is one trial of a stored front with its values.
type frontMember struct {
	id   int64
	vals []float64
}

// frontSnap is a study's front as of one front_version. Snapshots are immutable once
// built; the store caches the latest committed one per study so that a completion
// does not read the whole front back (the version, bumped in the same transaction as
// every front change, tells whether the cache is current, also across processes).
type frontSnap struct {
	studyID int64
	version int64
	members []frontMember
}

// loadFront reads a study's stored front (the caller holds a transaction).
func loadFront(ctx context.Context, tx *sql.Tx, studyID int64, version int64, nobj int) (*frontSnap, error) {
	snap := &frontSnap{studyID: studyID, version: version}
	err := eachRow(ctx, tx, `SELECT f.trial_id, v.objective, v.value
		FROM pareto_front f JOIN trial_values v ON v.trial_id = f.trial_id
		WHERE f.study_id = ? ORDER BY f.trial_id, v.objective`,
		func(r *sql.Rows) error {
			var (
				id  int64
				obj int
				v   float64
			)
			if err := r.Scan(&id, &obj, &v); err != nil {
				return err
			}
			m := snap.members
			if len(m) == 0 || m[len(m)-1].id != id {
				snap.members = append(snap.members, frontMember{id: id, vals: make([]float64, nobj)})
			}
			if obj >= 0 && obj < nobj {
				snap.members[len(snap.members)-1].vals[obj] = v
			}
			return nil
		}, studyID)
	return snap, err
}

// updateFront adds a newly completed trial to its study's stored front unless a member
// dominates it, and removes the members it dominates. This keeps the front equal to the
// non-dominated set of all COMPLETE trials: a trial dominated by any complete trial is
// dominated by some front member (dominance is transitive). version is the study's
// front_version read in this transaction. The returned snapshot is to be cached once
// the transaction commits.
func (s *Store) updateFront(ctx context.Context, tx *sql.Tx, studyID, version, trialID int64, vals []float64, dirs []Direction) (*frontSnap, error) {
	var cur *frontSnap
	if c, ok := s.fronts.Load(studyID); ok && c.(*frontSnap).version == version {
		cur = c.(*frontSnap)
	} else {
		var err error
		if cur, err = loadFront(ctx, tx, studyID, version, len(dirs)); err != nil {
			return nil, err
		}
	}
	for _, m := range cur.members {
		if dominates(m.vals, vals, dirs) {
			return cur, nil
		}
	}
	next := &frontSnap{studyID: studyID, version: version + 1, members: make([]frontMember, 0, len(cur.members)+1)}
	for _, m := range cur.members {
		if dominates(vals, m.vals, dirs) {
			if _, err := tx.ExecContext(ctx, "DELETE FROM pareto_front WHERE study_id = ? AND trial_id = ?", studyID, m.id); err != nil {
				return nil, err
			}
			continue
		}
		next.members = append(next.members, m)
	}
	next.members = append(next.members, frontMember{id: trialID, vals: append([]float64(nil), vals...)})
	if _, err := tx.ExecContext(ctx, "INSERT INTO pareto_front (study_id, trial_id) VALUES (?, ?)", studyID, trialID); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE studies SET front_version = ? WHERE id = ?", next.version, studyID); err != nil {
		return nil, err
	}
	return next, nil
}

// cacheFront keeps a committed snapshot unless a newer one is cached already.
func (s *Store) cacheFront(snap *frontSnap) {
	if snap == nil {
		return
	}
	studyID := snap.studyID
	for {
		old, loaded := s.fronts.LoadOrStore(studyID, snap)
		if !loaded || old.(*frontSnap).version >= snap.version {
			return
		}
		if s.fronts.CompareAndSwap(studyID, old, snap) {
			return
		}
	}
}

// frontVersion reads a study's front_version.
func frontVersion(ctx context.Context, tx *sql.Tx, studyID int64) (int64, error) {
	var v int64
	err := tx.QueryRowContext(ctx, "SELECT front_version FROM studies WHERE id = ?", studyID).Scan(&v)
	return v, err
}
