// Package mail sends Foyer's email through a transactional outbox, so that
// a request never waits on SMTP and nothing is lost while SMTP is down
// (SECURITY.md F6, LG-07).
//
// A feature renders a message (templates/render's Emails) and calls
// Mailer.Send, which only stores it in the outbox (storage.Outbox). Called
// with a context that carries a transaction (storage.Transactions.BeginTx),
// the message commits or rolls back with the token it carries: a failed
// request sends nothing, and a committed one always sends.
//
// A Worker in every Foyer instance polls the outbox (every second, and at
// once when a Send on the same instance wakes it), claims due messages with
// a lease so that two instances never send the same message in the normal
// case, and hands them to a Sender. A message moves:
//
//	pending ──sent──────────────────────────────▶ sent
//	   │ ▲  send failed: retry after a backoff of 1s doubling to 10 min,
//	   └─┘  with jitter, as long as SMTP keeps failing
//	pending ──NotAfter passed (a dead magic link)─▶ dropped
//	pending ──MaxAge (3 days) passed, or the
//	          server refused it for good ──────────▶ failed (logged at Error)
//
// Finished messages lose their bodies at once (they hold links that may
// still work) and are deleted after a week. Outcomes are counted in
// foyer_mail_messages_total{outcome="sent|retried|dropped|failed"} when
// the Worker is given a Prometheus registerer.
//
// Every link in a message must be built by the caller from the configured
// issuer, never from the request's Host or X-Forwarded-Host headers
// (SECURITY.md LG-09): a forged host would mail a victim a link to the
// attacker's site with a live token in it.
//
// Senders: SMTPSender (smtp.url: smtp:// with STARTTLS when the server
// offers it, smtps:// for implicit TLS) and, in --dev, DevSender, which
// logs every message at Info, text body and so its link included, and keeps
// the last 50 for the dev mailbox: DevSender.Handler serves that list as an
// HTML page, newest first. Mount it at GET /dev/mailbox with --dev only,
// never otherwise: the page shows live sign-in links to whoever opens it.
package mail
