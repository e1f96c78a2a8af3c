package studies

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// maxNameLen bounds study, objective, parameter, attribute and artifact names.
const maxNameLen = 200

// checkName refuses empty, over-long, non-UTF-8 names and names with control
// characters or surrounding spaces; what names the value in messages ("study name").
func checkName(what, name string) error {
	switch {
	case name == "":
		return invalidf("empty %s", what)
	case len(name) > maxNameLen:
		return invalidf("%s %.20q... is longer than %d bytes", what, name, maxNameLen)
	case !utf8.ValidString(name):
		return invalidf("%s %q is not valid UTF-8", what, name)
	case strings.TrimSpace(name) != name:
		return invalidf("%s %q starts or ends with a space", what, name)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return invalidf("%s %q contains a control character", what, name)
	}
	return nil
}

// checkJSON refuses raw that is not nil and not valid JSON.
func checkJSON(what string, raw json.RawMessage) error {
	if raw != nil && !json.Valid(raw) {
		return invalidf("%s is not valid JSON", what)
	}
	return nil
}

// nullJSON maps nil to SQL NULL.
func nullJSON(raw json.RawMessage) any {
	if raw == nil {
		return nil
	}
	return string(raw)
}

func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// CreateStudy stores a new study and returns it. A study of the same name gives
// [ErrStudyExists]; a bad name, objective or spec gives [ErrInvalid].
func (s *Store) CreateStudy(ctx context.Context, ns NewStudy) (Study, error) {
	if err := checkName("study name", ns.Name); err != nil {
		return Study{}, err
	}
	if len(ns.Objectives) == 0 {
		return Study{}, invalidf("study %q has no objectives", ns.Name)
	}
	seen := make(map[string]bool, len(ns.Objectives))
	for i, o := range ns.Objectives {
		if err := checkName("objective name", o.Name); err != nil {
			return Study{}, err
		}
		if seen[o.Name] {
			return Study{}, invalidf("study %q: objective %q appears twice", ns.Name, o.Name)
		}
		seen[o.Name] = true
		if !o.Direction.Valid() {
			return Study{}, invalidf("study %q: objective %d (%s) has direction %q, want minimize or maximize",
				ns.Name, i, o.Name, o.Direction)
		}
	}
	if err := checkJSON("study spec", ns.Spec); err != nil {
		return Study{}, err
	}
	for k := range ns.UserAttrs {
		if err := checkName("attribute name", k); err != nil {
			return Study{}, err
		}
	}
	created := s.now().UTC()
	var st Study
	err := s.write(ctx, func(tx *txn) error {
		// ON CONFLICT: a process creating the same name at the same time makes this
		// insert return no row instead of failing.
		var id int64
		err := tx.QueryRowContext(ctx, `INSERT INTO studies (name, created, spec) VALUES (?, ?, ?)
			ON CONFLICT (name) DO NOTHING RETURNING id`, ns.Name, created.UnixNano(), nullJSON(ns.Spec)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: %q in %s", ErrStudyExists, ns.Name, s.path)
		}
		if err != nil {
			return err
		}
		for i, o := range ns.Objectives {
			if _, err := tx.ExecContext(ctx,
				"INSERT INTO study_objectives (study_id, position, name, direction) VALUES (?, ?, ?, ?)",
				id, i, o.Name, string(o.Direction)); err != nil {
				return err
			}
		}
		for k, v := range ns.UserAttrs {
			if _, err := tx.ExecContext(ctx,
				"INSERT INTO study_attrs (study_id, system, key, value) VALUES (?, 0, ?, ?)", id, k, v); err != nil {
				return err
			}
		}
		st = Study{
			ID:         id,
			Name:       ns.Name,
			Created:    time.Unix(0, created.UnixNano()).UTC(),
			Spec:       append(json.RawMessage(nil), ns.Spec...),
			Objectives: append([]Objective(nil), ns.Objectives...),
			UserAttrs:  copyMap(ns.UserAttrs),
		}
		if ns.Spec == nil {
			st.Spec = nil
		}
		return nil
	})
	if err != nil {
		return Study{}, fmt.Errorf("create study %q: %w", ns.Name, err)
	}
	return st, nil
}

func copyMap(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// Study returns the study with that name, or [ErrNoStudy].
func (s *Store) Study(ctx context.Context, name string) (Study, error) {
	var st Study
	err := s.read(ctx, func(tx *txn) error {
		var err error
		st, err = s.loadStudy(ctx, tx, "name = ?", name)
		return err
	})
	return st, err
}

// StudyByID returns the study with that id, or [ErrNoStudy].
func (s *Store) StudyByID(ctx context.Context, id int64) (Study, error) {
	var st Study
	err := s.read(ctx, func(tx *txn) error {
		var err error
		st, err = s.loadStudy(ctx, tx, "id = ?", id)
		return err
	})
	return st, err
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func (s *Store) loadStudy(ctx context.Context, q querier, where string, key any) (Study, error) {
	var (
		st      Study
		created int64
		spec    sql.NullString
	)
	err := q.QueryRowContext(ctx, "SELECT id, name, created, spec FROM studies WHERE "+where, key).
		Scan(&st.ID, &st.Name, &created, &spec)
	if errors.Is(err, sql.ErrNoRows) {
		if id, ok := key.(int64); ok {
			return Study{}, fmt.Errorf("%w: id %d in %s", ErrNoStudy, id, s.path)
		}
		return Study{}, fmt.Errorf("%w: %q in %s", ErrNoStudy, key, s.path)
	}
	if err != nil {
		return Study{}, err
	}
	st.Created = time.Unix(0, created).UTC()
	if spec.Valid {
		st.Spec = json.RawMessage(spec.String)
	}
	if st.Objectives, err = loadObjectives(ctx, q, st.ID); err != nil {
		return Study{}, err
	}
	if st.UserAttrs, err = loadAttrs(ctx, q, "study_attrs", "study_id", st.ID, false); err != nil {
		return Study{}, err
	}
	s.dirs.LoadOrStore(st.ID, st.Directions())
	return st, nil
}

func loadObjectives(ctx context.Context, q querier, studyID int64) ([]Objective, error) {
	rows, err := q.QueryContext(ctx,
		"SELECT name, direction FROM study_objectives WHERE study_id = ? ORDER BY position", studyID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var objs []Objective
	for rows.Next() {
		var o Objective
		if err := rows.Scan(&o.Name, &o.Direction); err != nil {
			return nil, err
		}
		objs = append(objs, o)
	}
	return objs, rows.Err()
}

// loadAttrs reads a key/value attribute table (study_attrs or trial_attrs).
func loadAttrs(ctx context.Context, q querier, table, idCol string, id int64, system bool) (map[string]string, error) {
	rows, err := q.QueryContext(ctx,
		"SELECT key, value FROM "+table+" WHERE "+idCol+" = ? AND system = ? ORDER BY key", id, system)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		m[k] = v
	}
	return m, rows.Err()
}

// directions returns the objective directions of a study (cached: they never change).
func (s *Store) directions(ctx context.Context, q querier, studyID int64) ([]Direction, error) {
	if d, ok := s.dirs.Load(studyID); ok {
		return d.([]Direction), nil
	}
	objs, err := loadObjectives(ctx, q, studyID)
	if err != nil {
		return nil, err
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("%w: id %d in %s", ErrNoStudy, studyID, s.path)
	}
	d := Study{Objectives: objs}.Directions()
	s.dirs.Store(studyID, d)
	return d, nil
}

// studyExists returns ErrNoStudy unless the study id exists.
func (s *Store) studyExists(ctx context.Context, q querier, studyID int64) error {
	var n int
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM studies WHERE id = ?", studyID).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: id %d in %s", ErrNoStudy, studyID, s.path)
	}
	return nil
}

// Studies lists every study, oldest first, with its trial counts per state and the
// size of its Pareto front.
func (s *Store) Studies(ctx context.Context) ([]StudySummary, error) {
	var out []StudySummary
	err := s.read(ctx, func(tx *txn) error {
		out = out[:0]
		byID := map[int64]int{}
		rows, err := tx.QueryContext(ctx, "SELECT id, name, created, spec FROM studies ORDER BY id")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				sum     StudySummary
				created int64
				spec    sql.NullString
			)
			if err := rows.Scan(&sum.ID, &sum.Name, &created, &spec); err != nil {
				return err
			}
			sum.Created = time.Unix(0, created).UTC()
			sum.LastActivity = sum.Created
			if spec.Valid {
				sum.Spec = json.RawMessage(spec.String)
			}
			sum.UserAttrs = map[string]string{}
			byID[sum.ID] = len(out)
			out = append(out, sum)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		if err := eachRow(ctx, tx, "SELECT study_id, name, direction FROM study_objectives ORDER BY study_id, position",
			func(r *sql.Rows) error {
				var id int64
				var o Objective
				if err := r.Scan(&id, &o.Name, &o.Direction); err != nil {
					return err
				}
				if i, ok := byID[id]; ok {
					out[i].Objectives = append(out[i].Objectives, o)
				}
				return nil
			}); err != nil {
			return err
		}
		if err := eachRow(ctx, tx, "SELECT study_id, key, value FROM study_attrs WHERE system = 0",
			func(r *sql.Rows) error {
				var id int64
				var k, v string
				if err := r.Scan(&id, &k, &v); err != nil {
					return err
				}
				if i, ok := byID[id]; ok {
					out[i].UserAttrs[k] = v
				}
				return nil
			}); err != nil {
			return err
		}
		if err := eachRow(ctx, tx, `SELECT study_id, state, count(*), max(coalesce(started, 0)),
				max(coalesce(heartbeat, 0)), max(coalesce(finished, 0))
				FROM trials GROUP BY study_id, state`,
			func(r *sql.Rows) error {
				var (
					id      int64
					state   string
					n       int
					a, b, c int64
				)
				if err := r.Scan(&id, &state, &n, &a, &b, &c); err != nil {
					return err
				}
				i, ok := byID[id]
				if !ok {
					return nil
				}
				st, err := ParseState(state)
				if err != nil {
					return err
				}
				out[i].Trials.add(st, n)
				if last := time.Unix(0, max(a, b, c)).UTC(); last.After(out[i].LastActivity) {
					out[i].LastActivity = last
				}
				return nil
			}); err != nil {
			return err
		}
		return eachRow(ctx, tx, "SELECT study_id, count(*) FROM pareto_front GROUP BY study_id",
			func(r *sql.Rows) error {
				var id int64
				var n int
				if err := r.Scan(&id, &n); err != nil {
					return err
				}
				if i, ok := byID[id]; ok {
					out[i].FrontSize = n
				}
				return nil
			})
	})
	if err != nil {
		return nil, fmt.Errorf("list studies: %w", err)
	}
	return out, nil
}

// eachRow runs query and calls fn for each row.
func eachRow(ctx context.Context, q querier, query string, fn func(*sql.Rows) error, args ...any) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// DeleteStudy removes the study and everything it owns (trials, front, attributes,
// artifacts) in one transaction, or returns [ErrNoStudy].
func (s *Store) DeleteStudy(ctx context.Context, name string) error {
	err := s.write(ctx, func(tx *txn) error {
		var id int64
		err := tx.QueryRowContext(ctx, "SELECT id FROM studies WHERE name = ?", name).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: %q in %s", ErrNoStudy, name, s.path)
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM studies WHERE id = ?", id)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete study %q: %w", name, err)
	}
	return nil
}

// SetStudyAttr sets (or replaces) a user attribute of the study.
func (s *Store) SetStudyAttr(ctx context.Context, studyID int64, key, value string) error {
	return s.setStudyAttr(ctx, studyID, false, key, value)
}

func (s *Store) setStudyAttr(ctx context.Context, studyID int64, system bool, key, value string) error {
	if err := checkName("attribute name", key); err != nil {
		return err
	}
	err := s.write(ctx, func(tx *txn) error {
		if err := s.studyExists(ctx, tx, studyID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO study_attrs (study_id, system, key, value) VALUES (?, ?, ?, ?)
			ON CONFLICT (study_id, system, key) DO UPDATE SET value = excluded.value`, studyID, system, key, value)
		return err
	})
	if err != nil {
		return fmt.Errorf("set attribute %q of study %d: %w", key, studyID, err)
	}
	return nil
}

// PutArtifact stores data under name for the study, replacing an artifact of that name.
func (s *Store) PutArtifact(ctx context.Context, studyID int64, name string, data []byte) error {
	if err := checkName("artifact name", name); err != nil {
		return err
	}
	if data == nil {
		data = []byte{}
	}
	now := s.now().UnixNano()
	err := s.write(ctx, func(tx *txn) error {
		if err := s.studyExists(ctx, tx, studyID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO artifacts (study_id, name, created, data) VALUES (?, ?, ?, ?)
			ON CONFLICT (study_id, name) DO UPDATE SET created = excluded.created, data = excluded.data`,
			studyID, name, now, data)
		return err
	})
	if err != nil {
		return fmt.Errorf("store artifact %q of study %d: %w", name, studyID, err)
	}
	return nil
}

// Artifact returns the data stored under name for the study, or [ErrNoArtifact].
func (s *Store) Artifact(ctx context.Context, studyID int64, name string) ([]byte, error) {
	var data []byte
	err := s.read(ctx, func(tx *txn) error {
		err := tx.QueryRowContext(ctx, "SELECT data FROM artifacts WHERE study_id = ? AND name = ?", studyID, name).Scan(&data)
		if errors.Is(err, sql.ErrNoRows) {
			if err := s.studyExists(ctx, tx, studyID); err != nil {
				return err
			}
			return fmt.Errorf("%w: %q of study %d in %s", ErrNoArtifact, name, studyID, s.path)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

// Artifacts lists the study's artifacts by name, without their data.
func (s *Store) Artifacts(ctx context.Context, studyID int64) ([]ArtifactInfo, error) {
	var out []ArtifactInfo
	err := s.read(ctx, func(tx *txn) error {
		out = nil
		if err := s.studyExists(ctx, tx, studyID); err != nil {
			return err
		}
		return eachRow(ctx, tx, "SELECT name, length(data), created FROM artifacts WHERE study_id = ? ORDER BY name",
			func(r *sql.Rows) error {
				var a ArtifactInfo
				var created int64
				if err := r.Scan(&a.Name, &a.Size, &created); err != nil {
					return err
				}
				a.Created = time.Unix(0, created).UTC()
				out = append(out, a)
				return nil
			}, studyID)
	})
	return out, err
}

// Summary returns one study with its trial counts and front size, or [ErrNoStudy].
func (s *Store) Summary(ctx context.Context, name string) (StudySummary, error) {
	var sum StudySummary
	err := s.read(ctx, func(tx *txn) error {
		st, err := s.loadStudy(ctx, tx, "name = ?", name)
		if err != nil {
			return err
		}
		sum = StudySummary{Study: st, LastActivity: st.Created}
		if err := eachRow(ctx, tx, `SELECT state, count(*), max(coalesce(started, 0)),
				max(coalesce(heartbeat, 0)), max(coalesce(finished, 0))
				FROM trials WHERE study_id = ? GROUP BY state`,
			func(r *sql.Rows) error {
				var (
					state   string
					n       int
					a, b, c int64
				)
				if err := r.Scan(&state, &n, &a, &b, &c); err != nil {
					return err
				}
				st, err := ParseState(state)
				if err != nil {
					return err
				}
				sum.Trials.add(st, n)
				if last := time.Unix(0, max(a, b, c)).UTC(); last.After(sum.LastActivity) {
					sum.LastActivity = last
				}
				return nil
			}, st.ID); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, "SELECT count(*) FROM pareto_front WHERE study_id = ?", st.ID).Scan(&sum.FrontSize)
	})
	return sum, err
}
