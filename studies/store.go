package studies

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-sqlite3"
)

// sqliteMagic is the first 16 bytes of every SQLite 3 database file.
const sqliteMagic = "SQLite format 3\x00"

// Store is an open study database. It is safe for concurrent use by goroutines, and
// other processes may use the same file at the same time. Close it when done.
type Store struct {
	path     string // as given to Open (a PostgreSQL URL without its password), for messages
	d        *dialect
	cfg      config
	readOnly bool
	w        *sql.DB // writer: one connection, BEGIN IMMEDIATE; nil when read-only
	r        *sql.DB // readers: deferred transactions (PostgreSQL: the same pool as w)

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error

	dirs   sync.Map // study id → []Direction; study ids are never reused
	fronts sync.Map // study id → *frontSnap, the latest committed front seen
	// started maps the trials this store started and has not finished to their study
	// id (PostgreSQL only): Complete's one-statement path needs the study's front.
	started sync.Map
	// unflushed holds the parameters SetParams committed asynchronously for trials
	// this store started (PostgreSQL only), until the trial finishes (see
	// [Store.pgSetParams]).
	unflushedMu sync.Mutex
	unflushed   map[int64]*unflushedParams
}

// Open opens the study database at path, creating it (and its schema) unless the
// [MustExist] option is given. A path that starts with postgres:// or postgresql://
// is a PostgreSQL connection URL (see [IsPostgresURL]); anything else is an SQLite file.
//
// For an SQLite file, Open checks the file before SQLite touches it and
// refuses, without writing to it, a folder that does not exist ([ErrNoFolder]), a file
// that is not SQLite ([ErrNotSQLite]), an SQLite file of another application
// ([ErrNotStudyDatabase]) and a file of a newer schema ([ErrNewerSchema]). A read-only
// file opens only with MustExist, and the store then refuses writes with [ErrReadOnly].
// An older schema is migrated, one transaction per version.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if path == "" {
		return nil, invalidf("empty database path")
	}
	if IsPostgresURL(path) {
		return openPostgres(ctx, path, cfg)
	}
	exists, readOnly, err := inspect(path, cfg.mustExist)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("studies: open %s: %w", path, err)
	}
	s := &Store{path: path, d: sqliteDialect, cfg: cfg, readOnly: readOnly}
	mode := "rw"
	switch {
	case readOnly:
		mode = "ro"
	case !exists:
		mode = "rwc"
	}
	if !readOnly {
		if s.w, err = sql.Open("sqlite3", dsn(abs, mode, "immediate", cfg.busyTimeout)); err != nil {
			return nil, fmt.Errorf("studies: open %s: %w", path, err)
		}
		s.w.SetMaxOpenConns(1) // one writer per process; goroutines queue here
		s.w.SetConnMaxIdleTime(0)
	}
	if readOnly {
		mode = "ro"
	} else {
		mode = "rw" // the writer creates the file
	}
	if s.r, err = sql.Open("sqlite3", dsn(abs, mode, "deferred", cfg.busyTimeout)); err != nil {
		s.Close()
		return nil, fmt.Errorf("studies: open %s: %w", path, err)
	}
	s.r.SetMaxOpenConns(4)
	s.r.SetMaxIdleConns(4)
	if err := s.init(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// inspect checks path before SQLite opens it: the folder exists, the file (if any) is
// a regular file that starts like an SQLite database, and whether it is writable.
func inspect(path string, mustExist bool) (exists, readOnly bool, err error) {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		dir := filepath.Dir(path)
		if di, derr := os.Stat(dir); derr != nil || !di.IsDir() {
			return false, false, fmt.Errorf("%w: %s (the folder of database %s)", ErrNoFolder, dir, path)
		}
		if mustExist {
			return false, false, fmt.Errorf("%w: %s", ErrNoDatabase, path)
		}
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("studies: open %s: %w", path, err)
	}
	if info.IsDir() {
		return false, false, fmt.Errorf("%w: %s is a folder", ErrNotSQLite, path)
	}
	if !info.Mode().IsRegular() {
		return false, false, fmt.Errorf("%w: %s is not a regular file", ErrNotSQLite, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return false, false, fmt.Errorf("studies: open %s: %w", path, err)
	}
	head := make([]byte, len(sqliteMagic))
	n, rerr := io.ReadFull(f, head)
	f.Close()
	if rerr != nil && !errors.Is(rerr, io.ErrUnexpectedEOF) && !errors.Is(rerr, io.EOF) {
		return false, false, fmt.Errorf("studies: read %s: %w", path, rerr)
	}
	if n == 0 {
		if mustExist {
			return false, false, fmt.Errorf("%w: %s is empty", ErrNoDatabase, path)
		}
	} else if string(head[:n]) != sqliteMagic[:n] {
		return false, false, fmt.Errorf("%w: %s does not start with the SQLite header", ErrNotSQLite, path)
	}
	readOnly = !writable(path, info)
	if readOnly && !mustExist {
		return false, false, fmt.Errorf("%w: %s is not writable (mode %v)", ErrReadOnly, path, info.Mode().Perm())
	}
	return true, readOnly, nil
}

// writable reports whether the file may be written: some write permission bit is set
// (even root honours a file marked read-only here) and the process has write access.
func writable(path string, info fs.FileInfo) bool {
	if info.Mode().Perm()&0o222 == 0 {
		return false
	}
	return canWrite(path)
}

// dsn builds a go-sqlite3 URI. The path is absolute and has its URI-special characters
// escaped; mode is ro, rw or rwc.
func dsn(abs, mode, txlock string, busy time.Duration) string {
	r := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")
	return "file:" + r.Replace(filepath.ToSlash(abs)) +
		"?mode=" + mode +
		"&_txlock=" + txlock +
		"&_busy_timeout=" + strconv.FormatInt(busy.Milliseconds(), 10) +
		"&_foreign_keys=1&_synchronous=NORMAL&_stmt_cache_size=64"
}

// Path returns the database path the store was opened with; for PostgreSQL, the URL
// without its password.
func (s *Store) Path() string { return s.path }

// ReadOnly reports whether the store refuses writes because its file is read-only.
func (s *Store) ReadOnly() bool { return s.readOnly }

// Close closes the store, waiting for running queries. It is idempotent: later calls
// return the first call's result. Other methods return [ErrClosed] afterwards.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		var errs []error
		if s.r != nil && s.r != s.w {
			errs = append(errs, s.r.Close())
		}
		if s.w != nil {
			errs = append(errs, s.w.Close())
		}
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("studies: close %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

func (s *Store) now() time.Time { return s.cfg.now() }

// isBusy reports whether err is SQLite's "database is locked" or "table is locked".
func isBusy(err error) bool {
	var e sqlite3.Error
	if errors.As(err, &e) {
		return e.Code == sqlite3.ErrBusy || e.Code == sqlite3.ErrLocked
	}
	return false
}

// transient reports whether the operation that failed with err may simply run again:
// a lock conflict on SQLite; a serialization failure, a deadlock or a lost connection
// on PostgreSQL.
func (s *Store) transient(err error) bool {
	if s.d == postgresDialect {
		return pgTransient(err)
	}
	return isBusy(err)
}

// retry runs op until it succeeds, fails with something other than a transient
// failure (see [Store.transient]), the context ends or the store's lock wait is over.
func (s *Store) retry(ctx context.Context, op func() error) error {
	deadline := time.Now().Add(s.cfg.lockWait)
	delay := time.Millisecond
	for {
		err := op()
		if err == nil || !s.transient(err) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("studies: %s: gave up after retrying for %v: %w", s.path, s.cfg.lockWait, err)
		}
		t := time.NewTimer(delay/2 + rand.N(delay))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("studies: %s: %w (while waiting for a lock)", s.path, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, 64*time.Millisecond)
	}
}

// write runs fn in one write transaction (BEGIN IMMEDIATE), retried as a whole on lock
// conflicts; fn must therefore not keep state from an earlier attempt.
func (s *Store) write(ctx context.Context, fn func(tx *txn) error) error {
	if s.closed.Load() {
		return fmt.Errorf("%w: %s", ErrClosed, s.path)
	}
	if s.w == nil {
		return fmt.Errorf("%w: %s", ErrReadOnly, s.path)
	}
	return s.retry(ctx, func() error {
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return s.wrapSQL(err)
		}
		defer tx.Rollback()
		if err := fn(&txn{tx: tx, d: s.d}); err != nil {
			return s.wrapSQL(err)
		}
		return s.wrapSQL(tx.Commit())
	})
}

// exec runs one statement on its own (it is its own transaction), retried as write
// is, and returns how many rows it changed. A one-statement write this way costs one
// round trip to a PostgreSQL server instead of three.
func (s *Store) exec(ctx context.Context, query string, args ...any) (int64, error) {
	if s.closed.Load() {
		return 0, fmt.Errorf("%w: %s", ErrClosed, s.path)
	}
	if s.w == nil {
		return 0, fmt.Errorf("%w: %s", ErrReadOnly, s.path)
	}
	var n int64
	err := s.retry(ctx, func() error {
		res, err := s.w.ExecContext(ctx, s.d.rebind(query), s.d.args(args)...)
		if err != nil {
			return s.wrapSQL(err)
		}
		n, err = res.RowsAffected()
		return s.wrapSQL(err)
	})
	return n, err
}

// read runs fn in one read transaction, so its queries see one snapshot (on
// PostgreSQL a read-only REPEATABLE READ transaction).
func (s *Store) read(ctx context.Context, fn func(tx *txn) error) error {
	if s.closed.Load() {
		return fmt.Errorf("%w: %s", ErrClosed, s.path)
	}
	var opts *sql.TxOptions
	if s.d == postgresDialect {
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	return s.retry(ctx, func() error {
		tx, err := s.r.BeginTx(ctx, opts)
		if err != nil {
			return s.wrapSQL(err)
		}
		defer tx.Rollback()
		if err := fn(&txn{tx: tx, d: s.d}); err != nil {
			return s.wrapSQL(err)
		}
		return s.wrapSQL(tx.Commit())
	})
}

// wrapSQL gives SQLite failures that name no path the database's path and turns the
// ones with a meaning of their own into this package's sentinels.
func (s *Store) wrapSQL(err error) error {
	if err == nil {
		return nil
	}
	if s.d == postgresDialect {
		return s.wrapPG(err)
	}
	var e sqlite3.Error
	if !errors.As(err, &e) {
		return err
	}
	switch e.Code {
	case sqlite3.ErrNotADB:
		return fmt.Errorf("%w: %s (%v)", ErrNotSQLite, s.path, err)
	case sqlite3.ErrReadonly:
		return fmt.Errorf("%w: %s (%v)", ErrReadOnly, s.path, err)
	case sqlite3.ErrBusy, sqlite3.ErrLocked:
		return err // retried by the caller
	}
	return fmt.Errorf("studies: %s: %w", s.path, err)
}
