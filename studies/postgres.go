package studies

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// pgPoolSize bounds the connections one store opens to a PostgreSQL server. Every
// operation is one short transaction, so a few connections serve many goroutines.
const pgPoolSize = 8

// pgConnectTimeout bounds one connection attempt when the URL sets no connect_timeout,
// so that an unreachable host fails in seconds instead of the system's minutes.
const pgConnectTimeout = 10 * time.Second

// IsPostgresURL reports whether a --db value names a PostgreSQL database: it starts
// with postgres:// or postgresql://. Every other value is an SQLite file path.
func IsPostgresURL(db string) bool {
	l := strings.ToLower(db)
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
}

// RedactURL returns a PostgreSQL URL without its password (in the user part or as a
// password query parameter), for messages and logs; other values come back as they
// are. A URL that does not parse is reduced to its scheme.
func RedactURL(db string) string {
	if !IsPostgresURL(db) {
		return db
	}
	u, err := url.Parse(db)
	if err != nil {
		scheme, _, _ := strings.Cut(db, "://")
		return scheme + "://(unparsable URL)"
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	if q := u.Query(); q.Has("password") {
		q.Del("password")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// openPostgres connects to the PostgreSQL database of the URL, checks its schema and
// creates or migrates it (unless cfg.mustExist). Nothing is written before the server
// accepted the login and the schema was found usable.
func openPostgres(ctx context.Context, rawURL string, cfg config) (*Store, error) {
	shown := RedactURL(rawURL)
	pc, err := pgx.ParseConfig(rawURL)
	if err != nil {
		var pe *pgconn.ParseConfigError
		if errors.As(err, &pe) && pe.Unwrap() != nil {
			return nil, invalidf("PostgreSQL URL %s: %v", shown, oneLine(pe.Unwrap()))
		}
		return nil, invalidf("PostgreSQL URL %s does not parse", shown)
	}
	if pc.ConnectTimeout == 0 {
		pc.ConnectTimeout = pgConnectTimeout
	}
	// The store's statements are short lookups by key whose best plan does not depend
	// on the values bound; a generic plan spares the server from planning again at each
	// execution (the hot-path statements take milliseconds to plan). A URL that sets
	// plan_cache_mode keeps its own.
	if _, ok := pc.RuntimeParams["plan_cache_mode"]; !ok {
		pc.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	}
	db := stdlib.OpenDB(*pc)
	db.SetMaxOpenConns(pgPoolSize)
	db.SetMaxIdleConns(pgPoolSize)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{path: shown, d: postgresDialect, cfg: cfg, w: db, r: db}
	if err := db.PingContext(ctx); err != nil {
		s.Close()
		return nil, connectError(shown, err)
	}
	if err := s.initPostgres(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// connectError describes a failed connection in one line that names the URL without
// its password: a refused login ([ErrLogin]) or a server that cannot be reached
// ([ErrConnect]).
func connectError(shown string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "28"), pe.Code == "3D000", pe.Code == "42501":
			// invalid authorization, no such database, no privilege to connect
			return fmt.Errorf("%w: %s: %s (SQLSTATE %s)", ErrLogin, shown, oneLine(errors.New(pe.Message)), pe.Code)
		}
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) && ce.Unwrap() != nil {
		err = ce.Unwrap()
		if j, ok := err.(interface{ Unwrap() []error }); ok && len(j.Unwrap()) > 0 {
			err = j.Unwrap()[0] // the same failure per attempt (TLS, then plain): say it once
		}
	}
	return fmt.Errorf("%w: %s: %s", ErrConnect, shown, oneLine(err))
}

// oneLine flattens a (possibly multi-line) error message into one line.
func oneLine(err error) string {
	f := strings.Fields(err.Error())
	return strings.Join(f, " ")
}

// pgTransient reports whether a PostgreSQL operation that failed with err may run
// again as a whole: a serialization failure (SQLSTATE 40001), a deadlock (40P01), a
// server shutting down or terminating the connection (class 57P), a connection
// failure (class 08), or a connection that broke (EOF, reset, a connection the pool
// found dead). A transaction that failed this way either committed nothing or, when
// its COMMIT was lost with the connection, is seen committed by the next attempt,
// whose checks of the trial's state then refuse the second write.
func pgTransient(err error) bool {
	if err == nil {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01" || strings.HasPrefix(pe.Code, "08") ||
			strings.HasPrefix(pe.Code, "57P")
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ne net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) ||
		errors.As(err, &ne) || pgconn.SafeToRetry(err) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, pgconn.ErrConnClosed)
}

// wrapPG gives PostgreSQL failures the database's URL (without password); transient
// ones keep their error chain, so that retry sees them.
func (s *Store) wrapPG(err error) error {
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe) && pe.Code == "25006": // read_only_sql_transaction
		return fmt.Errorf("%w: %s (%v)", ErrReadOnly, s.path, oneLine(err))
	case pe != nil || pgTransient(err):
		return fmt.Errorf("studies: %s: %w", s.path, err)
	}
	return err
}
