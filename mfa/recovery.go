package mfa

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"strings"
	"time"

	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/templates/render"
)

// Recovery codes stand in for the second factor when the person has lost
// it, never for the password (TO-06). Each is 120 random bits, so a keyed
// SHA-256 is as safe as a password hash here, and checking one costs a
// lookup, not ten slow hashes.
const (
	recoveryCodeCount = 10
	recoveryCodeBytes = 15 // 120 bits: 24 base32 letters
	recoveryHashLabel = "foyer recovery code v1"
)

var recoveryEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newRecoveryCodes draws a set of codes, shown as four groups of six
// lowercase letters and digits.
func newRecoveryCodes() []string {
	codes := make([]string, recoveryCodeCount)
	b := make([]byte, recoveryCodeBytes)
	for i := range codes {
		rand.Read(b) // never returns an error (crypto/rand docs)
		c := strings.ToLower(recoveryEncoding.EncodeToString(b))
		codes[i] = c[:6] + "-" + c[6:12] + "-" + c[12:18] + "-" + c[18:]
	}
	return codes
}

// normalizeRecoveryCode reads a code as typed: any case, dashes and spaces
// anywhere. ok=false when it cannot be a code.
func normalizeRecoveryCode(typed string) (string, bool) {
	if len(typed) > 100 {
		return "", false
	}
	var b strings.Builder
	for _, r := range strings.ToUpper(typed) {
		switch {
		case r == '-' || r == ' ' || r == '\t':
		case r >= 'A' && r <= 'Z' || r >= '2' && r <= '7':
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	if b.Len() != 24 {
		return "", false
	}
	return b.String(), true
}

func (s *Service) recoveryHash(normalized string) string {
	return s.keyedHash(recoveryHashLabel, normalized)
}

// replaceRecoveryCodes gives the user a new set and returns it to show
// once; the old set stops working.
func (s *Service) replaceRecoveryCodes(ctx context.Context, userID string) ([]string, error) {
	codes := newRecoveryCodes()
	hashes := make([]string, len(codes))
	for i, c := range codes {
		n, _ := normalizeRecoveryCode(c)
		hashes[i] = s.recoveryHash(n)
	}
	return codes, s.o.Store.ReplaceRecoveryCodes(ctx, userID, hashes, s.o.Now())
}

// useRecoveryCode spends one of the user's codes and returns how many are
// left; errWrongCode for a wrong or used code. Attempts count against the
// same lockout as TOTP codes.
func (s *Service) useRecoveryCode(ctx context.Context, userID, typed string) (remaining int, retry time.Duration, err error) {
	d, err := s.o.Limiter.Attempt(ctx, s.o.Policies.TOTPAccount, userID)
	if err != nil {
		return 0, 0, err
	}
	if !d.Allowed {
		return 0, max(d.RetryAfter, time.Second), nil
	}
	n, ok := normalizeRecoveryCode(typed)
	if !ok {
		return 0, 0, errWrongCode
	}
	remaining, err = s.o.Store.UseRecoveryCode(ctx, userID, s.recoveryHash(n), s.o.Now())
	if errors.Is(err, storage.ErrNotFound) {
		return 0, 0, errWrongCode
	}
	if err != nil {
		return 0, 0, err
	}
	if err := s.o.Limiter.Success(ctx, s.o.Policies.TOTPAccount, userID); err != nil {
		s.o.Logger.WarnContext(ctx, "clear totp failures", "err", err)
	}
	s.notify(ctx, userID, render.SignInMethodsChangedEmail{Change: render.RecoveryCodeUsed, RecoveryCodesLeft: remaining})
	return remaining, 0, nil
}
