package studies

import (
	"errors"
	"fmt"
)

// Sentinel errors; check them with errors.Is. Returned errors wrap them with the path,
// study or trial concerned.
var (
	// ErrNoDatabase: the database file does not exist (or is empty) and the store was
	// opened with [MustExist], so nothing was created.
	ErrNoDatabase = errors.New("studies: database does not exist")
	// ErrNoFolder: the folder that should hold the database file does not exist.
	ErrNoFolder = errors.New("studies: folder does not exist")
	// ErrNotSQLite: the path names something that is not an SQLite database file.
	ErrNotSQLite = errors.New("studies: not an SQLite database file")
	// ErrNotStudyDatabase: the file is an SQLite database of another application.
	ErrNotStudyDatabase = errors.New("studies: not a fhetune study database")
	// ErrNewerSchema: the file was written by a newer version of fhetune.
	ErrNewerSchema = errors.New("studies: database schema is newer than this program")
	// ErrReadOnly: the file (or the store) cannot be written.
	ErrReadOnly = errors.New("studies: database is read-only")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("studies: store is closed")
	// ErrInvalid: an argument is malformed (empty name, NaN value, bad JSON, ...).
	ErrInvalid = errors.New("studies: invalid argument")
	// ErrStudyExists: a study of that name already exists.
	ErrStudyExists = errors.New("studies: study already exists")
	// ErrNoStudy: no study has that name or id.
	ErrNoStudy = errors.New("studies: no such study")
	// ErrNoTrial: no trial has that id.
	ErrNoTrial = errors.New("studies: no such trial")
	// ErrTrialFinished: the trial is COMPLETE, FAIL or PRUNED and refuses writes.
	ErrTrialFinished = errors.New("studies: trial is finished")
	// ErrTrialNotRunning: the operation needs a RUNNING trial and the trial is WAITING.
	ErrTrialNotRunning = errors.New("studies: trial is not running")
	// ErrTrialNotComplete: the operation needs a COMPLETE trial (annotations).
	ErrTrialNotComplete = errors.New("studies: trial is not complete")
	// ErrNoArtifact: the study has no artifact of that name.
	ErrNoArtifact = errors.New("studies: no such artifact")
	// ErrConnect: the PostgreSQL server cannot be reached (refused, no route, timeout).
	ErrConnect = errors.New("studies: cannot connect to the database server")
	// ErrLogin: the PostgreSQL server refused the login (wrong password, unknown role
	// or database, no privilege to connect).
	ErrLogin = errors.New("studies: database server refused the login")
	// ErrNoProfile: no calibration profile has been saved.
	ErrNoProfile = errors.New("studies: no calibration profile")
)

// SchemaError reports a database whose schema version this program cannot use. It
// matches [ErrNewerSchema] with errors.Is.
type SchemaError struct {
	Path      string // the database file, or PostgreSQL URL without its password
	Version   int    // the file's schema version
	Supported int    // the newest version this program knows
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("studies: %s has schema version %d, newer than the %d this fhetune knows; use a newer fhetune",
		e.Path, e.Version, e.Supported)
}

// Is reports whether target is ErrNewerSchema.
func (e *SchemaError) Is(target error) bool { return target == ErrNewerSchema }

// invalidf returns an error wrapping ErrInvalid with a description of the bad value.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}
