package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/foyerdev/foyer/storage"
	"github.com/jackc/pgx/v5"
)

// A pending code has a NULL user_id; DeviceCode.UserID is empty for it.
const deviceCodeColumns = `device_code_hash, user_code_hash, client_id, scopes, status,
	coalesce(user_id, ''), session, interval_us, last_polled_at, created_at, expires_at`

func scanDeviceCode(row pgx.Row) (storage.DeviceCode, error) {
	var (
		d          storage.DeviceCode
		intervalUS int64
		lastPolled *time.Time
	)
	if err := row.Scan(&d.DeviceCodeHash, &d.UserCodeHash, &d.ClientID, &d.Scopes, &d.Status,
		&d.UserID, &d.Session, &intervalUS, &lastPolled, &d.CreatedAt, &d.ExpiresAt); err != nil {
		return storage.DeviceCode{}, err
	}
	d.Interval = time.Duration(intervalUS) * time.Microsecond
	d.LastPolledAt, d.CreatedAt, d.ExpiresAt = orZero(lastPolled), d.CreatedAt.UTC(), d.ExpiresAt.UTC()
	return d, nil
}

// CreateDeviceCode stores d. ErrAlreadyExists when either hash is taken;
// an unknown client (or user) fails the foreign key: ErrNotFound. Hashes
// stay out of error messages.
func (s *Store) CreateDeviceCode(ctx context.Context, d storage.DeviceCode) error {
	_, err := s.q(ctx).Exec(ctx, `
		INSERT INTO device_codes (device_code_hash, user_code_hash, client_id, scopes, status,
			user_id, session, interval_us, last_polled_at, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''), $7, $8, $9, $10, $11)`,
		d.DeviceCodeHash, d.UserCodeHash, d.ClientID, nonNil(d.Scopes), d.Status,
		d.UserID, d.Session, d.Interval.Microseconds(), nullTimestamp(d.LastPolledAt),
		timestamp(d.CreatedAt), timestamp(d.ExpiresAt))
	return mapError(fmt.Sprintf("create device code of client %q", d.ClientID), err)
}

// GetDeviceCodeByUserCode keeps the hash out of error messages.
func (s *Store) GetDeviceCodeByUserCode(ctx context.Context, userCodeHash string) (storage.DeviceCode, error) {
	d, err := scanDeviceCode(s.q(ctx).QueryRow(ctx,
		`SELECT `+deviceCodeColumns+` FROM device_codes WHERE user_code_hash = $1`, userCodeHash))
	return d, mapError("get device code by user code", err)
}

// UpdateDeviceCode locks the code's row (FOR UPDATE), applies update and
// writes the columns that may change. Concurrent callers queue on the lock,
// and under READ COMMITTED each later one reads the row the one before
// committed, so of two polls of an approved code only one sees it
// approved. update may run more than once (see inTx).
func (s *Store) UpdateDeviceCode(ctx context.Context, deviceCodeHash string, update func(storage.DeviceCode) (storage.DeviceCode, error)) (storage.DeviceCode, error) {
	var out storage.DeviceCode
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		old, err := scanDeviceCode(tx.QueryRow(ctx,
			`SELECT `+deviceCodeColumns+` FROM device_codes WHERE device_code_hash = $1 FOR UPDATE`, deviceCodeHash))
		if err != nil {
			return err
		}
		d, err := update(old)
		if err != nil {
			return callbackError{err}
		}
		out, err = scanDeviceCode(tx.QueryRow(ctx, `
			UPDATE device_codes SET status = $2, user_id = NULLIF($3, ''), session = $4,
				interval_us = $5, last_polled_at = $6
			WHERE device_code_hash = $1
			RETURNING `+deviceCodeColumns,
			deviceCodeHash, d.Status, d.UserID, d.Session, d.Interval.Microseconds(), nullTimestamp(d.LastPolledAt)))
		return err
	})
	return out, mapError("update device code", err)
}

// DeleteExpiredDeviceCodes deletes codes that expired strictly before now,
// in any status.
func (s *Store) DeleteExpiredDeviceCodes(ctx context.Context, now time.Time) (int64, error) {
	tag, err := s.q(ctx).Exec(ctx, `DELETE FROM device_codes WHERE expires_at < $1`, timestamp(now))
	if err != nil {
		return 0, mapDeleteError("delete expired device codes", err)
	}
	return tag.RowsAffected(), nil
}
