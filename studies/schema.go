package studies

import (
	"context"
	"database/sql"
	"fmt"
)

// applicationID marks fhetune study databases in the SQLite header (PRAGMA
// application_id); it spells "fhet".
const applicationID = 0x66686574

// A migration moves the schema from version-1 to version, in one transaction.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations is the ordered schema history. Append only: never edit a released step.
// Times are Unix nanoseconds (UTC); JSON columns hold valid JSON or NULL.
var migrations = []migration{
	{1, "initial schema", `
CREATE TABLE schema_migrations (
	version INTEGER PRIMARY KEY,
	name    TEXT    NOT NULL,
	applied INTEGER NOT NULL
);
CREATE TABLE studies (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	name    TEXT    NOT NULL UNIQUE,
	created INTEGER NOT NULL,
	spec    TEXT,
	-- bumped whenever pareto_front changes, so processes can cache the front
	front_version INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE study_objectives (
	study_id  INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
	position  INTEGER NOT NULL,
	name      TEXT    NOT NULL,
	direction TEXT    NOT NULL CHECK (direction IN ('minimize', 'maximize')),
	PRIMARY KEY (study_id, position),
	UNIQUE (study_id, name)
) WITHOUT ROWID;
CREATE TABLE study_attrs (
	study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
	system   INTEGER NOT NULL CHECK (system IN (0, 1)),
	key      TEXT    NOT NULL,
	value    TEXT    NOT NULL,
	PRIMARY KEY (study_id, system, key)
) WITHOUT ROWID;
CREATE TABLE artifacts (
	study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
	name     TEXT    NOT NULL,
	created  INTEGER NOT NULL,
	data     BLOB    NOT NULL,
	PRIMARY KEY (study_id, name)
);
CREATE TABLE trials (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	study_id  INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
	number    INTEGER NOT NULL CHECK (number >= 0),
	state     TEXT    NOT NULL CHECK (state IN ('WAITING', 'RUNNING', 'COMPLETE', 'FAIL', 'PRUNED')),
	attrs     TEXT,
	error     TEXT    NOT NULL DEFAULT '',
	started   INTEGER,
	finished  INTEGER,
	heartbeat INTEGER,
	worker    TEXT    NOT NULL DEFAULT '',
	retry_of  INTEGER,
	UNIQUE (study_id, number)
);
CREATE INDEX trials_by_state ON trials (study_id, state, number);
CREATE TABLE trial_params (
	trial_id     INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
	name         TEXT    NOT NULL,
	position     INTEGER NOT NULL,
	value        REAL    NOT NULL,
	distribution TEXT,
	PRIMARY KEY (trial_id, name)
) WITHOUT ROWID;
CREATE TABLE trial_values (
	trial_id  INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
	objective INTEGER NOT NULL,
	value     REAL    NOT NULL,
	PRIMARY KEY (trial_id, objective)
) WITHOUT ROWID;
CREATE TABLE trial_intermediate (
	trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
	step     INTEGER NOT NULL,
	value    REAL    NOT NULL,
	PRIMARY KEY (trial_id, step)
) WITHOUT ROWID;
CREATE TABLE trial_attrs (
	trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
	system   INTEGER NOT NULL CHECK (system IN (0, 1)),
	key      TEXT    NOT NULL,
	value    TEXT    NOT NULL,
	PRIMARY KEY (trial_id, system, key)
) WITHOUT ROWID;
CREATE TABLE pareto_front (
	study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
	trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
	PRIMARY KEY (study_id, trial_id)
) WITHOUT ROWID;
CREATE INDEX pareto_front_by_trial ON pareto_front (trial_id);
CREATE TABLE profiles (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	machine TEXT    NOT NULL,
	created INTEGER NOT NULL,
	payload TEXT    NOT NULL
);
`},
}

// SchemaVersion is the newest schema version this package writes.
func SchemaVersion() int { return len(migrations) }

// dbState is what init learns about a file before deciding whether to touch it.
type dbState struct {
	appID, version, tables int
}

func (s *Store) conn() *sql.DB {
	if s.w != nil {
		return s.w
	}
	return s.r
}

// probe reads the header fields and counts tables; it never writes.
func (s *Store) probe(ctx context.Context) (dbState, error) {
	var st dbState
	// One statement, so one snapshot: another process may be creating the schema.
	err := s.retry(ctx, func() error {
		err := s.conn().QueryRowContext(ctx, `SELECT
			(SELECT application_id FROM pragma_application_id),
			(SELECT user_version FROM pragma_user_version),
			(SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%')`).
			Scan(&st.appID, &st.version, &st.tables)
		return s.wrapSQL(err)
	})
	return st, err
}

// init checks the file's identity and schema version, then sets WAL and migrates.
func (s *Store) init(ctx context.Context) error {
	st, err := s.probe(ctx)
	if err != nil {
		return err
	}
	latest := len(migrations)
	if st.version > latest {
		return &SchemaError{Path: s.path, Version: st.version, Supported: latest}
	}
	fresh := st.appID == 0 && st.version == 0 && st.tables == 0
	if st.appID != applicationID && !fresh {
		return fmt.Errorf("%w: %s (application id %#x, %d tables)", ErrNotStudyDatabase, s.path, st.appID, st.tables)
	}
	if fresh && s.cfg.mustExist {
		return fmt.Errorf("%w: %s holds no study database yet", ErrNoDatabase, s.path)
	}
	if st.version == latest && s.readOnly {
		return nil
	}
	if s.readOnly {
		return fmt.Errorf("%w: %s has schema version %d and needs an upgrade to %d, which a read-only file does not allow",
			ErrReadOnly, s.path, st.version, latest)
	}
	if err := s.retry(ctx, func() error {
		var mode string
		if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
			return s.wrapSQL(err)
		}
		if mode != "wal" {
			return fmt.Errorf("studies: %s: cannot use a WAL journal (journal mode stays %q)", s.path, mode)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, m := range migrations[st.version:] {
		if err := s.migrate(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// migrate applies m unless another process did it first.
func (s *Store) migrate(ctx context.Context, m migration) error {
	err := s.write(ctx, func(tx *txn) error {
		var v int
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			return err
		}
		if v >= m.version {
			if v > len(migrations) {
				return &SchemaError{Path: s.path, Version: v, Supported: len(migrations)}
			}
			return nil
		}
		if v != m.version-1 {
			return fmt.Errorf("studies: %s: schema version %d cannot take migration %d", s.path, v, m.version)
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return err
		}
		if m.version == 1 {
			if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", applicationID)); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)",
			m.version, m.name, s.now().UnixNano())
		return err
	})
	if err != nil {
		return fmt.Errorf("studies: %s: migration %d (%s): %w", s.path, m.version, m.name, err)
	}
	return nil
}
