package main

import (
	"context"
	"errors"

	"github.com/fhetune/fhetune/studies"
)

// openStore opens the study database named by --db. With mustExist (read-only
// commands) a missing file is studies.ErrNoDatabase and nothing is created. Errors that
// come from a bad --db value (not SQLite, no such folder, another application's file, a
// login the PostgreSQL server refuses) exit with code 2, like bad usage; the caller closes the store.
func (a *app) openStore(ctx context.Context, mustExist bool) (*studies.Store, error) {
	var opts []studies.Option
	if mustExist {
		opts = append(opts, studies.MustExist())
	}
	s, err := studies.Open(ctx, a.dbPath, opts...)
	if err != nil {
		return nil, storeError(err)
	}
	return s, nil
}

// dbName is the --db value for messages: a PostgreSQL URL without its password.
func (a *app) dbName() string { return studies.RedactURL(a.dbPath) }

// storeError marks store errors caused by the user's input (a bad --db file, an unknown
// study name, a malformed value, a name already taken) as bad input, exit code 2.
// Everything else (a missing database, a read-only file, a newer schema, I/O) stays a
// run-time failure, exit code 1.
func storeError(err error) error {
	for _, bad := range []error{studies.ErrNotSQLite, studies.ErrNoFolder, studies.ErrNotStudyDatabase,
		studies.ErrNoStudy, studies.ErrInvalid, studies.ErrStudyExists, studies.ErrLogin} {
		if errors.Is(err, bad) {
			return usageError{err}
		}
	}
	return err
}
