package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/foyerdev/foyer/admin"
	"github.com/foyerdev/foyer/audit"
	"github.com/foyerdev/foyer/authz/keys"
	"github.com/foyerdev/foyer/config"
	"github.com/foyerdev/foyer/storage"
)

// encryptionKeyFile holds the generated encryption key of a --dev server.
const encryptionKeyFile = "encryption.key"

// clockLeeway is added to token lifetimes before a retired key may go, so a
// verifier whose clock runs behind still finds it (F5).
const clockLeeway = 5 * time.Minute

// newKeyManager builds the signing-key manager from configuration and the
// encryption key (see encryptionKey), recording nothing in the audit log.
func newKeyManager(cfg config.Config, key []byte, store storage.Keys, log *slog.Logger, onTransition func(keys.Transition)) (*keys.Manager, error) {
	return newAuditedKeyManager(cfg, key, store, log, onTransition, nil)
}

// newAuditedKeyManager is newKeyManager recording its scheduled rotations
// with rec (serve's).
func newAuditedKeyManager(cfg config.Config, key []byte, store storage.Keys, log *slog.Logger, onTransition func(keys.Transition), rec *audit.Recorder) (*keys.Manager, error) {
	cipher, err := keys.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secrets.encryption_key: %w", err)
	}
	return keys.New(keys.Options{
		Store:          store,
		Cipher:         cipher,
		Algorithm:      cfg.Keys.Algorithm,
		RotationPeriod: cfg.Keys.RotationPeriod,
		Prepublish:     cfg.Keys.Prepublish,
		Retention:      max(cfg.Tokens.AccessTokenTTL, cfg.Tokens.IDTokenTTL) + clockLeeway,
		Logger:         log,
		OnTransition:   onTransition,
		Audit:          rec,
	}), nil
}

// encryptionKey returns the key that seals secrets at rest: from
// secrets.encryption_key, else from the data directory, where --dev creates
// it (generate=true).
func encryptionKey(cfg config.Config, generate bool, log *slog.Logger) ([]byte, error) {
	key, err := cfg.Secrets.Key()
	if err != nil || key != nil {
		return key, err
	}
	path := filepath.Join(cfg.Database.DataDir, encryptionKeyFile)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
		if err != nil || len(key) != 32 {
			return nil, fmt.Errorf("%s: not 32 bytes in base64; restore it or set secrets.encryption_key", path)
		}
		return key, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read %s: %w", path, err)
	case !generate:
		return nil, errors.New("secrets.encryption_key: not set (FOYER_ENCRYPTION_KEY: 32 random bytes in base64, e.g. `openssl rand -base64 32`)")
	}
	key = make([]byte, 32)
	rand.Read(key) // never returns an error (crypto/rand docs)
	if err := os.MkdirAll(cfg.Database.DataDir, 0o700); err != nil {
		return nil, err
	}
	// O_EXCL: two dev servers starting at once must not each write a key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return encryptionKey(cfg, false, log)
	}
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	defer f.Close()
	if _, err := fmt.Fprintln(f, base64.StdEncoding.EncodeToString(key)); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	log.Warn("generated an encryption key for --dev; production sets secrets.encryption_key", "path", path)
	return key, nil
}

func (a *app) keysCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage token-signing keys"}
	cmd.AddCommand(a.keysListCommand(), a.keysRotateCommand(), a.keysRevokeCommand())
	return cmd
}

// keyManager opens the store and a key manager for a one-shot command.
func (a *app) keyManager(cmd *cobra.Command) (*keys.Manager, storage.Store, func(), error) {
	cfg, store, err := a.commandStore(cmd)
	if err != nil {
		return nil, nil, nil, err
	}
	log := a.commandLogger()
	key, err := encryptionKey(cfg, false, log)
	if err != nil {
		store.Close()
		return nil, nil, nil, err
	}
	m, err := newKeyManager(cfg, key, store, log, nil)
	if err != nil {
		store.Close()
		return nil, nil, nil, err
	}
	return m, store, func() { store.Close() }, nil
}

func (a *app) keysListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List signing keys and their states",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, _, done, err := a.keyManager(cmd)
			if err != nil {
				return err
			}
			defer done()
			stored, err := m.List(cmd.Context())
			if err != nil {
				return err
			}
			return a.printKeys(stored)
		},
	}
}

func (a *app) keysRotateCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "rotate [--force]",
		Short: "Retire the signing key now; the published next key takes over",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, store, done, err := a.keyManager(cmd)
			if err != nil {
				return err
			}
			defer done()
			before, err := m.List(cmd.Context())
			if err != nil {
				return err
			}
			if err := m.Rotate(cmd.Context(), force); err != nil {
				return err
			}
			a.recordRotation(cmd.Context(), store, m, before, force)
			return a.printCurrent(m)
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "rotate even if the next key was published too recently for every verifier to have it")
	return cmd
}

func (a *app) keysRevokeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke KID",
		Short: "Withdraw a compromised key from the JWKS at once; tokens it signed stop verifying",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, store, done, err := a.keyManager(cmd)
			if err != nil {
				return err
			}
			defer done()
			ctx := cmd.Context()
			before, err := m.List(ctx)
			if err != nil {
				return err
			}
			if err := m.Revoke(ctx, args[0]); err != nil {
				if errors.Is(err, storage.ErrNotFound) {
					return fmt.Errorf("kid: no signing key %q", args[0])
				}
				return err
			}
			a.recordRevocation(ctx, store, m, args[0], before)
			return a.printCurrent(m)
		},
	}
}

// recordRotation records `foyer keys rotate` in the audit log: the key
// retired by it (on a fresh database, the one it made first) and the key
// active now. The rotation is done whatever happens here, so a failure to
// record is a warning on stderr, not a failed command.
func (a *app) recordRotation(ctx context.Context, store storage.AuditLog, m *keys.Manager, before []storage.SigningKey, force bool) {
	var retired, activated string
	if set, err := m.Current(); err == nil {
		for _, k := range set.Keys() {
			wasRetired := slices.ContainsFunc(before, func(b storage.SigningKey) bool { return b.ID == k.ID && b.State == storage.KeyRetired })
			switch {
			case k.State == storage.KeyActive:
				activated = k.ID
			case k.State == storage.KeyRetired && !wasRetired:
				retired = k.ID
			}
		}
	}
	e := cliEntry(audit.KeyRotated, "signing_key", activated, "")
	e.Details = audit.Details(map[string]any{"retired_kid": retired, "activated_kid": activated, "force": force})
	err := audit.New(store, time.Now, nil).Record(ctx, e)
	if err != nil {
		fmt.Fprintf(a.stderr, "foyer: warning: the key was rotated, but the audit log could not record it: %v\n", err)
	}
}

// recordRevocation records `foyer keys revoke` as the admin API records
// DELETE /keys/{kid}: admin.key.revoked with each kid's state before and
// after. The key manager revokes in a transaction of its own (a state
// machine safe across instances), so the entry follows its success, and,
// as for a rotation, a failure to record is a warning: the key is gone
// whatever happens here, and bringing it back would be worse.
func (a *app) recordRevocation(ctx context.Context, store storage.AuditLog, m *keys.Manager, kid string, before []storage.SigningKey) {
	after, err := m.List(ctx)
	if err == nil {
		err = recordCLI(ctx, store, cliEntry(admin.AuditKeyRevoked, admin.TargetKey, kid, ""),
			admin.KeyAuditStates(before), admin.KeyAuditStates(after))
	}
	if err != nil {
		fmt.Fprintf(a.stderr, "foyer: warning: the key was revoked, but the audit log could not record it: %v\n", err)
	}
}

// signingKey is the CLI's view of a key: never the sealed private part.
type signingKey struct {
	KID         string     `json:"kid"`
	Algorithm   string     `json:"alg"`
	State       string     `json:"state"`
	CreatedAt   time.Time  `json:"created_at"`
	ActivatedAt *time.Time `json:"activated_at,omitempty"`
	RetiredAt   *time.Time `json:"retired_at,omitempty"`
	RemoveAfter *time.Time `json:"remove_after,omitempty"`
}

func (a *app) printCurrent(m *keys.Manager) error {
	set, err := m.Current()
	if err != nil {
		return err
	}
	return a.printKeys(set.Keys())
}

func (a *app) printKeys(stored []storage.SigningKey) error {
	out := []signingKey{}
	var text strings.Builder
	for _, k := range stored {
		out = append(out, signingKey{
			KID: k.ID, Algorithm: k.Algorithm, State: string(k.State), CreatedAt: k.CreatedAt,
			ActivatedAt: optional(k.ActivatedAt), RetiredAt: optional(k.RetiredAt), RemoveAfter: optional(k.RemoveAfter),
		})
		fmt.Fprintf(&text, "%-43s  %-5s  %-7s  published %s\n", k.ID, k.Algorithm, k.State, k.CreatedAt.Format(time.RFC3339))
	}
	return a.print(out, strings.TrimSuffix(text.String(), "\n"))
}

func optional(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
