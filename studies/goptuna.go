package studies

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/c-bata/goptuna"
)

var _ goptuna.Storage = (*GoptunaStorage)(nil)

// GoptunaStorage adapts a [Store] to goptuna's Storage interface (goptuna v0.9.0) over
// the same tables, so goptuna's samplers (tpe, cmaes, ...) can read a study's history
// and goptuna studies can run on a fhetune database. It is safe for concurrent use.
//
// # One value per trial
//
// goptuna sees one objective per study. The adapter presents the objective named by
// [GoptunaObjective], or each study's first objective by default: FrozenTrial.Value is
// that objective's value and the study's direction is its direction. Studies without
// that objective are refused. Other objectives stay in the store, untouched.
// SetTrialValue stores the presented objective's value of a running trial; completing
// a trial through goptuna (SetTrialState COMPLETE) therefore works only when every
// objective has a value, which is always so for a single-objective study. A
// multi-objective study is driven with [Store.Complete] and read through the adapter.
//
// # Mapping
//
// Trial ids and study ids are the store's ids; trial states map one to one. A
// parameter is visible to goptuna when its Distribution is goptuna's distribution
// JSON (what SetTrialParam writes); parameters written with another distribution
// format are left out of FrozenTrial. For a WAITING or RUNNING trial without an explicit
// "fixed_params" system attribute, the adapter presents its stored parameters as
// "fixed_params", so trials queued with [Store.Enqueue] keep their values when goptuna
// runs them. Errors that goptuna compares by identity (ErrTrialCannotBeUpdated,
// ErrNoCompletedTrials) are returned unwrapped. goptuna's interface has no context:
// every call uses context.Background.
type GoptunaStorage struct {
	s         *Store
	objective string // "" = each study's first objective
	worker    string

	mu  sync.Mutex
	obj map[int64]int // study id → position of the presented objective
}

// GoptunaOption configures [NewGoptunaStorage].
type GoptunaOption func(*GoptunaStorage)

// GoptunaObjective presents the objective of that name to goptuna. Default: each
// study's first objective. New studies created through the adapter get one objective
// of this name ("value" by default).
func GoptunaObjective(name string) GoptunaOption {
	return func(g *GoptunaStorage) { g.objective = name }
}

// GoptunaWorker sets the worker id recorded on trials that goptuna creates or starts.
// Default "goptuna".
func GoptunaWorker(id string) GoptunaOption {
	return func(g *GoptunaStorage) { g.worker = id }
}

// NewGoptunaStorage returns a goptuna Storage over s. Closing s ends it.
func NewGoptunaStorage(s *Store, opts ...GoptunaOption) *GoptunaStorage {
	g := &GoptunaStorage{s: s, worker: "goptuna", obj: map[int64]int{}}
	for _, o := range opts {
		o(g)
	}
	return g
}

func bg() context.Context { return context.Background() }

// objectiveOf returns the position and direction of the presented objective.
func (g *GoptunaStorage) objectiveOf(ctx context.Context, q querier, studyID int64) (int, Direction, error) {
	objs, err := loadObjectives(ctx, q, studyID)
	if err != nil {
		return 0, "", err
	}
	if len(objs) == 0 {
		return 0, "", fmt.Errorf("%w: id %d in %s", ErrNoStudy, studyID, g.s.path)
	}
	if g.objective == "" {
		return 0, objs[0].Direction, nil
	}
	for i, o := range objs {
		if o.Name == g.objective {
			return i, o.Direction, nil
		}
	}
	return 0, "", invalidf("study %d has no objective %q to present to goptuna", studyID, g.objective)
}

// index is objectiveOf's position, cached (objectives never move).
func (g *GoptunaStorage) index(ctx context.Context, q querier, studyID int64) (int, error) {
	g.mu.Lock()
	i, ok := g.obj[studyID]
	g.mu.Unlock()
	if ok {
		return i, nil
	}
	i, _, err := g.objectiveOf(ctx, q, studyID)
	if err != nil {
		return 0, err
	}
	g.mu.Lock()
	g.obj[studyID] = i
	g.mu.Unlock()
	return i, nil
}

func toGoptunaState(s State) goptuna.TrialState {
	switch s {
	case Running:
		return goptuna.TrialStateRunning
	case Complete:
		return goptuna.TrialStateComplete
	case Pruned:
		return goptuna.TrialStatePruned
	case Fail:
		return goptuna.TrialStateFail
	default:
		return goptuna.TrialStateWaiting
	}
}

func fromGoptunaState(s goptuna.TrialState) (State, error) {
	switch s {
	case goptuna.TrialStateRunning:
		return Running, nil
	case goptuna.TrialStateComplete:
		return Complete, nil
	case goptuna.TrialStatePruned:
		return Pruned, nil
	case goptuna.TrialStateFail:
		return Fail, nil
	case goptuna.TrialStateWaiting:
		return Waiting, nil
	}
	return 0, invalidf("unknown goptuna trial state %d", int(s))
}

// writable returns the trial's head, or goptuna.ErrTrialCannotBeUpdated when the
// trial is finished.
func (g *GoptunaStorage) writable(ctx context.Context, tx *txn, trialID int) (trialHead, error) {
	h, err := g.s.lockHead(ctx, tx, int64(trialID))
	if err != nil {
		return h, err
	}
	if h.state.Finished() {
		return h, goptuna.ErrTrialCannotBeUpdated
	}
	return h, nil
}

// unwrapGoptuna returns goptuna's identity-compared sentinels bare.
func unwrapGoptuna(err error) error {
	switch {
	case errors.Is(err, goptuna.ErrTrialCannotBeUpdated):
		return goptuna.ErrTrialCannotBeUpdated
	case errors.Is(err, goptuna.ErrNoCompletedTrials):
		return goptuna.ErrNoCompletedTrials
	}
	return err
}

// CreateNewStudy creates a study with one objective (see [GoptunaObjective]),
// minimized, and returns its id. An empty name gets goptuna's default prefix and a
// unique suffix.
func (g *GoptunaStorage) CreateNewStudy(name string) (int, error) {
	if name == "" {
		name = goptuna.DefaultStudyNamePrefix + strconv.FormatInt(g.s.now().UnixNano(), 36)
	}
	obj := g.objective
	if obj == "" {
		obj = "value"
	}
	st, err := g.s.CreateStudy(bg(), NewStudy{Name: name, Objectives: []Objective{{Name: obj, Direction: Minimize}}})
	return int(st.ID), err
}

// DeleteStudy deletes the study and all it owns.
func (g *GoptunaStorage) DeleteStudy(studyID int) error {
	st, err := g.s.StudyByID(bg(), int64(studyID))
	if err != nil {
		return err
	}
	return g.s.DeleteStudy(bg(), st.Name)
}

// SetStudyDirection sets the direction of the presented objective. It refuses to
// change it once the study has trials, since the stored Pareto front depends on it.
func (g *GoptunaStorage) SetStudyDirection(studyID int, direction goptuna.StudyDirection) error {
	d := Direction(direction)
	if !d.Valid() {
		return invalidf("goptuna direction %q", direction)
	}
	id := int64(studyID)
	return g.s.write(bg(), func(tx *txn) error {
		ctx := bg()
		i, cur, err := g.objectiveOf(ctx, tx, id)
		if err != nil || cur == d {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM trials WHERE study_id = ?", id).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return invalidf("study %d already has %d trials; its direction stays %s", id, n, cur)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE study_objectives SET direction = ? WHERE study_id = ? AND position = ?",
			string(d), id, i); err != nil {
			return err
		}
		g.s.dirs.Delete(id)
		return nil
	})
}

// SetStudyUserAttr sets a user attribute of the study.
func (g *GoptunaStorage) SetStudyUserAttr(studyID int, key, value string) error {
	return g.s.setStudyAttr(bg(), int64(studyID), false, key, value)
}

// SetStudySystemAttr sets a system attribute of the study.
func (g *GoptunaStorage) SetStudySystemAttr(studyID int, key, value string) error {
	return g.s.setStudyAttr(bg(), int64(studyID), true, key, value)
}

// GetStudyIDFromName returns the id of the named study.
func (g *GoptunaStorage) GetStudyIDFromName(name string) (int, error) {
	st, err := g.s.Study(bg(), name)
	if err != nil {
		return -1, err
	}
	return int(st.ID), nil
}

// GetStudyIDFromTrialID returns the id of the trial's study.
func (g *GoptunaStorage) GetStudyIDFromTrialID(trialID int) (int, error) {
	var h trialHead
	err := g.s.read(bg(), func(tx *txn) error {
		var err error
		h, err = g.s.head(bg(), tx, int64(trialID))
		return err
	})
	if err != nil {
		return -1, err
	}
	return int(h.studyID), nil
}

// GetStudyNameFromID returns the study's name.
func (g *GoptunaStorage) GetStudyNameFromID(studyID int) (string, error) {
	st, err := g.s.StudyByID(bg(), int64(studyID))
	return st.Name, err
}

// GetStudyDirection returns the direction of the presented objective.
func (g *GoptunaStorage) GetStudyDirection(studyID int) (goptuna.StudyDirection, error) {
	var d Direction
	err := g.s.read(bg(), func(tx *txn) error {
		var err error
		_, d, err = g.objectiveOf(bg(), tx, int64(studyID))
		return err
	})
	if err != nil {
		return goptuna.StudyDirectionMinimize, err
	}
	return goptuna.StudyDirection(d), nil
}

func (g *GoptunaStorage) studyAttrs(studyID int, system bool) (map[string]string, error) {
	var m map[string]string
	err := g.s.read(bg(), func(tx *txn) error {
		if err := g.s.studyExists(bg(), tx, int64(studyID)); err != nil {
			return err
		}
		var err error
		m, err = loadAttrs(bg(), tx, "study_attrs", "study_id", int64(studyID), system)
		return err
	})
	return m, err
}

// GetStudyUserAttrs returns the study's user attributes.
func (g *GoptunaStorage) GetStudyUserAttrs(studyID int) (map[string]string, error) {
	return g.studyAttrs(studyID, false)
}

// GetStudySystemAttrs returns the study's system attributes.
func (g *GoptunaStorage) GetStudySystemAttrs(studyID int) (map[string]string, error) {
	return g.studyAttrs(studyID, true)
}

// GetAllStudySummaries returns every study with its best trial (by the presented
// objective) and its earliest trial start. Studies without the presented objective
// are left out.
func (g *GoptunaStorage) GetAllStudySummaries() ([]goptuna.StudySummary, error) {
	list, err := g.s.Studies(bg())
	if err != nil {
		return nil, err
	}
	var out []goptuna.StudySummary
	for _, st := range list {
		var (
			dir   Direction
			start sql.NullInt64
			sys   map[string]string
		)
		err := g.s.read(bg(), func(tx *txn) error {
			var err error
			if _, dir, err = g.objectiveOf(bg(), tx, st.ID); err != nil {
				return err
			}
			if err := tx.QueryRowContext(bg(), "SELECT min(started) FROM trials WHERE study_id = ?", st.ID).Scan(&start); err != nil {
				return err
			}
			sys, err = loadAttrs(bg(), tx, "study_attrs", "study_id", st.ID, true)
			return err
		})
		if errors.Is(err, ErrInvalid) {
			continue
		}
		if err != nil {
			return nil, err
		}
		sum := goptuna.StudySummary{
			ID:            int(st.ID),
			Name:          st.Name,
			Direction:     goptuna.StudyDirection(dir),
			UserAttrs:     st.UserAttrs,
			SystemAttrs:   sys,
			DatetimeStart: fromNanos(start),
		}
		best, err := g.GetBestTrial(int(st.ID))
		switch {
		case err == nil:
			sum.BestTrial = best
		case !errors.Is(err, goptuna.ErrNoCompletedTrials):
			return nil, err
		}
		out = append(out, sum)
	}
	return out, nil
}

// CreateNewTrial creates a RUNNING trial with the study's next number.
func (g *GoptunaStorage) CreateNewTrial(studyID int) (int, error) {
	var id int64
	err := g.s.write(bg(), func(tx *txn) error {
		ctx := bg()
		n, err := g.s.studyNextNumber(ctx, tx, int64(studyID))
		if err != nil {
			return err
		}
		id, err = insertTrial(ctx, tx, newTrial{studyID: int64(studyID), number: n, state: Running,
			started: g.s.now(), worker: g.worker, retryOf: -1})
		return err
	})
	if err != nil {
		return -1, err
	}
	return int(id), nil
}

// CloneTrial stores a copy of base (goptuna's EnqueueTrial and appendTrial use it) as
// a new trial with the study's next number. A COMPLETE copy needs a single-objective
// study, and joins the Pareto front as any completed trial does.
func (g *GoptunaStorage) CloneTrial(studyID int, base goptuna.FrozenTrial) (int, error) {
	state, err := fromGoptunaState(base.State)
	if err != nil {
		return -1, err
	}
	params := make([]Param, 0, len(base.InternalParams))
	for name, v := range base.InternalParams {
		dj, err := goptuna.DistributionToJSON(base.Distributions[name])
		if err != nil {
			return -1, fmt.Errorf("clone trial: parameter %q: %w", name, err)
		}
		params = append(params, Param{Name: name, Value: v, Distribution: dj})
	}
	sortParams(params)
	if err := checkParams(params); err != nil {
		return -1, err
	}
	var (
		id   int64
		snap *frontSnap
	)
	err = g.s.write(bg(), func(tx *txn) error {
		snap = nil
		ctx := bg()
		sid := int64(studyID)
		dirs, err := g.s.directions(ctx, tx, sid)
		if err != nil {
			return err
		}
		idx, err := g.index(ctx, tx, sid)
		if err != nil {
			return err
		}
		var values []float64
		if state == Complete || state == Pruned {
			if state == Complete && len(dirs) != 1 {
				return invalidf("goptuna cannot add a COMPLETE trial with one value to study %d, which has %d objectives", sid, len(dirs))
			}
			values = make([]float64, idx+1)
			values[idx] = base.Value
			if err := checkValues(values); err != nil {
				return err
			}
		}
		n, err := g.s.studyNextNumber(ctx, tx, sid)
		if err != nil {
			return err
		}
		nt := newTrial{studyID: sid, number: n, state: state, params: params, started: base.DatetimeStart,
			finished: base.DatetimeComplete, worker: g.worker, retryOf: -1}
		if state == Waiting {
			nt.started, nt.worker = time.Time{}, ""
		}
		if id, err = insertTrial(ctx, tx, nt); err != nil {
			return err
		}
		if values != nil {
			if _, err := tx.ExecContext(ctx, "INSERT INTO trial_values (trial_id, objective, value) VALUES (?, ?, ?)",
				id, idx, base.Value); err != nil {
				return err
			}
		}
		for step, v := range base.IntermediateValues {
			if _, err := tx.ExecContext(ctx, "INSERT INTO trial_intermediate (trial_id, step, value) VALUES (?, ?, ?)",
				id, step, v); err != nil {
				return err
			}
		}
		for sys, m := range map[bool]map[string]string{false: base.UserAttrs, true: base.SystemAttrs} {
			for k, v := range m {
				if _, err := tx.ExecContext(ctx, "INSERT INTO trial_attrs (trial_id, system, key, value) VALUES (?, ?, ?, ?)",
					id, sys, k, v); err != nil {
					return err
				}
			}
		}
		if state == Complete {
			version, err := frontVersion(ctx, tx, sid)
			if err != nil {
				return err
			}
			snap, err = g.s.updateFront(ctx, tx, sid, version, id, values, dirs)
			return err
		}
		return nil
	})
	if err != nil {
		return -1, err
	}
	g.s.cacheFront(snap)
	return int(id), nil
}

func sortParams(ps []Param) {
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && ps[j].Name < ps[j-1].Name; j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}

// SetTrialValue stores the presented objective's value of an unfinished trial.
func (g *GoptunaStorage) SetTrialValue(trialID int, value float64) error {
	if err := checkValues([]float64{value}); err != nil {
		return err
	}
	return unwrapGoptuna(g.s.write(bg(), func(tx *txn) error {
		h, err := g.writable(bg(), tx, trialID)
		if err != nil {
			return err
		}
		idx, err := g.index(bg(), tx, h.studyID)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(bg(), `INSERT INTO trial_values (trial_id, objective, value) VALUES (?, ?, ?)
			ON CONFLICT (trial_id, objective) DO UPDATE SET value = excluded.value`, trialID, idx, value)
		return err
	}))
}

// SetTrialIntermediateValue records a value reported at a step of an unfinished trial;
// a step is recorded once.
func (g *GoptunaStorage) SetTrialIntermediateValue(trialID int, step int, value float64) error {
	return unwrapGoptuna(g.s.write(bg(), func(tx *txn) error {
		if _, err := g.writable(bg(), tx, trialID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(bg(), "SELECT count(*) FROM trial_intermediate WHERE trial_id = ? AND step = ?",
			trialID, step).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return invalidf("trial id %d already has a value at step %d", trialID, step)
		}
		_, err := tx.ExecContext(bg(), "INSERT INTO trial_intermediate (trial_id, step, value) VALUES (?, ?, ?)",
			trialID, step, value)
		return err
	}))
}

// SetTrialParam stores a sampled parameter (internal value and goptuna distribution).
func (g *GoptunaStorage) SetTrialParam(trialID int, paramName string, paramValueInternal float64, distribution interface{}) error {
	dj, err := goptuna.DistributionToJSON(distribution)
	if err != nil {
		return fmt.Errorf("studies: goptuna parameter %q: %w", paramName, err)
	}
	p := []Param{{Name: paramName, Value: paramValueInternal, Distribution: dj}}
	if err := checkParams(p); err != nil {
		return err
	}
	return unwrapGoptuna(g.s.write(bg(), func(tx *txn) error {
		if _, err := g.writable(bg(), tx, trialID); err != nil {
			return err
		}
		return upsertParams(bg(), tx, int64(trialID), p)
	}))
}

// SetTrialState moves a trial: WAITING → RUNNING (goptuna's way of popping a queued
// trial; any other start gives goptuna.ErrTrialCannotBeUpdated), or to COMPLETE (with
// the values set by SetTrialValue), PRUNED or FAIL.
func (g *GoptunaStorage) SetTrialState(trialID int, state goptuna.TrialState) error {
	st, err := fromGoptunaState(state)
	if err != nil {
		return err
	}
	var snap *frontSnap
	err = g.s.write(bg(), func(tx *txn) error {
		snap = nil
		ctx := bg()
		h, err := g.writable(ctx, tx, trialID)
		if err != nil {
			return err
		}
		now := g.s.now().UnixNano()
		switch st {
		case Running:
			if h.state != Waiting {
				return goptuna.ErrTrialCannotBeUpdated
			}
			_, err := tx.ExecContext(ctx, "UPDATE trials SET state = 'RUNNING', started = ?, heartbeat = ?, worker = ? WHERE id = ?",
				now, now, g.worker, trialID)
			return err
		case Waiting:
			return invalidf("goptuna cannot move trial id %d back to WAITING", trialID)
		case Complete:
			if h.state != Running {
				return fmt.Errorf("%w: trial %d of study %d is %s", ErrTrialNotRunning, h.number, h.studyID, h.state)
			}
			var values []float64
			if err := eachRow(ctx, tx, "SELECT value FROM trial_values WHERE trial_id = ? ORDER BY objective",
				func(r *sql.Rows) error {
					var v float64
					if err := r.Scan(&v); err != nil {
						return err
					}
					values = append(values, v)
					return nil
				}, trialID); err != nil {
				return err
			}
			snap, err = g.s.complete(ctx, tx, int64(trialID), values, nil)
			return err
		default: // Fail, Pruned
			_, err := tx.ExecContext(ctx, "UPDATE trials SET state = ?, finished = ? WHERE id = ?", st.String(), now, trialID)
			return err
		}
	})
	if err != nil {
		return unwrapGoptuna(err)
	}
	g.s.cacheFront(snap)
	return nil
}

func (g *GoptunaStorage) setTrialAttr(trialID int, system bool, key, value string) error {
	return unwrapGoptuna(g.s.write(bg(), func(tx *txn) error {
		if _, err := g.writable(bg(), tx, trialID); err != nil {
			return err
		}
		_, err := tx.ExecContext(bg(), `INSERT INTO trial_attrs (trial_id, system, key, value) VALUES (?, ?, ?, ?)
			ON CONFLICT (trial_id, system, key) DO UPDATE SET value = excluded.value`, trialID, system, key, value)
		return err
	}))
}

// SetTrialUserAttr sets a user attribute of an unfinished trial.
func (g *GoptunaStorage) SetTrialUserAttr(trialID int, key, value string) error {
	return g.setTrialAttr(trialID, false, key, value)
}

// SetTrialSystemAttr sets a system attribute of an unfinished trial.
func (g *GoptunaStorage) SetTrialSystemAttr(trialID int, key, value string) error {
	return g.setTrialAttr(trialID, true, key, value)
}

// GetTrialNumberFromID returns the trial's number.
func (g *GoptunaStorage) GetTrialNumberFromID(trialID int) (int, error) {
	var h trialHead
	err := g.s.read(bg(), func(tx *txn) error {
		var err error
		h, err = g.s.head(bg(), tx, int64(trialID))
		return err
	})
	if err != nil {
		return -1, err
	}
	return h.number, nil
}

// GetTrialParam returns the internal value of a trial's parameter.
func (g *GoptunaStorage) GetTrialParam(trialID int, paramName string) (float64, error) {
	var v float64
	err := g.s.read(bg(), func(tx *txn) error {
		err := tx.QueryRowContext(bg(), "SELECT value FROM trial_params WHERE trial_id = ? AND name = ?", trialID, paramName).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) {
			if _, err := g.s.head(bg(), tx, int64(trialID)); err != nil {
				return err
			}
			return invalidf("trial id %d has no parameter %q", trialID, paramName)
		}
		return err
	})
	return v, err
}

// GetTrial returns a trial as goptuna sees it.
func (g *GoptunaStorage) GetTrial(trialID int) (goptuna.FrozenTrial, error) {
	fts, err := g.frozen(bg(), "SELECT CAST(? AS BIGINT)", int64(trialID))
	if err != nil {
		return goptuna.FrozenTrial{}, err
	}
	if len(fts) == 0 {
		return goptuna.FrozenTrial{}, fmt.Errorf("%w: id %d in %s", ErrNoTrial, trialID, g.s.path)
	}
	return fts[0], nil
}

// GetAllTrials returns all the study's trials, by number.
func (g *GoptunaStorage) GetAllTrials(studyID int) ([]goptuna.FrozenTrial, error) {
	return g.frozen(bg(), "SELECT id FROM trials WHERE study_id = ?", int64(studyID))
}

// GetBestTrial returns the COMPLETE trial with the best presented value (the lowest
// number among ties), or goptuna.ErrNoCompletedTrials.
func (g *GoptunaStorage) GetBestTrial(studyID int) (goptuna.FrozenTrial, error) {
	var id int64
	err := g.s.read(bg(), func(tx *txn) error {
		ctx := bg()
		idx, dir, err := g.objectiveOf(ctx, tx, int64(studyID))
		if err != nil {
			return err
		}
		order := "ASC"
		if dir == Maximize {
			order = "DESC"
		}
		err = tx.QueryRowContext(ctx, `SELECT t.id FROM trials t JOIN trial_values v ON v.trial_id = t.id
			WHERE t.study_id = ? AND t.state = 'COMPLETE' AND v.objective = ?
			ORDER BY v.value `+order+`, t.number LIMIT 1`, studyID, idx).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return goptuna.ErrNoCompletedTrials
		}
		return err
	})
	if err != nil {
		return goptuna.FrozenTrial{}, unwrapGoptuna(err)
	}
	return g.GetTrial(int(id))
}

// GetTrialParams returns the external form of the trial's goptuna parameters.
func (g *GoptunaStorage) GetTrialParams(trialID int) (map[string]interface{}, error) {
	ft, err := g.GetTrial(trialID)
	if err != nil {
		return nil, err
	}
	return ft.Params, nil
}

// GetTrialUserAttrs returns the trial's user attributes.
func (g *GoptunaStorage) GetTrialUserAttrs(trialID int) (map[string]string, error) {
	ft, err := g.GetTrial(trialID)
	if err != nil {
		return nil, err
	}
	return ft.UserAttrs, nil
}

// GetTrialSystemAttrs returns the trial's system attributes.
func (g *GoptunaStorage) GetTrialSystemAttrs(trialID int) (map[string]string, error) {
	ft, err := g.GetTrial(trialID)
	if err != nil {
		return nil, err
	}
	return ft.SystemAttrs, nil
}

// frozen loads the trials the id sub-query selects as goptuna FrozenTrials, in one
// read transaction.
func (g *GoptunaStorage) frozen(ctx context.Context, ids string, args ...any) ([]goptuna.FrozenTrial, error) {
	var out []goptuna.FrozenTrial
	err := g.s.read(ctx, func(tx *txn) error {
		out = nil
		trials, err := loadTrials(ctx, tx, ids, args...)
		if err != nil || len(trials) == 0 {
			return err
		}
		pos := make(map[int64]int, len(trials))
		for i, t := range trials {
			idx, err := g.index(ctx, tx, t.StudyID)
			if err != nil {
				return err
			}
			ft := goptuna.FrozenTrial{
				ID:                 int(t.ID),
				StudyID:            int(t.StudyID),
				Number:             t.Number,
				State:              toGoptunaState(t.State),
				IntermediateValues: map[int]float64{},
				DatetimeStart:      t.Start,
				DatetimeComplete:   t.Finish,
				InternalParams:     map[string]float64{},
				Params:             map[string]interface{}{},
				Distributions:      map[string]interface{}{},
				UserAttrs:          map[string]string{},
				SystemAttrs:        map[string]string{},
			}
			if idx < len(t.Values) {
				ft.Value = t.Values[idx]
			}
			fixed := map[string]float64{}
			for _, p := range t.Params {
				fixed[p.Name] = p.Value
				if p.Distribution == nil {
					continue
				}
				d, err := goptuna.JSONToDistribution(p.Distribution)
				if err != nil {
					continue // another sampler's distribution format: not goptuna's to see
				}
				ext, err := goptuna.ToExternalRepresentation(d, p.Value)
				if err != nil {
					continue
				}
				ft.InternalParams[p.Name] = p.Value
				ft.Params[p.Name] = ext
				ft.Distributions[p.Name] = d
			}
			if !t.State.Finished() && len(fixed) > 0 {
				b, err := json.Marshal(fixed)
				if err != nil {
					return err
				}
				ft.SystemAttrs["fixed_params"] = string(b)
			}
			pos[t.ID] = i
			out = append(out, ft)
		}
		if err := eachRow(ctx, tx, "SELECT trial_id, system, key, value FROM trial_attrs WHERE trial_id IN ("+ids+")",
			func(r *sql.Rows) error {
				var (
					id     int64
					system bool
					k, v   string
				)
				if err := r.Scan(&id, &system, &k, &v); err != nil {
					return err
				}
				if i, ok := pos[id]; ok {
					if system {
						out[i].SystemAttrs[k] = v
					} else {
						out[i].UserAttrs[k] = v
					}
				}
				return nil
			}, args...); err != nil {
			return err
		}
		return eachRow(ctx, tx, "SELECT trial_id, step, value FROM trial_intermediate WHERE trial_id IN ("+ids+")",
			func(r *sql.Rows) error {
				var (
					id   int64
					step int
					v    float64
				)
				if err := r.Scan(&id, &step, &v); err != nil {
					return err
				}
				if i, ok := pos[id]; ok {
					out[i].IntermediateValues[step] = v
				}
				return nil
			}, args...)
	})
	return out, err
}
