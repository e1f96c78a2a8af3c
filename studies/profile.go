package studies

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// SaveProfile stores a calibration profile (a machine description and a JSON payload)
// and returns its id.
func (s *Store) SaveProfile(ctx context.Context, machine string, payload json.RawMessage) (int64, error) {
	if len(payload) == 0 || !json.Valid(payload) {
		return 0, invalidf("calibration profile payload is not valid JSON")
	}
	var id int64
	err := s.write(ctx, func(tx *txn) error {
		return tx.QueryRowContext(ctx, "INSERT INTO profiles (machine, created, payload) VALUES (?, ?, ?) RETURNING id",
			machine, s.now().UnixNano(), string(payload)).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("save calibration profile: %w", err)
	}
	return id, nil
}

// LatestProfile returns the most recently saved calibration profile, or [ErrNoProfile].
func (s *Store) LatestProfile(ctx context.Context) (Profile, error) {
	return s.profile(ctx, "ORDER BY id DESC LIMIT 1")
}

// NewestProfile returns the id and payload of the newest calibration profile, with ok
// false when the store holds none. It is LatestProfile in plain types, so that packages
// which must not import studies (fhe/calibration) can declare it in an interface.
func (s *Store) NewestProfile(ctx context.Context) (id int64, payload []byte, ok bool, err error) {
	p, err := s.LatestProfile(ctx)
	switch {
	case errors.Is(err, ErrNoProfile):
		return 0, nil, false, nil
	case err != nil:
		return 0, nil, false, err
	}
	return p.ID, p.Payload, true, nil
}

// Profile returns the calibration profile with that id, or [ErrNoProfile].
func (s *Store) Profile(ctx context.Context, id int64) (Profile, error) {
	return s.profile(ctx, "WHERE id = ?", id)
}

func (s *Store) profile(ctx context.Context, tail string, args ...any) (Profile, error) {
	var p Profile
	err := s.read(ctx, func(tx *txn) error {
		var (
			created int64
			payload string
		)
		err := tx.QueryRowContext(ctx, "SELECT id, machine, created, payload FROM profiles "+tail, args...).
			Scan(&p.ID, &p.Machine, &created, &payload)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w in %s", ErrNoProfile, s.path)
		}
		if err != nil {
			return err
		}
		p.Created = time.Unix(0, created).UTC()
		p.Payload = json.RawMessage(payload)
		return nil
	})
	return p, err
}
