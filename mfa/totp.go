package mfa

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"image/png"
	"net/url"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/foyerdev/foyer/storage"
)

// TOTP per RFC 6238 with the parameters every authenticator app supports:
// SHA-1, 6 digits, 30-second steps, 160-bit secrets (TO-04).
const (
	totpPeriod     = 30
	totpDigits     = otp.DigitsSix
	totpSecretSize = 20
)

// totpEnrolment is a new secret to show: its otpauth:// URI, as a QR code
// image (a data: URL) and as text.
type totpEnrolment struct {
	Secret string
	QR     string // data:image/png;base64,…
}

// newTOTPSecret draws a secret for email and renders its QR code.
func (s *Service) newTOTPSecret(email string) (totpEnrolment, error) {
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: s.totpIssuer(), AccountName: email, Period: totpPeriod,
		SecretSize: totpSecretSize, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return totpEnrolment{}, err
	}
	return enrolmentOf(key)
}

// totpIssuer names Foyer in the app: "Foyer (id.example.com)".
func (s *Service) totpIssuer() string {
	u, _ := url.Parse(s.o.Issuer)
	return "Foyer (" + u.Host + ")"
}

// enrolmentOf shows an existing secret again (after a wrong first code).
func (s *Service) enrolmentOf(email, secret string) (totpEnrolment, error) {
	q := url.Values{"secret": {secret}, "issuer": {s.totpIssuer()}, "period": {"30"}, "digits": {"6"}, "algorithm": {"SHA1"}}
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + s.totpIssuer() + ":" + email, RawQuery: q.Encode()}
	key, err := otp.NewKeyFromURL(u.String())
	if err != nil {
		return totpEnrolment{}, err
	}
	return enrolmentOf(key)
}

func enrolmentOf(key *otp.Key) (totpEnrolment, error) {
	img, err := key.Image(240, 240)
	if err != nil {
		return totpEnrolment{}, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return totpEnrolment{}, err
	}
	return totpEnrolment{Secret: key.Secret(),
		QR: "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())}, nil
}

// totpStep returns the time step of a code that is valid for secret at
// now, the current step or one either side (TO-03: the server's clock,
// ±1 step); ok=false when none matches.
func totpStep(secret, code string, now time.Time) (step int64, ok bool) {
	code = strings.Join(strings.Fields(code), "")
	if len(code) != int(totpDigits) || strings.Trim(code, "0123456789") != "" {
		return 0, false
	}
	current := now.Unix() / totpPeriod
	for _, st := range []int64{current - 1, current, current + 1} {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(st*totpPeriod, 0), totp.ValidateOpts{
			Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1,
		})
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return st, true
		}
	}
	return 0, false
}

// templateURL marks a data: URL this package built as safe for an img src.
func templateURL(dataURL string) template.URL {
	if !strings.HasPrefix(dataURL, "data:image/png;base64,") {
		return ""
	}
	return template.URL(dataURL) // #nosec: our own PNG, base64
}

// sealContext binds a sealed TOTP secret to its user.
func sealContext(userID string) string { return "foyer totp secret v1 " + userID }

// startTOTP stores a new, unconfirmed secret for the user (replacing an
// unconfirmed one) and returns it to show. storage.ErrConflict when the
// user already has a confirmed factor.
func (s *Service) startTOTP(ctx context.Context, u storage.User) (totpEnrolment, error) {
	e, err := s.newTOTPSecret(u.Email)
	if err != nil {
		return e, err
	}
	err = s.o.Store.SaveTOTPFactor(ctx, storage.TOTPFactor{
		UserID: u.ID, SealedSecret: s.o.Sealer.Seal([]byte(e.Secret), sealContext(u.ID)), CreatedAt: s.o.Now(),
	})
	return e, err
}

// errNoPendingSecret: the user has no unconfirmed secret to show again.
var errNoPendingSecret = errors.New("no authenticator app being set up")

// pendingEnrolment shows the user's unconfirmed secret again.
func (s *Service) pendingEnrolment(ctx context.Context, u storage.User) (totpEnrolment, error) {
	f, err := s.o.Store.GetTOTPFactor(ctx, u.ID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && !f.ConfirmedAt.IsZero()) {
		return totpEnrolment{}, errNoPendingSecret
	}
	if err != nil {
		return totpEnrolment{}, err
	}
	secret, err := s.o.Sealer.Open(f.SealedSecret, sealContext(u.ID))
	if err != nil {
		return totpEnrolment{}, err
	}
	return s.enrolmentOf(u.Email, string(secret))
}

// errWrongCode is a code that is not valid now, or was used already.
var errWrongCode = errors.New("wrong or used code")

// checkTOTP checks code against the user's factor (confirmed or, with
// enrolling, not) and records its step, so it is refused if replayed
// (TO-01). Attempts count against the account's lockout (TO-02): refused
// ones get a ratelimit decision with RetryAfter; errWrongCode otherwise.
func (s *Service) checkTOTP(ctx context.Context, userID, code string, enrolling bool) (retry time.Duration, err error) {
	d, err := s.o.Limiter.Attempt(ctx, s.o.Policies.TOTPAccount, userID)
	if err != nil {
		return 0, err
	}
	if !d.Allowed {
		return max(d.RetryAfter, time.Second), nil
	}
	f, err := s.o.Store.GetTOTPFactor(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && f.ConfirmedAt.IsZero() != enrolling) {
		return 0, errWrongCode
	}
	if err != nil {
		return 0, err
	}
	secret, err := s.o.Sealer.Open(f.SealedSecret, sealContext(userID))
	if err != nil {
		return 0, fmt.Errorf("open totp secret: %w", err)
	}
	step, ok := totpStep(string(secret), code, s.o.Now())
	if !ok {
		return 0, errWrongCode
	}
	if _, err := s.o.Store.UseTOTPStep(ctx, userID, step, s.o.Now()); errors.Is(err, storage.ErrConflict) {
		return 0, errWrongCode
	} else if err != nil {
		return 0, err
	}
	if err := s.o.Limiter.Success(ctx, s.o.Policies.TOTPAccount, userID); err != nil {
		s.o.Logger.WarnContext(ctx, "clear totp failures", "err", err)
	}
	return 0, nil
}
