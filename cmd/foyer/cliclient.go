package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"

	"github.com/foyerdev/foyer/admin"
	"github.com/foyerdev/foyer/authz/clients"
	"github.com/foyerdev/foyer/storage"
)

// cliClientID is the built-in public client of foyer login: the device
// authorization grant (RFC 8628) and refresh tokens, no secret, no
// redirect URIs.
const cliClientID = "foyer-cli"

// cliClient is what the server registers as foyer-cli on its first start.
func cliClient() clients.NewClient {
	return clients.NewClient{
		ID:         cliClientID,
		Name:       "Foyer CLI",
		Public:     true, // token_endpoint_auth_method none
		GrantTypes: []string{clients.GrantDeviceCode, clients.GrantRefreshToken},
		Scopes:     []string{"openid", "profile", "email", "offline_access", "org", "orgs", admin.Scope},
		FirstParty: true,
	}
}

// ensureCLIClient registers the built-in client foyer-cli unless it
// exists. An existing one is left as it is, whatever the operator changed
// in it (or if they deleted and re-made it). Two instances starting at once
// may both try: the loser's "already exists" is success.
func ensureCLIClient(ctx context.Context, store storage.Clients, log *slog.Logger) error {
	_, err := store.GetClient(ctx, cliClientID)
	if err == nil {
		return nil
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("built-in client %s: %w", cliClientID, err)
	}
	// The registrar's Create wants a secret hasher even though a public
	// client has no secret to hash; one with a throwaway key is never used,
	// and would make any secret unverifiable if it were.
	hasher := clients.NewSecretHasher([]byte(rand.Text()))
	_, secret, err := clients.NewRegistrar(store, hasher, nil).Create(ctx, cliClient())
	if errors.Is(err, storage.ErrAlreadyExists) {
		return nil // another instance was first
	}
	if err != nil {
		return fmt.Errorf("built-in client %s: %w", cliClientID, err)
	}
	if secret != "" {
		return fmt.Errorf("built-in client %s: registered with a secret, want a public client", cliClientID)
	}
	log.Info("registered the built-in client", "client_id", cliClientID)
	return nil
}
