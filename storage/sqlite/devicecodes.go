package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/foyerdev/foyer/storage"
)

// A pending code has a NULL user_id; DeviceCode.UserID is empty for it.
const deviceCodeColumns = `device_code_hash, user_code_hash, client_id, scopes, status,
	COALESCE(user_id, ''), session, interval_us, last_polled_at, created_at, expires_at`

func scanDeviceCode(row scanner) (storage.DeviceCode, error) {
	var (
		d          storage.DeviceCode
		intervalUS int64
	)
	err := row.Scan(&d.DeviceCodeHash, &d.UserCodeHash, &d.ClientID, listColumn{&d.Scopes}, &d.Status,
		&d.UserID, &d.Session, &intervalUS, nullTimeColumn{&d.LastPolledAt},
		timeColumn{&d.CreatedAt}, timeColumn{&d.ExpiresAt})
	d.Interval = time.Duration(intervalUS) * time.Microsecond
	return d, dbError(err, storage.ErrNotFound)
}

// CreateDeviceCode stores d. ErrAlreadyExists when either hash is taken;
// an unknown client (or user) fails the foreign key: ErrNotFound. Hashes
// stay out of error messages.
func (s *Store) CreateDeviceCode(ctx context.Context, d storage.DeviceCode) error {
	_, err := s.q(ctx).ExecContext(ctx, `
		INSERT INTO device_codes (device_code_hash, user_code_hash, client_id, scopes, status,
			user_id, session, interval_us, last_polled_at, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, NULLIF(?, ''), ?, ?, ?, ?, ?)`,
		d.DeviceCodeHash, d.UserCodeHash, d.ClientID, encodeList(d.Scopes), string(d.Status),
		d.UserID, d.Session, d.Interval.Microseconds(), nullTime(d.LastPolledAt),
		formatTime(d.CreatedAt), formatTime(d.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create device code of client %s: %w", d.ClientID, dbError(err, storage.ErrNotFound))
	}
	return nil
}

// GetDeviceCodeByUserCode keeps the hash out of error messages.
func (s *Store) GetDeviceCodeByUserCode(ctx context.Context, userCodeHash string) (storage.DeviceCode, error) {
	d, err := scanDeviceCode(s.q(ctx).QueryRowContext(ctx,
		`SELECT `+deviceCodeColumns+` FROM device_codes WHERE user_code_hash = ?`, userCodeHash))
	if err != nil {
		return storage.DeviceCode{}, fmt.Errorf("get device code by user code: %w", err)
	}
	return d, nil
}

// UpdateDeviceCode applies update to the stored code under the write lock
// (BEGIN IMMEDIATE, see dsn), so concurrent callers run one after the
// other, each reading what the one before wrote. Only the columns that may
// change are written.
func (s *Store) UpdateDeviceCode(ctx context.Context, deviceCodeHash string, update func(storage.DeviceCode) (storage.DeviceCode, error)) (storage.DeviceCode, error) {
	var out storage.DeviceCode
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := scanDeviceCode(tx.QueryRowContext(ctx,
			`SELECT `+deviceCodeColumns+` FROM device_codes WHERE device_code_hash = ?`, deviceCodeHash))
		if err != nil {
			return err
		}
		d, err := update(old)
		if err != nil {
			return err
		}
		out, err = scanDeviceCode(tx.QueryRowContext(ctx, `
			UPDATE device_codes SET status = ?, user_id = NULLIF(?, ''), session = ?,
				interval_us = ?, last_polled_at = ?
			WHERE device_code_hash = ?
			RETURNING `+deviceCodeColumns,
			string(d.Status), d.UserID, d.Session, d.Interval.Microseconds(), nullTime(d.LastPolledAt),
			deviceCodeHash))
		return err
	})
	if err != nil {
		return storage.DeviceCode{}, fmt.Errorf("update device code: %w", err)
	}
	return out, nil
}

// DeleteExpiredDeviceCodes deletes codes that expired strictly before now,
// in any status.
func (s *Store) DeleteExpiredDeviceCodes(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.q(ctx).ExecContext(ctx, `DELETE FROM device_codes WHERE expires_at < ?`, formatTime(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired device codes: %w", dbError(err, storage.ErrConflict))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired device codes: %w", err)
	}
	return n, nil
}
