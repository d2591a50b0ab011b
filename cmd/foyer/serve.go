package main

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/spf13/cobra"

	"github.com/foyerdev/foyer/admin"
	"github.com/foyerdev/foyer/audit"
	"github.com/foyerdev/foyer/authz"
	"github.com/foyerdev/foyer/authz/clients"
	"github.com/foyerdev/foyer/authz/keys"
	"github.com/foyerdev/foyer/cmd/foyer/internal/web"
	"github.com/foyerdev/foyer/config"
	"github.com/foyerdev/foyer/events"
	"github.com/foyerdev/foyer/idp"
	sso "github.com/foyerdev/foyer/idp/saml"
	"github.com/foyerdev/foyer/idp/upstream"
	"github.com/foyerdev/foyer/mail"
	"github.com/foyerdev/foyer/mfa"
	"github.com/foyerdev/foyer/ratelimit"
	"github.com/foyerdev/foyer/session"
	"github.com/foyerdev/foyer/signin"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/templates"
	"github.com/foyerdev/foyer/templates/render"
)

func (a *app) serveCommand() *cobra.Command {
	var dev bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server until SIGINT or SIGTERM",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig(dev)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, newLogger(cfg.Log, a.stderr))
		},
	}
	cmd.Flags().BoolVar(&dev, "dev", false, "developer mode: embedded database, text logs, http allowed")
	return cmd
}

// serve opens the store, listens, and serves until ctx is cancelled.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	store, report, err := openStore(ctx, cfg.Database, log)
	if err != nil {
		return err
	}
	defer store.Close()
	log.Info("database ready", "backend", backendName(cfg.Database),
		"schema_version", report.Version, "migrations_applied", len(report.Applied))
	if err := ensureCLIClient(ctx, store, log); err != nil {
		return err
	}

	s, err := newServer(cfg, log, store)
	if err != nil {
		return err
	}
	// Load (on first start: make) the signing keys before taking traffic.
	if err := s.keys.Refresh(ctx); err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("http.addr: %w", err)
	}
	var adminLn net.Listener
	if cfg.HTTP.AdminAddr != "" {
		if adminLn, err = net.Listen("tcp", cfg.HTTP.AdminAddr); err != nil {
			ln.Close()
			return fmt.Errorf("http.admin_addr: %w", err)
		}
		log.Info("admin API listening", "addr", adminLn.Addr().String())
	}
	log.Info("foyer listening", "addr", ln.Addr().String(), "issuer", cfg.Issuer, "dev", cfg.Dev)
	return s.serve(ctx, ln, adminLn)
}

// server is the wired HTTP engine and what it needs to shut down well.
type server struct {
	log    *slog.Logger
	engine *gin.Engine
	// adminEngine serves the admin API on its own listener when
	// http.admin_addr is set; nil when the admin API is on engine.
	adminEngine *gin.Engine
	ready       *web.Readiness
	keys        *keys.Manager
	provider    *authz.Provider
	mail        *mail.Worker
	events      *events.Worker
	// auditRetention is how long audit entries are kept; auditLog
	// deletes older ones.
	auditRetention  time.Duration
	auditLog        storage.AuditLog
	limiter         *ratelimit.Limiter
	signin          *signin.Service
	mfa             *mfa.Service
	saml            *sso.Service
	upstream        *upstream.Service
	sessions        *session.Manager
	shutdownTimeout time.Duration
	// api is the group for routes that need the database; features mount
	// here and get a 503 at once while the database is away.
	api gin.IRouter
}

func newServer(cfg config.Config, log *slog.Logger, store storage.Store) (*server, error) {
	return newServerWith(cfg, log, store, seams{})
}

// seams let tests look inside the wiring; the zero value is production.
type seams struct {
	// now is the clock of the sign-in pages and their rate limits
	// (default time.Now): tests move it on to see locks and links expire.
	// The outbox keeps the real one: its worker polls by it.
	now func() time.Time
	// accounts, when set, wraps the password check the sign-in pages use
	// (to count the checks).
	accounts func(signin.Accounts) signin.Accounts
	// lookupTXT, when set, answers the admin API's DNS TXT lookups
	// (SAML domain verification).
	lookupTXT func(ctx context.Context, name string) ([]string, error)
	// allowPrivateUpstreams lets organizations' upstream connections call
	// loopback addresses (the test providers) without --dev.
	allowPrivateUpstreams bool
	// auditLog, when set, wraps the audit log the admin API records its
	// changes in (to make a write fail inside the change's transaction).
	auditLog func(storage.AuditLog) storage.AuditLog
}

func newServerWith(cfg config.Config, log *slog.Logger, store storage.Store, seams seams) (*server, error) {
	now := seams.now
	if now == nil {
		now = time.Now
	}
	// recorder writes the security events of every feature to the audit
	// log (issue 9).
	recorder := audit.New(store, now, log)
	metrics := web.NewMetrics()
	transitions := metrics.Counter("foyer_signing_key_transitions_total",
		"Signing key state changes by transition (created, activated, retired, removed, revoked).", "transition")
	key, err := encryptionKey(cfg, cfg.Dev, log)
	if err != nil {
		return nil, err
	}
	km, err := newAuditedKeyManager(cfg, key, store, log, func(t keys.Transition) {
		transitions.WithLabelValues(string(t)).Inc()
	}, recorder)
	if err != nil {
		return nil, err
	}
	pages, err := render.New(templates.FS)
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	sender, devMail, err := mailSender(cfg, log)
	if err != nil {
		return nil, err
	}
	worker, err := mail.NewWorker(mail.WorkerOptions{Outbox: store, Sender: sender, Logger: log, Registerer: metrics.Registerer()})
	if err != nil {
		return nil, err
	}
	eventsWorker, err := newEventsWorker(cfg, store, key, log, metrics.Registerer())
	if err != nil {
		return nil, err
	}
	limiter, err := ratelimit.New(ratelimit.Options{Store: store, HashKey: ratelimit.DeriveKey(key), Now: now})
	if err != nil {
		return nil, err
	}
	emails, err := render.NewEmails(templates.FS)
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	invitationEmails, err := render.NewInvitationEmails(templates.FS)
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	mailer := mail.NewMailer(mail.MailerOptions{Outbox: store, Worker: worker})
	var accounts signin.Accounts = idp.NewDirectory(idp.Options{Store: store})
	if seams.accounts != nil {
		accounts = seams.accounts(accounts)
	}
	sessions := session.New(session.Options{
		Store: store, Secure: strings.HasPrefix(cfg.Issuer, "https://"),
		IdleTimeout: cfg.Sessions.IdleTimeout, AbsoluteTimeout: cfg.Sessions.AbsoluteTimeout,
	})
	provider, err := authz.New(authz.Options{
		Issuer:           cfg.Issuer,
		SigningAlgorithm: cfg.Keys.Algorithm,
		Store:            store,
		Keys:             km,
		Secrets:          clients.NewSecretHasher(clients.DeriveKey(key)),
		HMACSecret:       deriveKey(key, "foyer token hmac v1"),
		Pages:            pages,
		AccessTokenTTL:   cfg.Tokens.AccessTokenTTL,
		IDTokenTTL:       cfg.Tokens.IDTokenTTL,
		Sessions:         sessions,
		Device: authz.DeviceOptions{
			Limiter: limiter, SessionPolicy: ratelimit.DefaultPolicies().DeviceCodeSession, IPPolicy: ratelimit.DefaultPolicies().DeviceCodeIP,
			RequestIPPolicy: ratelimit.DefaultPolicies().DeviceAuthorizationIP,
		},
		Audit:  recorder,
		Logger: log,
		Now:    now,
	})
	if err != nil {
		return nil, err
	}
	cipher, err := keys.NewCipher(deriveKey(key, "foyer mfa seal v1"))
	if err != nil {
		return nil, err
	}
	secondFactor, err := mfa.New(mfa.Options{
		Issuer: cfg.Issuer, RPID: cfg.MFA.RPID, Store: store, Sealer: cipher, Sessions: sessions,
		Authorizations: provider, Limiter: limiter, Policies: ratelimit.DefaultPolicies(),
		CodeKey: deriveKey(key, "foyer mfa code hmac v1"), RequireMFA: cfg.MFA.Required,
		Templates: templates.FS, Mailer: mailer, Emails: emails, Audit: recorder, Logger: log, Now: now,
	})
	if err != nil {
		return nil, err
	}
	spSeal, err := samlSealer(key)
	if err != nil {
		return nil, err
	}
	singleSignOn, err := sso.New(sso.Options{
		Issuer: cfg.Issuer, Store: store, Sealer: spSeal, Sessions: sessions, Authorizations: provider,
		Templates: templates.FS, HandleKey: deriveKey(key, "foyer saml handle hmac v1"), Logger: log, Now: now,
		AllowPrivateMetadata: cfg.Dev, Audit: recorder, Limiter: limiter, StartPolicy: ratelimit.DefaultPolicies().SSOStartIP,
	})
	if err != nil {
		return nil, err
	}
	upSeal, err := upstreamSealer(key)
	if err != nil {
		return nil, err
	}
	logins, err := upstream.New(upstream.Options{
		Issuer: cfg.Issuer, Store: store, Sealer: upSeal, Sessions: sessions, Authorizations: provider,
		SecondFactor: secondFactor, Templates: templates.FS, HandleKey: upstreamHandleKey(key),
		SignupOpen: cfg.Signup.Mode == "open", Static: configuredConnections(cfg.Connections),
		AllowPrivateNetworks: cfg.Dev || seams.allowPrivateUpstreams, Audit: recorder, Logger: log, Now: now,
		Limiter: limiter, StartPolicy: ratelimit.DefaultPolicies().SSOStartIP,
	})
	if err != nil {
		return nil, fmt.Errorf("connections: %w", err)
	}
	signIn, err := signin.New(signin.Options{
		Issuer:         cfg.Issuer,
		Store:          store,
		Accounts:       accounts,
		Authorizations: provider,
		SecondFactor:   secondFactor,
		Passkeys:       secondFactor.PasskeysAvailable(),
		Federation:     singleSignOn,
		Connections:    logins,
		Sessions:       sessions,
		Limiter:        limiter,
		Policies:       ratelimit.DefaultPolicies(),
		Mailer:         mailer,
		Emails:         emails,
		Templates:      templates.FS,
		TokenKey:       oneTimeTokenKey(key),
		SignupMode:     cfg.Signup.Mode,
		Audit:          recorder,
		Logger:         log,
		Now:            now,
	})
	if err != nil {
		return nil, err
	}
	s := &server{
		log:             log,
		engine:          gin.New(),
		ready:           web.NewReadiness(store, log),
		keys:            km,
		provider:        provider,
		mail:            worker,
		events:          eventsWorker,
		auditRetention:  cfg.Audit.Retention,
		auditLog:        store,
		limiter:         limiter,
		signin:          signIn,
		mfa:             secondFactor,
		saml:            singleSignOn,
		upstream:        logins,
		sessions:        sessions,
		shutdownTimeout: cfg.HTTP.ShutdownTimeout,
	}
	e := s.engine
	if err := setUpEngine(e, cfg, log, metrics); err != nil {
		return nil, err
	}

	e.GET("/healthz", web.Healthz)
	e.HEAD("/healthz", web.Healthz)
	e.GET("/readyz", s.ready.Readyz)
	e.GET("/metrics", metrics.Handler())
	// Served from memory: verifiers keep working while the database is away.
	e.GET("/.well-known/jwks.json", authz.JWKS(s.keys))
	if devMail != nil && cfg.Dev {
		// Every message Foyer sent, for a developer without a mail server.
		e.GET("/dev/mailbox", gin.WrapH(devMail.Handler()))
	}
	s.api = e.Group("", s.ready.RequireDatabase())
	// Browser pages replace the API CSP with a nonce-based one per page.
	browser := e.Group("", s.ready.RequireDatabase())
	s.provider.Mount(browser, s.api)
	s.signin.Mount(browser)
	s.mfa.Mount(browser)
	s.saml.Mount(browser)
	logins.Mount(browser)
	adminAPI, err := newAdminAPI(store, provider, km, key, admin.InvitationOptions{
		Issuer: cfg.Issuer, Links: signIn, Mailer: mailer, Emails: invitationEmails, TTL: cfg.Invitations.TTL,
	}, singleSignOn, seams.lookupTXT, log, adminUpstream{logins}, adminHooks{audit: adminRecorder(recorder, store, seams, now, log), allowPrivateWebhooks: cfg.Dev})
	if err != nil {
		return nil, err
	}
	if cfg.HTTP.AdminAddr == "" {
		adminAPI.Mount(s.api)
		return s, nil
	}
	// AD-06: the admin API only on its own listener, which a deployment
	// can keep off the internet; the public one answers it 404.
	s.adminEngine = gin.New()
	if err := setUpEngine(s.adminEngine, cfg, log, metrics); err != nil {
		return nil, err
	}
	adminAPI.Mount(s.adminEngine.Group("", s.ready.RequireDatabase()))
	return s, nil
}

// setUpEngine gives an engine Foyer's middleware: recovery, request IDs,
// security headers, metrics, access log and problem-details 404/405.
func setUpEngine(e *gin.Engine, cfg config.Config, log *slog.Logger, metrics *web.Metrics) error {
	e.ContextWithFallback = true
	e.HandleMethodNotAllowed = true
	// gin trusts every proxy unless told otherwise; an unset list means
	// none, so X-Forwarded-For cannot spoof client IPs (and rate limits).
	if err := e.SetTrustedProxies(cfg.HTTP.TrustedProxies); err != nil {
		return fmt.Errorf("http.trusted_proxies: %w", err)
	}
	e.Use(web.Recovery(log), web.RequestIDs(), web.SecureHeaders(strings.HasPrefix(cfg.Issuer, "https://")),
		metrics.Middleware(), web.AccessLog(log))
	e.NoRoute(func(c *gin.Context) { web.AbortProblem(c, http.StatusNotFound, "") })
	e.NoMethod(func(c *gin.Context) { web.AbortProblem(c, http.StatusMethodNotAllowed, "") })
	return nil
}

// serve answers on ln until ctx is cancelled, then drains: it stops
// accepting, lets in-flight requests finish within the shutdown timeout and
// returns. The caller closes the store afterwards.
func (s *server) serve(ctx context.Context, ln, adminLn net.Listener) error {
	if (adminLn == nil) != (s.adminEngine == nil) {
		return errors.New("serve: an admin listener is needed exactly when http.admin_addr is set")
	}
	servers := []*http.Server{s.httpServer(s.engine)}
	listeners := []net.Listener{ln}
	if adminLn != nil {
		servers = append(servers, s.httpServer(s.adminEngine))
		listeners = append(listeners, adminLn)
	}
	background, stopBackground := context.WithCancel(ctx)
	defer stopBackground()
	go s.ready.Run(background, time.Second)
	go s.keys.Run(background)
	go sweep(background, s.log, "oauth sessions", time.Minute, s.provider.Sweep)
	go s.provider.FollowRevocations(background)
	go s.mail.Run(background)
	go s.events.Run(background)
	go sweep(background, s.log, "audit log", time.Hour, func(ctx context.Context) (int64, error) {
		return s.auditLog.DeleteAuditEntriesBefore(ctx, time.Now().Add(-s.auditRetention))
	})
	go sweep(background, s.log, "rate limits", time.Minute, s.limiter.Sweep)
	go sweep(background, s.log, "one-time tokens", time.Minute, s.signin.SweepTokens)
	go sweep(background, s.log, "mfa ceremonies", time.Minute, s.mfa.Sweep)
	go sweep(background, s.log, "saml metadata", time.Minute, s.saml.RefreshMetadata)
	go sweep(background, s.log, "browser sessions", time.Minute, s.sessions.Sweep)

	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { errc <- srv.Serve(listeners[i]) }()
	}
	var failed error
	select {
	case err := <-errc:
		failed = fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}

	s.log.Info("shutting down: draining in-flight requests", "timeout", s.shutdownTimeout)
	s.ready.Drain()
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.shutdownTimeout)
	defer cancel()
	var errs []error
	for _, srv := range servers {
		if err := srv.Shutdown(shutdownCtx); err != nil {
			srv.Close()
			errs = append(errs, fmt.Errorf("shutdown: requests still running after %s: %w", s.shutdownTimeout, err))
		}
	}
	if failed != nil {
		return errors.Join(append([]error{failed}, errs...)...)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for range servers {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: %w", err)
		}
	}
	s.log.Info("stopped")
	return nil
}

// httpServer serves h with timeouts that bound what a slow client holds.
func (s *server) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// newLogger builds the process logger: JSON in production, text in dev, with
// request IDs added from the context.
func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.Level)) // config.Validate accepted it
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if cfg.Format == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(web.ContextHandler(h))
}

// deriveKey makes a purpose-bound 32-byte key from the encryption key
// (HKDF-SHA256), so one operator secret serves several uses without reuse.
func deriveKey(key []byte, purpose string) []byte {
	k, err := hkdf.Key(sha256.New, key, nil, purpose, 32)
	if err != nil {
		panic(fmt.Sprintf("hkdf: %v", err)) // only for absurd lengths
	}
	return k
}

// oneTimeTokenKey keys the hashes of emailed links' tokens: the server
// checks with it what the server and the CLI issue with it.
func oneTimeTokenKey(key []byte) []byte { return deriveKey(key, "foyer one-time token hmac v1") }

// mailSender sends through SMTP when smtp.url is set; otherwise every
// message goes to the log (and, with --dev, to /dev/mailbox).
func mailSender(cfg config.Config, log *slog.Logger) (mail.Sender, *mail.DevSender, error) {
	if cfg.SMTP.URL == "" {
		dev := mail.NewDevSender(log)
		return dev, dev, nil
	}
	s, err := mail.NewSMTPSender(mail.SMTPOptions{URL: cfg.SMTP.URL, From: cfg.SMTP.From})
	if err != nil {
		return nil, nil, fmt.Errorf("smtp.url: %w", err)
	}
	return s, nil, nil
}

// sweep runs clean every interval until ctx is done, logging failures.
func sweep(ctx context.Context, log *slog.Logger, what string, interval time.Duration, clean func(context.Context) (int64, error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := clean(ctx); err != nil && ctx.Err() == nil {
				log.Warn("sweep "+what, "err", err)
			}
		}
	}
}
