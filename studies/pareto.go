package studies

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
func loadFront(ctx context.Context, tx *txn, studyID int64, version int64, nobj int) (*frontSnap, error) {
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
//
// A trial that a member of any committed front dominates stays off the front whatever
// other transactions do (the member, or a trial that displaced it, dominates it for
// good), so that check needs no lock. A trial that joins the front locks the study's
// row and checks again against the front as of then: on PostgreSQL, other processes
// may have changed it since version was read.
func (s *Store) updateFront(ctx context.Context, tx *txn, studyID, version, trialID int64, vals []float64, dirs []Direction) (*frontSnap, error) {
	cur, err := s.front(ctx, tx, studyID, version, len(dirs))
	if err != nil || dominated(cur, vals, dirs) {
		return cur, err
	}
	if tx.d.lockRow != "" {
		var locked int64 // the lock and frontVersion in one statement
		err := tx.QueryRowContext(ctx, "SELECT front_version FROM studies WHERE id = ?"+tx.d.lockRow, studyID).Scan(&locked)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("%w: id %d in %s", ErrNoStudy, studyID, s.path)
		}
		if err != nil {
			return nil, err
		}
		if locked != version {
			if cur, err = s.front(ctx, tx, studyID, locked, len(dirs)); err != nil || dominated(cur, vals, dirs) {
				return cur, err
			}
		}
	}
	return s.addToFront(ctx, tx, cur, trialID, vals, dirs)
}

// front returns the study's front as of version: the cached snapshot when it is that
// version, else the stored front.
func (s *Store) front(ctx context.Context, tx *txn, studyID, version int64, nobj int) (*frontSnap, error) {
	if c, ok := s.fronts.Load(studyID); ok && c.(*frontSnap).version == version {
		return c.(*frontSnap), nil
	}
	return loadFront(ctx, tx, studyID, version, nobj)
}

// dominated reports whether a member of the front dominates vals.
func dominated(cur *frontSnap, vals []float64, dirs []Direction) bool {
	for _, m := range cur.members {
		if dominates(m.vals, vals, dirs) {
			return true
		}
	}
	return false
}

// addToFront stores trialID as a member of the front cur (which the transaction
// holds), removes the members it dominates and bumps the study's front_version.
func (s *Store) addToFront(ctx context.Context, tx *txn, cur *frontSnap, trialID int64, vals []float64, dirs []Direction) (*frontSnap, error) {
	studyID := cur.studyID
	next := &frontSnap{studyID: studyID, version: cur.version + 1, members: make([]frontMember, 0, len(cur.members)+1)}
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
func frontVersion(ctx context.Context, tx *txn, studyID int64) (int64, error) {
	var v int64
	err := tx.QueryRowContext(ctx, "SELECT front_version FROM studies WHERE id = ?", studyID).Scan(&v)
	return v, err
}
